#!/usr/bin/env bash
# ci/checks.d/50-fuzz.sh - builds the libFuzzer harnesses (clang, ASan+UBSan) and runs each briefly.
#
# Usage: ci/checks.d/50-fuzz.sh [SECONDS_PER_HARNESS]   (default 10; env SG_FUZZ_SECONDS too)
# Each harness in tests/fuzz/ starts from its committed seeds in
# tests/fuzz/corpus/<name>/ (copied: new inputs never dirty the tree) and runs
# for the given time, two harnesses at a time (CI has two cores). Any crash, leak, sanitizer report or timeout fails the
# check; the reproducer is kept in build-fuzz/artifacts/ and its path printed.
# fuzz_framing_diff starts a real civetweb in its own process on a loopback
# port and compares its parse of every head the gate would pass with the
# gate's (tests/fuzz/lib_framing_diff.c; its corpus is replayed by the CTest
# test_framing_diff too).
# Long run (10 minutes each), by hand:
#   SG_FUZZ_SECONDS=600 bash ci/checks.d/50-fuzz.sh
set -euo pipefail
SG_PROG=ci/checks.d/50-fuzz.sh
# shellcheck source=ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$SG_REPO_ROOT"

secs=${1:-${SG_FUZZ_SECONDS:-10}}
[[ $secs =~ ^[0-9]+$ && $secs -gt 0 ]] || sg_die "seconds must be a positive integer, not \"$secs\""
command -v clang >/dev/null 2>&1 || bash ci/install-deps.sh clang
# libFuzzer's runtime ships with clang's compiler-rt on Debian.
bash ci/install-deps.sh libclang-rt-14-dev >/dev/null 2>&1 || true

out=$SG_REPO_ROOT/build-fuzz
bash tests/fuzz/build.sh "$out"
mkdir -p "$out/artifacts"
work=$(mktemp -d "${TMPDIR:-/tmp}/sg-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT

# run_one NAME BIN: fuzzes one harness; its summary goes to $work/NAME.result.
run_one() {
    local name=$1 bin=$2 log=$work/$1.log runs
    if ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
        -print_final_stats=1 -artifact_prefix="$out/artifacts/$name-" \
        "$work/$name" >"$log" 2>&1; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
        echo "ok fuzz $name: ${runs:-?} executions, no crash" >"$work/$name.result"
    else
        {
            echo "FAILED fuzz $name; reproduce with: $bin <artifact from $out/artifacts/>"
            grep -E 'ERROR|SUMMARY|runtime error|leak|Test unit written' "$log" | head -n 20 ||
                tail -n 30 "$log"
        } >"$work/$name.result"
    fi
}

names=()
running=0
for bin in "$out"/fuzz_*; do
    name=$(basename "$bin")
    name=${name#fuzz_}
    seeds=tests/fuzz/corpus/$name
    [[ -d $seeds ]] || sg_die "no seed corpus $seeds for $bin"
    mkdir -p "$work/$name"
    cp "$seeds"/* "$work/$name/"
    sg_log "fuzz $name for ${secs}s"
    run_one "$name" "$bin" &
    names+=("$name")
    running=$((running + 1))
    if ((running >= 2)); then
        wait -n || true
        running=$((running - 1))
    fi
done
wait || true

failed=0
for name in "${names[@]}"; do
    if [[ -f $work/$name.result ]] && head -n 1 "$work/$name.result" | grep -q '^ok '; then
        sg_log "$(head -n 1 "$work/$name.result" | cut -c4-)"
    else
        failed=$((failed + 1))
        cat "$work/$name.result" >&2 2>/dev/null || echo "fuzz $name: no result" >&2
    fi
done
((failed == 0)) || sg_die "$failed harness(es) found a problem"
sg_log "all harnesses clean"
