#!/usr/bin/env bash
# ci/docs.sh - rewrites the generated blocks of README.md and docs/*.md from the built binary.
#
# Usage: bash ci/docs.sh           rewrite them (after `cmake --build build`), then commit
#        bash ci/docs.sh --check   only compare, and check the docs' layout and links
# The binary is $SCHEMAGATE_BIN, else build/schemagate. A block is the output
# of one `schemagate help TOPIC --markdown` between marker lines; see
# ci/docs.js for the markers and the layout rules.
set -euo pipefail
SG_PROG=ci/docs.sh
# shellcheck source=ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$SG_REPO_ROOT"

bin=${SCHEMAGATE_BIN:-build/schemagate}
[[ -x $bin ]] || sg_die "$bin not built (cmake --build build, or set SCHEMAGATE_BIN)"
command -v node >/dev/null || sg_die "node not found (Node.js comes with the machine)"
case ${1:-} in
'') exec node ci/docs.js write "$bin" ;;
--check) exec node ci/docs.js check "$bin" ;;
*) sg_die "usage: ci/docs.sh [--check]" ;;
esac
