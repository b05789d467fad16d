#!/usr/bin/env bash
# ci/test.sh - the whole test run: deps, services, a plain and a sanitizer build, every test.
#
# Usage: ci/test.sh   (CI runs it through .ci/run)
# Steps: ci/install-deps.sh; ci/services.sh start and, in the background,
# ci/ha.sh start (both always stopped again on exit); build/ (RelWithDebInfo,
# -Werror) and its ctest; build-asan/ (address,undefined) and its ctest (each:
# unit tests with -j2, then the integration tests one at a time; the failover
# suites, label `ha`, in build-asan/ only); then each ci/checks.d/*.sh, which
# counts as one test. Ends with the line "N passed, N failed" (ctest tests of both
# builds plus checks; a failed configure or build counts as one failure) and
# exits non-zero when anything failed.
set -euo pipefail
SG_PROG=ci/test.sh
# shellcheck source=ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$SG_REPO_ROOT"

passed=0
failed=0
skipped=0
failures=()
services_started=0
ha_pid=""
ha_started=0
# The build whose integration run includes the failover suites (label `ha`). One build
# is enough: they wait on failovers far more than they compute, and the sanitizer build
# also checks every reconnect path for memory errors.
readonly HA_BUILD=build-asan

record_failure() {
    failed=$((failed + 1))
    failures+=("$1")
    sg_log "FAILED: $1"
}

# Long steps run in the background, in a process group of their own, and the
# script waits for them: a TERM or INT then reaches our trap at once (not after
# the step), and the trap can stop the step together with the tests it runs.
# (setsid execs in place, as a background job of a non-interactive shell is no
# group leader; --wait covers the case where it has to fork after all.)
fg_pid=""
run_fg() {
    local rc=0
    setsid --wait "$@" &
    fg_pid=$!
    wait "$fg_pid" || rc=$?
    fg_pid=""
    return "$rc"
}

stop_fg() {
    local tries=50
    [[ -n $fg_pid ]] || return 0
    kill -TERM -- "-$fg_pid" 2>/dev/null || return 0
    while sg_pid_alive "$fg_pid" && ((tries-- > 0)); do
        sleep 0.1
    done
    kill -KILL -- "-$fg_pid" 2>/dev/null || true
    wait "$fg_pid" 2>/dev/null || true
}

on_exit() {
    local rc=$?
    trap - EXIT INT TERM
    stop_fg
    if [[ -n $ha_pid ]]; then
        kill -TERM "$ha_pid" 2>/dev/null || true
        wait "$ha_pid" 2>/dev/null || true
    fi
    if ((ha_started)); then
        bash ci/ha.sh stop || sg_log "ci/ha.sh stop failed"
    fi
    if ((services_started)); then
        bash ci/services.sh stop || sg_log "ci/services.sh stop failed"
    fi
    if ((rc != 0 && failed == 0)); then
        record_failure "aborted (exit $rc)"
    fi
    if ((${#failures[@]} > 0)); then
        sg_log "failures: $(printf '[%s] ' "${failures[@]}")"
    fi
    if ((skipped > 0)); then
        sg_log "$skipped test(s) skipped"
    fi
    printf '%d passed, %d failed\n' "$passed" "$failed"
    if ((failed > 0 && rc == 0)); then
        rc=1
    fi
    exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Adds the counts of a ctest JUnit file (CMake >= 3.21) to the totals. ctest
# writes them as attributes of its single <testsuite> element.
count_junit() {
    local file=$1 suite tests failures skip disabled
    # The element spans several lines; flatten it before matching.
    suite=$(tr '\n\t' '  ' <"$file" | grep -m 1 -o '<testsuite [^>]*>') || return 1
    tests=$(sed -n 's/.* tests="\([0-9]*\)".*/\1/p' <<<"$suite")
    failures=$(sed -n 's/.* failures="\([0-9]*\)".*/\1/p' <<<"$suite")
    skip=$(sed -n 's/.* skipped="\([0-9]*\)".*/\1/p' <<<"$suite")
    disabled=$(sed -n 's/.* disabled="\([0-9]*\)".*/\1/p' <<<"$suite")
    [[ -n $tests && -n $failures ]] || return 1
    skip=$((${skip:-0} + ${disabled:-0}))
    passed=$((passed + tests - failures - skip))
    failed=$((failed + failures))
    skipped=$((skipped + skip))
    CTEST_FAILURES=$failures
}

# build_and_test DIR ENV_ASSIGNMENTS -- CMAKE_ARGS...
# Configures and builds DIR, then runs its ctest with the given environment.
build_and_test() {
    local dir=$1
    shift
    local -a envs=()
    while [[ $1 != -- ]]; do
        envs+=("$1")
        shift
    done
    shift
    sg_log "configure $dir"
    if ! run_fg cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSCHEMAGATE_WERROR=ON "$@"; then
        record_failure "$dir: cmake configure"
        return 1
    fi
    sg_log "build $dir"
    if ! run_fg cmake --build "$dir" -j2; then
        record_failure "$dir: build"
        return 1
    fi
    # Unit tests in parallel; integration tests one at a time, because some
    # stop, kill or pause the shared PostgreSQL and Redis, which would break
    # whichever integration test happened to run beside them.
    run_ctest "$dir" unit -j2 -LE integration -- "${envs[@]}"
    if [[ $dir == "$HA_BUILD" ]] && ha_ready; then
        run_ctest "$dir" integration -j1 -L integration -- "${envs[@]}" \
            SCHEMAGATE_TEST_REQUIRE_HA=1
    else
        run_ctest "$dir" integration -j1 -L integration -LE ha -- "${envs[@]}"
    fi
    return 0
}

# Waits for the background `ci/ha.sh start` and exports its variables; false (counted as
# one failure, with the tail of its log) when it failed.
ha_ready() {
    local rc=0
    if [[ -n $ha_pid ]]; then
        wait "$ha_pid" || rc=$?
        ha_pid=""
        if ((rc != 0)); then
            tail -n 30 "$ha_log" >&2 || true
            record_failure "ci/ha.sh start (exit $rc; log $ha_log)"
            return 1
        fi
        sg_log "pg_auto_failover formation: $(tail -n 2 "$ha_log" | head -n 1)"
        eval "$(bash ci/ha.sh env)"
    fi
    [[ -n ${SCHEMAGATE_TEST_HA_DSN:-} ]]
}

# run_ctest DIR NAME CTEST_ARGS... -- ENV_ASSIGNMENTS...
run_ctest() {
    local dir=$1 name=$2 rc=0
    shift 2
    local -a args=()
    while [[ $1 != -- ]]; do
        args+=("$1")
        shift
    done
    shift
    local junit=$SG_REPO_ROOT/$dir/ctest-$name.xml
    rm -f "$junit"
    sg_log "ctest $dir ($name)"
    run_fg env "$@" ctest --test-dir "$dir" --output-on-failure "${args[@]}" --output-junit "$junit" || rc=$?
    CTEST_FAILURES=0
    if [[ ! -f $junit ]] || ! count_junit "$junit"; then
        record_failure "$dir: ctest ($name) wrote no results (exit $rc)"
        return 0
    fi
    if ((CTEST_FAILURES > 0)); then
        failures+=("$dir: $CTEST_FAILURES $name test(s) failed")
    elif ((rc != 0)); then
        record_failure "$dir: ctest ($name) exited $rc"
    fi
}

bash ci/install-deps.sh

# A state folder of our own, whatever SG_SVC_DIR the caller has: the run stops
# its services at the end and must never take down servers someone started by
# hand (eval "$(ci/services.sh env)" exports SG_SVC_DIR), nor another run's.
export SG_SVC_DIR=$SG_REPO_ROOT/.tmp/test-services.$$
services_started=1
bash ci/services.sh start
eval "$(bash ci/services.sh env)"
# Integration suites fail rather than skip when the servers are missing.
export SCHEMAGATE_TEST_REQUIRE_SERVICES=1
# The formation takes a minute or two to form, mostly waiting on pg_autoctl: it forms
# while the builds compile and the first build's suites run.
export SG_HA_DIR=$SG_REPO_ROOT/.tmp/test-ha.$$
ha_log=$SG_REPO_ROOT/.tmp/test-ha.$$.log
ha_started=1
bash ci/ha.sh start >"$ha_log" 2>&1 &
ha_pid=$!

if build_and_test build -- ; then
    build_and_test build-asan \
        ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        -- -DSCHEMAGATE_SANITIZE=address,undefined || true
else
    sg_log "skipping build-asan: the plain build already failed"
fi

shopt -s nullglob
for check in ci/checks.d/*.sh; do
    sg_log "check $check"
    if run_fg bash "$check"; then
        passed=$((passed + 1))
    else
        record_failure "$check"
    fi
done
