#!/usr/bin/env bash
# ci/checks.d/20-runtime-deps.sh - the Dockerfile's runtime packages are exactly those the built binary needs.
#
# No Docker engine runs here, so the image itself cannot be built. Instead:
# the packages that own the libraries the binary links directly (readelf's
# NEEDED entries, resolved to files by ldd, owners from dpkg -S) must equal
# ARG RUNTIME_PACKAGES in the Dockerfile's `AS runtime` stage, leaving out
# what debian:bookworm-slim already has (Essential or Priority: required, such
# as libc6). Every library ldd lists, direct or not, must come from those
# packages or their Depends. The stage's apt-get line must install
# ${RUNTIME_PACKAGES}. The comparison is also run on two broken copies of the
# Dockerfile (a package dropped, one added), which must fail.
set -euo pipefail
SG_PROG=ci/checks.d/20-runtime-deps.sh
# shellcheck source=ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$SG_REPO_ROOT"

for tool in readelf ldd dpkg dpkg-query; do
    command -v "$tool" >/dev/null || sg_die "$tool not found (binutils, libc-bin, dpkg)"
done

bin=${SCHEMAGATE_BIN:-}
if [[ -z $bin ]]; then
    if [[ -x build/schemagate ]]; then
        bin=build/schemagate
    else
        sg_log "no build/schemagate: building .tmp/build-e2e"
        cmake -S . -B .tmp/build-e2e -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
        cmake --build .tmp/build-e2e -j2 --target schemagate >/dev/null
        bin=.tmp/build-e2e/schemagate
    fi
fi
[[ -x $bin ]] || sg_die "$bin is not an executable"

# Prints the value of `ARG NAME="..."` inside the runtime stage of Dockerfile $1.
runtime_arg() {
    local file=$1 name=$2
    awk -v name="$name" '
        /^[[:space:]]*FROM[[:space:]]/ { in_rt = (tolower($0) ~ /[[:space:]]as[[:space:]]+runtime[[:space:]]*$/) }
        in_rt && $1 == "ARG" && index($2, name "=") == 1 {
            v = substr($0, index($0, name "=") + length(name) + 1)
            gsub(/^"|"[[:space:]]*$/, "", v)
            print v
            found = 1
        }
        END { exit found ? 0 : 1 }
    ' "$file"
}

# True when the runtime stage's apt-get install line installs ${RUNTIME_PACKAGES}.
runtime_installs_arg() {
    awk '
        /^[[:space:]]*FROM[[:space:]]/ { in_rt = (tolower($0) ~ /[[:space:]]as[[:space:]]+runtime[[:space:]]*$/) }
        in_rt && /\$\{RUNTIME_PACKAGES\}/ { found = 1 }
        END { exit found ? 0 : 1 }
    ' "$1"
}

# The package owning file $1 (tries the path as given and its real path:
# with merged /usr, dpkg knows only one of /lib and /usr/lib).
owner() {
    local f=$1 p
    p=$(dpkg -S "$f" 2>/dev/null || dpkg -S "$(readlink -f "$f")" 2>/dev/null) || return 1
    p=${p%%:*}
    printf '%s\n' "${p%%,*}"
}

# Depends + Pre-Depends of every installed package, read once:
# "a (>= 1) | b, c:any" -> "a b c".
declare -A deps_of=()
essential=()
while IFS=$'\t' read -r pkg ess deps; do
    deps_of[$pkg]=$deps
    [[ $ess == yes ]] && essential+=("$pkg")
done < <(dpkg-query -W -f='${Package}\t${Essential}\t${Depends}, ${Pre-Depends}\n' \
    | sed 's/([^)]*)//g; s/:any//g; s/[,|]/ /g')

# Prints the Depends/Pre-Depends closure of the arguments (installed packages).
closure() {
    local -A seen=()
    local -a queue=("$@")
    local p d
    while ((${#queue[@]} > 0)); do
        p=${queue[-1]}
        unset 'queue[-1]'
        [[ -n ${seen[$p]:-} ]] && continue
        seen[$p]=1
        for d in ${deps_of[$p]:-}; do
            [[ -z ${seen[$d]:-} ]] && queue+=("$d")
        done
    done
    printf '%s\n' "${!seen[@]}"
}

# What debian:bookworm-slim has: the Essential packages and what they depend
# on (libc6 among them).
declare -A base=()
for p in $(closure "${essential[@]}"); do
    base[$p]=1
done
in_base_image() {
    [[ -n ${base[$1]:-} ]]
}

# What the binary needs, computed once.
declare -A lib_path=() lib_pkg=()
while read -r soname _ path _; do
    [[ $path == /* ]] && lib_path[$soname]=$path
done < <(ldd "$bin" | grep '=>')
for soname in "${!lib_path[@]}"; do
    lib_pkg[$soname]=$(owner "${lib_path[$soname]}") || sg_die "no package owns ${lib_path[$soname]} ($soname)"
done
needed_pkgs=()
for soname in $(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    [[ -n ${lib_path[$soname]:-} ]] || sg_die "ldd does not resolve $soname"
    pkg=${lib_pkg[$soname]}
    if in_base_image "$pkg"; then
        sg_log "$soname: $pkg (in the base image)"
    else
        sg_log "$soname: $pkg"
        needed_pkgs+=("$pkg")
    fi
done
mapfile -t needed_pkgs < <(printf '%s\n' "${needed_pkgs[@]}" | sort -u)

# compare DOCKERFILE: 0 when its runtime stage lists exactly needed_pkgs.
compare() {
    local file=$1 listed extra bad=0 p so pkg
    listed=$(runtime_arg "$file" RUNTIME_PACKAGES) || {
        sg_log "$file: no ARG RUNTIME_PACKAGES=\"...\" in the 'AS runtime' stage"
        return 1
    }
    runtime_installs_arg "$file" || {
        sg_log "$file: the runtime stage never installs \${RUNTIME_PACKAGES}"
        return 1
    }
    local -a have
    read -r -a have <<<"$listed"
    for p in "${needed_pkgs[@]}"; do
        if [[ " ${have[*]} " != *" $p "* ]]; then
            sg_log "$file: missing runtime package $p"
            bad=1
        fi
    done
    for p in "${have[@]}"; do
        if [[ " ${needed_pkgs[*]} " != *" $p "* ]]; then
            sg_log "$file: superfluous runtime package $p (owns no library the binary links)"
            bad=1
        fi
    done
    # Every library, direct or not, must arrive with the listed packages.
    local -A provided=()
    for p in $(closure "${have[@]}"); do
        provided[$p]=1
    done
    for so in "${!lib_path[@]}"; do
        pkg=${lib_pkg[$so]}
        if [[ -z ${provided[$pkg]:-} ]] && ! in_base_image "$pkg"; then
            sg_log "$file: $so ($pkg) is neither in the base image nor a dependency of the runtime packages"
            bad=1
        fi
    done
    extra=$(runtime_arg "$file" RUNTIME_EXTRA_PACKAGES) || extra=""
    for p in $extra; do
        dpkg-query -W "$p" >/dev/null 2>&1 || apt-cache show "$p" >/dev/null 2>&1 || {
            sg_log "$file: extra runtime package $p is unknown"
            bad=1
        }
    done
    return "$bad"
}

if ! compare Dockerfile; then
    sg_die "Dockerfile's runtime packages do not match $bin (needs: ${needed_pkgs[*]})"
fi
sg_log "ok: Dockerfile runtime packages = ${needed_pkgs[*]} (${#lib_path[@]} libraries via ldd covered)"

# The comparison must be able to fail.
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sg-rtdeps.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
drop=${needed_pkgs[0]}
sed "/^ARG RUNTIME_PACKAGES=/s/\\b$drop\\b//" Dockerfile >"$tmp/missing.Dockerfile"
sed '/^ARG RUNTIME_PACKAGES=/s/"$/ libsqlite3-0"/' Dockerfile >"$tmp/extra.Dockerfile"
for broken in missing extra; do
    if compare "$tmp/$broken.Dockerfile" >"$tmp/$broken.log" 2>&1; then
        sg_die "self-test: a Dockerfile with a $broken package passed the comparison"
    fi
    sg_log "ok: self-test: $broken package detected ($(grep -m1 -o "${broken}[a-z ]*package [^ ]*\|superfluous runtime package [^ ]*" "$tmp/$broken.log" || true))"
done
