#!/usr/bin/env bash
# ci/checks.d/15-modules.sh - the modules under src/ read top-down: no cycle
# of #include "x.h" between them, and every module is on the module map of
# docs/development.md.
#
# A module is a src/NAME.c/.h pair; "a includes b" means a.c or a.h includes
# b.h. tsort names the modules of a cycle when there is one.
set -euo pipefail
SG_PROG=ci/checks.d/15-modules.sh
# shellcheck source=ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$SG_REPO_ROOT"

edges=$(mktemp "${TMPDIR:-/tmp}/sg-modules.XXXXXX")
trap 'rm -f "$edges"' EXIT
for f in src/*.c src/*.h; do
    mod=$(basename "${f%.*}")
    # Each module is a node even when it includes nothing of ours.
    printf '%s %s\n' "$mod" "$mod" >>"$edges"
    sed -n 's/^#include "\([a-z0-9_]*\)\.h".*/\1/p' "$f" | while read -r dep; do
        [[ $dep == "$mod" ]] || printf '%s %s\n' "$dep" "$mod" >>"$edges"
    done
done

fail=0
if ! out=$(tsort "$edges" 2>&1 >/dev/null) || [[ -n $out ]]; then
    sg_log "include cycle between modules:"
    printf '%s\n' "$out" >&2
    fail=1
fi

# The development map lists each module by its file name.
map=$(sed -n '/^## Module map/,/^## /p' docs/development.md)
for f in src/*.c; do
    name=$(basename "$f")
    if ! grep -qw -- "$name" <<<"$map"; then
        sg_log "docs/development.md's module map does not list src/$name"
        fail=1
    fi
done
((fail == 0)) || exit 1
sg_log "$(ls src/*.c | wc -l) modules, no include cycle, all on the development map"
