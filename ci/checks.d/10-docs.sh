#!/usr/bin/env bash
# ci/checks.d/10-readme.sh - the README stays honest: every setting the binary
# knows (flag, environment variable, config key), every subcommand and every
# exit code it prints must be documented in README.md.
set -euo pipefail
SG_PROG=ci/checks.d/10-readme.sh
# shellcheck source=ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$SG_REPO_ROOT"

bin=${SCHEMAGATE_BIN:-build/schemagate}
[[ -x $bin ]] || sg_die "$bin not built; run ci/test.sh (or set SCHEMAGATE_BIN)"

missing=0
need() {
    if ! grep -qF -- "$1" README.md; then
        sg_log "README.md does not mention $2 '$1'"
        missing=$((missing + 1))
    fi
}

# Settings: columns FLAG ENV KEY of every command's --help (each lists the
# settings that command reads; together they cover the whole table).
commands=$("$bin" --help | awk '/^commands:/ {f=1; next} f && /^  [a-z]/ {print $1} /^$/ && f {f=0}')
[[ -n $commands ]] || sg_die "$bin --help lists no commands"
while read -r flag env key _; do
    [[ $flag == "-h," ]] && continue # -h, --help
    [[ $flag != "-" ]] && need "\`$flag\`" "flag"
    [[ $env != "-" ]] && need "\`$env\`" "environment variable"
    [[ $key != "-" ]] && need "\`$key\`" "config key"
done < <(for cmd in $commands; do "$bin" "$cmd" --help | awk 'f; /^FLAG/ {f=1}'; done | sort -u)

# Subcommands listed by --help.
while read -r cmd _; do
    need "schemagate $cmd" "subcommand"
done < <("$bin" --help | awk '/^commands:/ {f=1; next} f && /^  [a-z]/ {print $1} /^$/ && f {f=0}')

# Exit codes printed by --help.
for code in $("$bin" --help | grep -o '[0-9] [a-z]' | cut -c1 | sort -u); do
    need "| $code |" "exit code"
done

((missing == 0)) || sg_die "$missing item(s) missing from README.md"
sg_log "README.md documents every setting, subcommand and exit code"
