#!/usr/bin/env bash
# ci/checks.d/15-modules.sh - the modules under src/ keep to their layers: the
# module map of docs/development.md puts every module in one layer, and a
# module may include only modules of its own layer or of a lower-numbered one;
# layers that share a number (migrate and sidecar) are siblings and include
# neither each other. Also: no cycle of #include "x.h" between modules.
#
# A module is a src/NAME.c/.h pair; "a includes b" means a.c or a.h includes
# b.h. The map is the code block under "## Module map": a line
# " layer N NAME: ..." starts a layer, and every NAME.c word after it, up to
# the next layer, is a module of that layer. tsort names the modules of a
# cycle when there is one.
set -euo pipefail
SG_PROG=ci/checks.d/15-modules.sh
# shellcheck source=ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$SG_REPO_ROOT"

fail=0
complain() {
    sg_log "$*"
    fail=1
}

doc=docs/development.md
# The src/ part of the module map: from the "src/" line to the next line that
# starts at the left margin.
map=$(awk '/^## Module map/ {d = 1; next} d && /^## / {exit} d' "$doc" |
    awk '/^src\// {s = 1; next} s && /^[^ ]/ {exit} s')
[[ -n $map ]] || sg_die "$doc has no src/ map under ## Module map"

declare -A num name
layer_num="" layer_name="" nlayers=0
while read -r line; do
    if [[ $line =~ ^layer\ ([0-9]+)\ ([a-z]+): ]]; then
        layer_num=${BASH_REMATCH[1]}
        layer_name=${BASH_REMATCH[2]}
        nlayers=$((nlayers + 1))
        continue
    fi
    for word in $line; do
        [[ $word =~ ^([a-z0-9_]+)\.c$ ]] || continue
        mod=${BASH_REMATCH[1]}
        if [[ -z $layer_num ]]; then
            complain "$doc's map lists src/$mod.c before any layer"
        elif [[ -n ${num[$mod]:-} ]]; then
            complain "$doc's map lists src/$mod.c twice (layers ${name[$mod]} and $layer_name)"
        else
            num[$mod]=$layer_num
            name[$mod]=$layer_name
        fi
    done
done <<<"$map"
((nlayers > 0)) || sg_die "$doc's src/ map names no layer (\" layer N NAME: ...\")"

for mod in "${!num[@]}"; do
    [[ -f src/$mod.c ]] || complain "$doc's map lists src/$mod.c, which does not exist"
done

edges=$(mktemp "${TMPDIR:-/tmp}/sg-modules.XXXXXX")
trap 'rm -f "$edges"' EXIT
declare -A seen
for f in src/*.c src/*.h; do
    mod=$(basename "${f%.*}")
    # Each module is a node even when it includes nothing of ours.
    printf '%s %s\n' "$mod" "$mod" >>"$edges"
    if [[ -z ${num[$mod]:-} ]]; then
        [[ -n ${seen[$mod]:-} ]] || complain "$doc's module map does not list src/$mod.c (put it in a layer)"
        seen[$mod]=1
        continue
    fi
    while read -r dep; do
        [[ -n $dep && $dep != "$mod" ]] || continue
        printf '%s %s\n' "$dep" "$mod" >>"$edges"
        [[ -n ${num[$dep]:-} ]] || continue # reported above as not on the map
        if ((num[$dep] > num[$mod])) ||
            { ((num[$dep] == num[$mod])) && [[ ${name[$dep]} != "${name[$mod]}" ]]; }; then
            complain "$f includes $dep.h: layer ${num[$mod]} ${name[$mod]} may not include layer ${num[$dep]} ${name[$dep]}"
        fi
    done < <(sed -n 's/^#include "\([a-z0-9_]*\)\.h".*/\1/p' "$f")
done

if ! out=$(tsort "$edges" 2>&1 >/dev/null) || [[ -n $out ]]; then
    sg_log "include cycle between modules:"
    printf '%s\n' "$out" >&2
    fail=1
fi

((fail == 0)) || exit 1
sg_log "${#num[@]} modules in $nlayers layers, each including only its own and lower layers, no cycle"
