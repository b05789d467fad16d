#!/usr/bin/env bash
# bench/plan-corpus.sh - schemagate plan against squawk on the plan corpus, statement by statement.
#
# Usage: bench/plan-corpus.sh OUTDIR   (bench/run.sh runs it as its "plan" scenario)
#
# Needs, as bench/run.sh exports them: SG (the schemagate binary), BENCH_PSQL, and PGHOST,
# PGPORT, PGUSER, PGPASSWORD of a PostgreSQL 15 server. Installs squawk-cli (pinned, from
# npm; the package ships a native binary, which runs offline) under bench/.work/npm-squawk,
# creates the database bench_plan_corpus, and in the same run:
#   - runs `schemagate plan --since 1 --json` over tests/data/plan-corpus (the setup file is
#     replayed, every case measured; no DATABASE_URL, so every table counts as larger than the
#     limit);
#   - runs `squawk --pg-version 15 --reporter json` over the same case files;
#   - compares both tools' verdicts with the truth written in each case (checked against
#     PostgreSQL by tests/integration/test_dryrun.c): a false positive flags a statement whose
#     truth is ok, a false negative lets a refused one through.
# squawk's verdict on a statement is "flagged" when one of its rules about blocking locks,
# rewrites, scans or breaking changes fires (SQUAWK_RULES below); its style rules (timeouts,
# IF NOT EXISTS, bigint, text, identity, enum order) say nothing about what the statement does
# and are left out, or every statement would be flagged.
# Writes OUTDIR/plan-corpus.md (the per-statement table and the counts) and
# OUTDIR/plan-corpus.txt ("TOOL fp fn wrong ms" lines), and prints the counts.
set -euo pipefail
SG_PROG=bench/plan-corpus.sh
# shellcheck source=ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../ci/lib.sh"
cd "$SG_REPO_ROOT"

[[ $# -eq 1 ]] || sg_die "usage: bench/plan-corpus.sh OUTDIR"
out=$1
mkdir -p "$out"
: "${SG:?SG must name the schemagate binary}"
psql=${BENCH_PSQL:-/usr/lib/postgresql/15/bin/psql}
corpus=tests/data/plan-corpus

SQUAWK_VERSION=2.66.0
SQUAWK_RULES=adding-field-with-default,adding-foreign-key-constraint,adding-not-nullable-field,adding-required-field,adding-serial-primary-key-field,ban-alter-domain-with-add-constraint,ban-create-domain-with-constraint,ban-drop-column,ban-drop-database,ban-drop-not-null,ban-drop-table,ban-truncate-cascade,changing-column-type,constraint-missing-not-valid,disallowed-unique-constraint,renaming-column,renaming-table,require-concurrent-index-creation,require-concurrent-index-deletion,require-concurrent-reindex

npm_dir=$SG_REPO_ROOT/bench/.work/npm-squawk
squawk=$npm_dir/node_modules/@squawk-cli/linux-x64/bin/squawk
if [[ ! -x $squawk ]] || [[ $("$squawk" --version) != "squawk $SQUAWK_VERSION" ]]; then
    command -v npm >/dev/null || bash ci/install-deps.sh npm >&2
    sg_log "installing squawk-cli $SQUAWK_VERSION from npm"
    npm install --prefix "$npm_dir" --no-audit --no-fund --loglevel=error \
        "squawk-cli@$SQUAWK_VERSION" >&2
fi
[[ -x $squawk ]] || sg_die "squawk binary not found at $squawk after npm install"

export PGOPTIONS='-c client_min_messages=warning'
"$psql" -X -q -v ON_ERROR_STOP=1 -d postgres -c 'DROP DATABASE IF EXISTS bench_plan_corpus WITH (FORCE)' \
    -c 'CREATE DATABASE bench_plan_corpus' >/dev/null
dev="host=$PGHOST port=$PGPORT user=$PGUSER dbname=bench_plan_corpus sslmode=disable"

sg_log "schemagate plan over $corpus"
rc=0
t0=$(date +%s%N)
env -u DATABASE_URL DATABASE_DEV_URL="$dev" SCHEMAGATE_LOG_LEVEL=warn \
    "$SG" plan --dir "$corpus" --since 1 --json >"$out/plan-corpus.json" 2>"$out/plan-corpus.log" || rc=$?
t1=$(date +%s%N)
((rc == 0 || rc == 5)) || sg_die "schemagate plan exited $rc (log: $out/plan-corpus.log)"

sg_log "squawk $SQUAWK_VERSION over $corpus"
cases=$(ls "$corpus"/*.up.sql | sed 1d) # every file but the setup
rc=0
t2=$(date +%s%N)
# shellcheck disable=SC2086 # one argument per case file
"$squawk" --pg-version 15 --reporter json $cases >"$out/squawk-corpus.json" || rc=$?
t3=$(date +%s%N)
((rc == 0 || rc == 1)) || sg_die "squawk exited $rc"

node - "$corpus" "$out/plan-corpus.json" "$out/squawk-corpus.json" "$SQUAWK_RULES" \
    "$(((t1 - t0) / 1000000))" "$(((t3 - t2) / 1000000))" "$SQUAWK_VERSION" \
    "$out/plan-corpus.md" "$out/plan-corpus.txt" <<'EOF'
const fs = require('fs');
const [corpus, planFile, squawkFile, rulesCsv, planMs, squawkMs, squawkVersion, mdFile, txtFile] =
    process.argv.slice(2);
const rules = new Set(rulesCsv.split(','));
const plan = JSON.parse(fs.readFileSync(planFile, 'utf8'));
const squawk = JSON.parse(fs.readFileSync(squawkFile, 'utf8') || '[]');
const files = fs.readdirSync(corpus).filter(f => f.endsWith('.up.sql')).sort().slice(1);
const byFile = {};
for (const v of squawk) {
    const f = v.file.split('/').pop();
    (byFile[f] = byFile[f] || []).push(v.rule_name);
}
const count = {plan: {fp: 0, fn: 0}, squawk: {fp: 0, fn: 0}};
const rows = [];
for (const f of files) {
    const text = fs.readFileSync(`${corpus}/${f}`, 'utf8');
    const m = text.match(/^-- expect: breaking=(yes|no) verdict=(refused|ok)$/m);
    if (!m) throw new Error(`${f}: no verdict line`);
    const truth = m[2] === 'refused';
    const facts = [...text.matchAll(/^-- expect (\S+): lock=(\S+) rewrite=(\S+) scan=(\S+)$/mg)]
        .map(e => `${e[1]} ${e[2].replace(/_/g, ' ')}${e[3] === 'yes' ? ', rewrite' : ''}${e[4] === 'yes' ? ', scan' : ''}`);
    if (m[1] === 'yes') facts.push('breaking');
    const sql = text.split('\n').filter(l => l.trim() !== '' && !l.startsWith('--')).join(' ');
    const st = plan.statements.find(s => s.file === f);
    if (!st) throw new Error(`plan printed nothing for ${f}`);
    const planSays = st.findings.some(x => x.refused);
    const fired = [...new Set(byFile[f] || [])].filter(r => rules.has(r)).sort();
    const squawkSays = fired.length > 0;
    const mark = (says, tool) => {
        if (says && !truth) { count[tool].fp++; return 'refused **(FP)**'; }
        if (!says && truth) { count[tool].fn++; return 'ok **(FN)**'; }
        return says ? 'refused' : 'ok';
    };
    const esc = s => s.replace(/\|/g, '\\|').replace(/`/g, "'");
    rows.push(`| ${f.slice(0, 6)} | \`${esc(sql.length > 70 ? sql.slice(0, 67) + '...' : sql)}\` | ` +
              `${facts.join('; ') || '-'} → ${truth ? 'refused' : 'ok'} | ${mark(planSays, 'plan')} | ` +
              `${mark(squawkSays, 'squawk')}${fired.length ? ' (' + fired.join(', ') + ')' : ''} |`);
}
const n = files.length;
const line = t => `${t}: ${count[t].fp} false positives, ${count[t].fn} false negatives, ` +
    `${count[t].fp + count[t].fn} wrong of ${n}`;
const md = [
    `## plan against squawk on the plan corpus (${n} statements)`,
    '',
    `Produced by \`bench/plan-corpus.sh\` in the same run: \`schemagate plan --since 1\` on a dev ` +
    `database (${planMs} ms, the setup replay included) and squawk ${squawkVersion} ` +
    `(\`--pg-version 15\`, ${squawkMs} ms) over \`tests/data/plan-corpus\`. The truth is ` +
    `PostgreSQL 15's (lock, rewrite, scan, breaking; checked by \`tests/integration/test_dryrun.c\`) ` +
    `and the verdict the documented policy draws from it without production sizes. squawk counts ` +
    `as refusing when one of its rules about locks, rewrites, scans or breaking changes fires ` +
    `(${[...rules].join(', ')}); its style rules (timeouts, IF NOT EXISTS, bigint, text, identity) ` +
    `fire on nearly every statement and are left out.`,
    '',
    `- ${line('plan')}`,
    `- ${line('squawk')}`,
    '',
    '| case | statement | PostgreSQL 15 → verdict | plan | squawk |',
    '|---|---|---|---|---|',
    ...rows,
    '',
].join('\n');
fs.writeFileSync(mdFile, md);
fs.writeFileSync(txtFile, ['plan', 'squawk'].map(t =>
    `${t} ${count[t].fp} ${count[t].fn} ${count[t].fp + count[t].fn} ${t === 'plan' ? planMs : squawkMs} ${n}`).join('\n') + '\n');
console.log(line('plan'));
console.log(line('squawk'));
EOF
