#!/usr/bin/env bash
# ci/checks.d/10-docs.sh - the docs stay honest and findable.
#
# - Every generated block of README.md and docs/*.md is exactly what the
#   binary prints (`schemagate help TOPIC --markdown`), every help topic has a
#   block, README.md has at most 200 lines and links every docs/ page, and
#   every relative link and #anchor of the docs and the charts' READMEs
#   resolves (ci/docs.js; `bash ci/docs.sh` rewrites the blocks).
# - Independently of the generator, from each command's --help: every flag,
#   environment variable and config key is in docs/configuration.md, every
#   subcommand in README.md, every exit code in docs/operations.md.
# - The check itself fails on broken copies of the docs: a changed generated
#   row, a dead anchor, an unlinked page, a README over the limit.
set -euo pipefail
SG_PROG=ci/checks.d/10-docs.sh
# shellcheck source=ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$SG_REPO_ROOT"

bin=${SCHEMAGATE_BIN:-build/schemagate}
[[ -x $bin ]] || sg_die "$bin not built; run ci/test.sh (or set SCHEMAGATE_BIN)"
bin=$(realpath "$bin")

missing=0
need() { # need FILE TEXT WHAT
    if ! grep -qF -- "$2" "$1"; then
        sg_log "$1 does not mention $3 '$2'"
        missing=$((missing + 1))
    fi
}

# Settings: columns FLAG ENV KEY of every command's --help (each lists the
# settings that command reads; together they cover the whole table).
commands=$("$bin" --help | awk '/^commands:/ {f=1; next} f && /^  [a-z]/ {print $1} /^$/ && f {f=0}')
[[ -n $commands ]] || sg_die "$bin --help lists no commands"
while read -r flag env key _; do
    [[ $flag == "-h," ]] && continue # -h, --help
    [[ $flag != "-" ]] && need docs/configuration.md "\`$flag\`" "flag"
    [[ $env != "-" ]] && need docs/configuration.md "\`$env\`" "environment variable"
    [[ $key != "-" ]] && need docs/configuration.md "\`$key\`" "config key"
done < <(for cmd in $commands; do "$bin" "$cmd" --help | awk 'f; /^FLAG/ {f=1}'; done | sort -u)

# Subcommands listed by --help, in the README's command list.
for cmd in $commands; do
    need README.md "\`schemagate $cmd" "subcommand"
done

# Exit codes listed by --help ("exit codes: 0 ok, 1 failed, ...").
codes=$("$bin" --help | sed -n 's/^exit codes://p' | grep -o '[0-9][0-9]* [a-z]' | cut -d' ' -f1)
[[ -n $codes ]] || sg_die "$bin --help lists no exit codes"
for code in $codes; do
    need docs/operations.md "| $code |" "exit code"
done
((missing == 0)) || sg_die "$missing item(s) missing from the docs"

# Generated blocks, layout and links.
if ! node ci/docs.js check "$bin"; then
    sg_die "the docs are out of date or broken (see above; bash ci/docs.sh regenerates the blocks)"
fi

# The same check on broken copies must fail, each for its own reason. The
# copies are hard links of one copy of the checkout: each case changes files
# only through `sed -i` or new files, which never write through a link.
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sg-docs.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/base"
# Tracked and new files of the checkout, as they are on disk (not build trees).
git ls-files -co --exclude-standard -z \
    | while IFS= read -r -d '' f; do [[ -f $f ]] && printf '%s\0' "$f"; done \
    | xargs -0 cp --parents -t "$tmp/base"
broken() { # broken NAME EXPECTED_MESSAGE COMMAND...: break a copy, expect the check to fail
    local name=$1 want=$2 out
    shift 2
    rm -rf "$tmp/case"
    cp -al "$tmp/base" "$tmp/case"
    (cd "$tmp/case" && "$@")
    if out=$(node "$tmp/case/ci/docs.js" check "$bin" 2>&1); then
        sg_die "the check passed a copy with $name"
    fi
    grep -qF -- "$want" <<<"$out" || sg_die "with $name the check said: $out"
}
broken "a changed generated row" "docs/configuration.md:" \
    sed -i 's/| `--dir` | `MIGRATIONS_DIR` |/| `--dir` | `MIGRATIONS_DIRECTORY` |/' docs/configuration.md
broken "a dead anchor" "no heading #no-such-heading" \
    sed -i '$a See [nothing](operations.md#no-such-heading).' docs/security.md
broken "a page the README does not link" "README.md does not link docs/zz-unlinked.md" \
    sh -c 'echo "# Unlinked" >docs/zz-unlinked.md'
broken "a README over the limit" "README.md has" \
    sed -i 's/$/\n/' README.md
broken "a missing generated block" "no generated block prints" \
    sed -i '/^<!-- generated: schemagate help metrics/,/^<!-- end generated -->/d' docs/operations.md
sg_log "docs match the binary: every setting, command and exit code; layout and links hold"
