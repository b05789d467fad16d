#!/usr/bin/env bash
# ci/checks.d/20-runtime-deps.sh - the runtime image holds exactly what the built binary loads, and the binary runs in it.
#
# Fast and without a container runtime (ci/checks.d/70-podman.sh builds the
# real image). Checks:
#   - the Dockerfile's runtime stage is `FROM scratch AS runtime`, gets its
#     files only by `COPY --from=builder /rootfs/ /`, which the builder fills
#     with ci/runtime-rootfs.sh; runs as USER 65532:65532; keeps an exec-form
#     HEALTHCHECK on `schemagate probe`; and ends with the exec-form
#     RUN ["/usr/local/bin/schemagate", "--version"] (no other RUN: no shell);
#   - ci/runtime-rootfs.sh on the binary CI built gives exactly: the binary,
#     every file `ldd` resolves (the loader included), the CA bundle, passwd
#     and group; and the binary runs from that tree in a chroot as 65532.
# Each check is also run on a broken input that must fail: a library removed
# from the tree, a shell-form RUN, a Debian-based runtime stage.
set -euo pipefail
SG_PROG=ci/checks.d/20-runtime-deps.sh
# shellcheck source=ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$SG_REPO_ROOT"

for tool in ldd chroot awk; do
    command -v "$tool" >/dev/null || sg_die "$tool not found (libc-bin, coreutils, gawk/mawk)"
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

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sg-rtdeps.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# Prints the instructions of the `AS runtime` stage of Dockerfile $1, one per
# line, continuation lines joined, comments dropped.
runtime_stage() {
    awk '
        /^[[:space:]]*#/ && cont == "" { next }
        {
            line = cont $0
            if (sub(/\\[[:space:]]*$/, "", line)) { cont = line " "; next }
            cont = ""
            if (line ~ /^[[:space:]]*$/) next
            if (toupper(line) ~ /^[[:space:]]*FROM[[:space:]]/) in_rt = (tolower(line) ~ /[[:space:]]as[[:space:]]+runtime[[:space:]]*$/)
            if (in_rt) { gsub(/[[:space:]]+/, " ", line); sub(/^ /, "", line); print line }
        }
    ' "$1"
}

# check_dockerfile FILE: 0 when the runtime stage has the layout described above.
check_dockerfile() {
    local file=$1 bad=0 stage runs last
    stage=$(runtime_stage "$file")
    if [[ -z $stage ]]; then
        sg_log "$file: no 'AS runtime' stage"
        return 1
    fi
    if ! grep -qix 'FROM scratch AS runtime' <<<"$stage"; then
        sg_log "$file: the runtime stage is not 'FROM scratch AS runtime': $(head -n 1 <<<"$stage")"
        bad=1
    fi
    if [[ $(grep -ci '^\(COPY\|ADD\) ' <<<"$stage") != 1 ]] || ! grep -qx 'COPY --from=builder /rootfs/ /' <<<"$stage"; then
        sg_log "$file: the runtime stage must get its files by exactly one 'COPY --from=builder /rootfs/ /'"
        bad=1
    fi
    if ! grep -q 'bash ci/runtime-rootfs.sh [^ ]* /rootfs' "$file"; then
        sg_log "$file: the builder does not fill /rootfs with ci/runtime-rootfs.sh"
        bad=1
    fi
    if ! grep -qx 'USER 65532:65532' <<<"$stage"; then
        sg_log "$file: the runtime stage does not run as USER 65532:65532"
        bad=1
    fi
    if ! grep -q '^HEALTHCHECK .*CMD \["/usr/local/bin/schemagate", "probe",' <<<"$stage"; then
        sg_log "$file: no exec-form HEALTHCHECK CMD [\"/usr/local/bin/schemagate\", \"probe\", ...]"
        bad=1
    fi
    runs=$(grep -c '^RUN ' <<<"$stage" || true)
    last=$(tail -n 1 <<<"$stage")
    if [[ $runs != 1 || $last != 'RUN ["/usr/local/bin/schemagate", "--version"]' ]]; then
        sg_log "$file: the runtime stage's only RUN, and its last step, must be RUN [\"/usr/local/bin/schemagate\", \"--version\"] (last: $last)"
        bad=1
    fi
    return "$bad"
}

check_dockerfile Dockerfile || sg_die "Dockerfile: runtime stage layout (see above)"
sg_log "ok: Dockerfile runtime stage: scratch + /rootfs, USER 65532:65532, HEALTHCHECK probe, RUN --version last"

# What the tree must hold: the binary, ldd's files, CA roots, passwd, group.
expected=$tmp/expected
{
    printf '%s\n' /usr/local/bin/schemagate /etc/ssl/certs/ca-certificates.crt /etc/passwd /etc/group
    ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'
} | sort -u >"$expected"

root=$tmp/rootfs
bash ci/runtime-rootfs.sh "$bin" "$root"
(cd "$root" && find . -type f -o -type l) | sed 's|^\.||' | sort >"$tmp/actual"
if ! diff -u "$expected" "$tmp/actual" >"$tmp/diff"; then
    cat "$tmp/diff" >&2
    sg_die "ci/runtime-rootfs.sh: the tree differs from the binary's ldd closure (- missing, + extra)"
fi
[[ -d $root/migrations ]] || sg_die "ci/runtime-rootfs.sh: no /migrations folder"
grep -qx 'nonroot:x:65532:65532:[^:]*:[^:]*:[^:]*' "$root/etc/passwd" || sg_die "ci/runtime-rootfs.sh: no passwd entry for 65532"
grep -qx 'nonroot:x:65532:' "$root/etc/group" || sg_die "ci/runtime-rootfs.sh: no group entry for 65532"
sg_log "ok: runtime tree = binary + $(($(wc -l <"$expected") - 4)) files of its ldd closure + CA roots + passwd/group ($(du -sh "$root" | cut -f1))"

# runs_in ROOT: the binary starts in ROOT (a chroot: no library of the host
# can stand in) as the image's user.
runs_in() {
    sg_as_root chroot --userspec=65532:65532 "$1" /usr/local/bin/schemagate --version
}
out=$(runs_in "$root" 2>&1) || sg_die "the binary does not run from its runtime tree: $out"
sg_log "ok: chroot as 65532: $out"

# The checks must be able to fail.
lib=$(ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// { p = $3 } END { print p }')
rm -f "$root$lib"
if runs_in "$root" >/dev/null 2>&1; then
    sg_die "self-test: the binary ran without $lib"
fi
sg_log "ok: self-test: without $lib the binary does not start"
sed 's|^RUN \["/usr/local/bin/schemagate", "--version"\]$|RUN /usr/local/bin/schemagate --version|' Dockerfile >"$tmp/shell.Dockerfile"
sed 's|^FROM scratch AS runtime$|FROM debian:bookworm-slim AS runtime|' Dockerfile >"$tmp/debian.Dockerfile"
for broken in shell debian; do
    if cmp -s Dockerfile "$tmp/$broken.Dockerfile"; then
        sg_die "self-test: could not make the $broken variant of the Dockerfile"
    fi
    if check_dockerfile "$tmp/$broken.Dockerfile" >/dev/null 2>&1; then
        sg_die "self-test: the $broken variant of the Dockerfile passed"
    fi
done
sg_log "ok: self-test: shell-form RUN and a Debian-based runtime stage are rejected"
