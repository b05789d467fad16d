#!/usr/bin/env bash
# ci/checks.d/14-format.sh - every tracked C file is formatted as .clang-format says.
#
# Runs clang-format (Debian's clang-format package: ci/install-deps.sh installs
# it) in dry-run mode over the tracked *.c and *.h files and fails naming each
# file that differs. To fix: clang-format -i $(git ls-files '*.c' '*.h').
set -euo pipefail
SG_PROG=ci/checks.d/14-format.sh
# shellcheck source=ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$SG_REPO_ROOT"

command -v clang-format >/dev/null || sg_die "clang-format not found; run ci/install-deps.sh"
mapfile -t files < <(git ls-files '*.c' '*.h')
((${#files[@]} > 0)) || sg_die "no C files found (is this a git checkout?)"
# One clang-format for all files: a process per file cost 50 s of CPU in CI,
# almost all of it start-up. --dry-run -Werror reports "FILE:LINE:COL: error:"
# for every place a file differs and goes on to the next file.
report=$(clang-format --dry-run -Werror "${files[@]}" 2>&1) && rc=0 || rc=$?
mapfile -t bad < <(printf '%s\n' "$report" | sed -n 's/^\([^:]*\):[0-9]*:[0-9]*: error: .*/\1/p' | sort -u)
if ((rc != 0 && ${#bad[@]} == 0)); then
    printf '%s\n' "$report" | head -n 20 >&2
    sg_die "clang-format exited $rc without naming a file (see above)"
fi
if ((${#bad[@]} > 0)); then
    sg_log "not formatted as .clang-format says ($(clang-format --version | head -n 1)):"
    printf '  %s\n' "${bad[@]}" >&2
    sg_die "${#bad[@]} file(s) differ; run: clang-format -i \$(git ls-files '*.c' '*.h')"
fi
sg_log "${#files[@]} C files formatted as .clang-format says"
