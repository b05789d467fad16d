#!/usr/bin/env bash
# ci/checks.d/60-bench-smoke.sh - the benchmark command runs end to end and prints a well-formed table.
#
# Runs `bench/run.sh --smoke` on build/schemagate (tiny sizes, one repetition;
# it installs its own dependencies, starts and stops its own PostgreSQL and Redis) and
# checks the markdown table it writes. Never looks at the figures themselves:
# benchmarks are not timed tests.
set -euo pipefail
SG_PROG=ci/checks.d/60-bench-smoke.sh
# shellcheck source=ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$SG_REPO_ROOT"

out=bench/.work/RESULTS-smoke.md
mkdir -p bench/.work # git-ignored: absent in a fresh clone
rm -f "$out"
# The binary ci/test.sh built: a Release build of its own cost a minute of CPU.
bin=${SCHEMAGATE_BIN:-build/schemagate}
[[ -x $bin ]] || sg_die "$bin not built; run ci/test.sh (or set SCHEMAGATE_BIN)"
SG_BENCH_BIN=$bin bash bench/run.sh --smoke >bench/.work/smoke-stdout.md 2>bench/.work/smoke-stderr.log \
    || { tail -n 30 bench/.work/smoke-stderr.log >&2; sg_die "bench/run.sh --smoke failed"; }
[[ -s $out ]] || sg_die "$out was not written"

# The results table (the lines of the "## Results" section; the plan corpus's
# own table follows in a section of its own): 9 cells; the header and separator
# first; the median cell a number or "n / n" (never "n/a"); min/max a number
# or "-"; a verdict wherever a target is given; and each scenario present at
# least once.
awk '/^## Results/ { f = 1; next } /^## / { f = 0 } f' "$out" >bench/.work/smoke-table.md
awk -F'|' '
    function fail(msg) { printf "line %d: %s: %s\n", NR, msg, $0 > "/dev/stderr"; bad = 1 }
    function trim(s) { gsub(/^ +| +$/, "", s); return s }
    /^\|/ {
        n++
        if (NF != 11) fail("expected 9 cells, got " NF - 2)
        if (n == 1 && trim($2) != "scenario") fail("header row missing")
        if (n == 2 && $0 !~ /^\|(---\|)+$/) fail("separator row missing")
        if (n <= 2) next
        rows++
        med = trim($5); mn = trim($6); mx = trim($7)
        if (med !~ /^[0-9]+(\.[0-9]+)?$/ && med !~ /^[0-9]+ \/ [0-9]+$/) fail("median is not a figure")
        if (mn !~ /^([0-9]+(\.[0-9]+)?|-)$/ || mx !~ /^([0-9]+(\.[0-9]+)?|-)$/) fail("min/max not a figure")
        if (trim($9) != "-" && trim($10) !~ /^(yes|\*\*no\*\*)$/) fail("target without a verdict")
        s = trim($2)
        if (s ~ /^apply /) seen["apply"] = 1
        if (s ~ /^no-op migrate at head/) seen["noop"] = 1
        if (s ~ /through PgBouncer/) seen["pooled"] = 1
        if (s ~ /^migration behind a/) seen["locks"] = 1
        if (s ~ /^application.s SELECT 1 while/) seen["pool"] = 1
        if (s ~ /replicas at once/) seen["replicas"] = 1
        if (s ~ /processes at once/) seen["race"] = 1
        if (s ~ /^\/readyz under wrk/) seen["http"] = 1
        if (s ~ /^schemagate serve under/) seen["rss"] = 1
        if (s ~ /^plan on /) seen["plan"] = 1
        if (s ~ /^plan corpus/) seen["corpus"] = 1
    }
    END {
        split("apply noop pooled replicas race locks pool http rss plan corpus", want, " ")
        for (i in want) if (!(want[i] in seen)) { printf "no row for scenario %s\n", want[i] > "/dev/stderr"; bad = 1 }
        if (rows < 20) { printf "only %d rows\n", rows > "/dev/stderr"; bad = 1 }
        exit bad
    }' bench/.work/smoke-table.md || sg_die "malformed table in $out"
# The corpus comparison: a row per statement, both tools' counts.
grep -q '^## plan against squawk on the plan corpus' "$out" || sg_die "no plan corpus section in $out"
grep -q '^- squawk: [0-9]* false positives' "$out" || sg_die "no squawk counts in $out"
if ! grep -q '^- CPU: ' "$out" || ! grep -q '^- PostgreSQL ' "$out"; then
    sg_die "machine description missing in $out"
fi
sg_log "benchmark smoke ok: $(grep -c '^| ' "$out") table lines in $out"
