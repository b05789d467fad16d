#!/usr/bin/env bash
# ci/test.sh - the whole test run: deps, services, a plain and a sanitizer build, every test.
#
# Usage: ci/test.sh   (CI runs it through .ci/run)
# Steps: ci/install-deps.sh; then two lanes at the same time, each with its own
# ci/services.sh servers (all stopped again on exit): lane plain configures and builds
# build/ (RelWithDebInfo, -Werror), runs its unit tests (-j2) and its integration
# tests (one at a time); lane asan starts the pg_auto_failover formation (ci/ha.sh), builds
# build-asan/ (address,undefined), runs its unit tests and its integration tests with the
# failover suites (label `ha`, in build-asan/ only). Then both lanes take the checks of
# ci/checks.d/*.sh (each counts as one test) from one list, each check run once, by
# whichever lane is free first.
# Ends with the line "N passed, N failed" (ctest tests of both builds plus checks; a
# failed configure or build counts as one failure) and exits non-zero when anything
# failed.
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
# The two lanes (see "Lanes" below): their folders, pids and result files.
lane_dir=$SG_REPO_ROOT/.tmp/test-lanes.$$
plain_pid=""
asan_pid=""
asan_printed=0
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

# Ends a lane: its pid, a TERM (its trap stops what it runs), and a KILL when it lingers.
stop_lane() {
    local pid=$1 tries=100
    [[ -n $pid ]] || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    while sg_pid_alive "$pid" && ((tries-- > 0)); do
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# Prints the sanitizer lane's log once (it runs beside the plain lane, whose output streams).
print_asan_log() {
    local log=$lane_dir/asan.log
    ((asan_printed == 0)) && [[ -f $log ]] || return 0
    asan_printed=1
    printf '%s\n' "----- lane asan (build-asan/ and its checks): its whole log -----"
    cat "$log"
    printf '%s\n' "----- end of lane asan -----"
}

# Adds a lane's result file (lines "passed N", "failed N", "skipped N", "failure TEXT") to
# the totals; a lane that wrote none ended early, which counts as one failure.
merge_lane() {
    local name=$1 file=$lane_dir/$1.result key value
    if [[ ! -f $file ]]; then
        failed=$((failed + 1))
        failures+=("lane $name: ended without results")
        return 0
    fi
    while IFS=' ' read -r key value; do
        case $key in
            passed) passed=$((passed + value)) ;;
            failed) failed=$((failed + value)) ;;
            skipped) skipped=$((skipped + value)) ;;
            failure) failures+=("$value") ;;
        esac
    done <"$file"
}

on_exit() {
    local rc=$?
    trap - EXIT INT TERM
    stop_lane "$plain_pid"
    stop_lane "$asan_pid"
    print_asan_log
    if ((ha_started)); then
        bash ci/ha.sh stop || sg_log "ci/ha.sh stop failed"
    fi
    if ((services_started)); then
        SG_SVC_DIR=$svc_plain bash ci/services.sh stop || sg_log "ci/services.sh stop (plain lane) failed"
        SG_SVC_DIR=$svc_asan bash ci/services.sh stop || sg_log "ci/services.sh stop (asan lane) failed"
    fi
    if [[ -d $lane_dir ]]; then
        merge_lane plain
        merge_lane asan
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
    # The checks use build/schemagate, whichever lane runs them.
    [[ $dir != build ]] || : >"$lane_dir/build.done"
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

# Lanes. The run is two halves at the same time, each with servers of its own (some
# integration suites stop, kill or pause their PostgreSQL and Redis, so suites that share
# servers run one at a time): lane plain builds build/ and runs its tests; lane asan
# builds build-asan/ and runs its tests (with the failover suites); then both take the
# checks (run_checks). Most integration time is waiting, so the halves
# overlap well on two cores. The plain lane's output streams; the asan lane's log is
# printed whole when it ends. Each lane writes its counts to $lane_dir/<lane>.result.
#
# State folders of our own, whatever SG_SVC_DIR the caller has: the run stops its
# services at the end and must never take down servers someone started by hand
# (eval "$(ci/services.sh env)" exports SG_SVC_DIR), nor another run's.
svc_plain=$SG_REPO_ROOT/.tmp/test-services.$$
svc_asan=$SG_REPO_ROOT/.tmp/test-services-asan.$$
services_started=1
SG_SVC_DIR=$svc_plain bash ci/services.sh start
SG_SVC_DIR=$svc_asan bash ci/services.sh start
# Integration suites fail rather than skip when the servers are missing.
export SCHEMAGATE_TEST_REQUIRE_SERVICES=1
export SG_HA_DIR=$SG_REPO_ROOT/.tmp/test-ha.$$
ha_log=$SG_REPO_ROOT/.tmp/test-ha.$$.log
ha_started=1
mkdir -p "$lane_dir"

# lane_write NAME: the lane's counts, for merge_lane.
lane_write() {
    local f
    {
        printf 'passed %d\nfailed %d\nskipped %d\n' "$passed" "$failed" "$skipped"
        for f in "${failures[@]}"; do
            printf 'failure %s\n' "${f//$'\n'/ }"
        done
    } >"$lane_dir/$1.result"
}

# run_checks: the checks of ci/checks.d, each counted as one test. Both lanes walk one
# list and each check goes to the lane that claims it first (mkdir is atomic), so the
# lane that ends its tests first takes more and the two end together. The list runs
# backwards: the numbers grow roughly with the cost (70-podman builds an image, 50-fuzz
# builds and runs the fuzzers), and the costliest first balance best. Every check needs
# only build/schemagate and the lane's own services.
run_checks() {
    local check name start i
    local -a checks
    shopt -s nullglob
    checks=(ci/checks.d/*.sh)
    while [[ ! -e $lane_dir/build.done ]]; do
        sleep 2 # the plain lane's build, which every check uses
    done
    for ((i = ${#checks[@]} - 1; i >= 0; i--)); do
        check=${checks[i]}
        name=$(basename "$check")
        mkdir "$lane_dir/claim.$name" 2>/dev/null || continue
        sg_log "check $check"
        start=$SECONDS
        if run_fg bash "$check"; then
            passed=$((passed + 1))
            sg_log "check $check passed in $((SECONDS - start)) s"
        else
            record_failure "$check"
        fi
    done
}

# A lane runs in a subshell: its counters are its own until lane_write; a TERM from
# on_exit stops the step it runs (and the formation it started).
lane_plain() {
    trap 'stop_fg; exit 143' TERM
    trap 'stop_fg; exit 130' INT
    trap - EXIT
    eval "$(SG_SVC_DIR=$svc_plain bash ci/services.sh env)"
    build_and_test build -- || true
    : >"$lane_dir/build.done" # also when configure or build failed: the checks then fail
    run_checks
    sg_log "lane plain done at $SECONDS s"
    lane_write plain
}

lane_asan() {
    trap 'stop_fg; [[ -z $ha_pid ]] || kill -TERM "$ha_pid" 2>/dev/null; exit 143' TERM
    trap 'stop_fg; [[ -z $ha_pid ]] || kill -TERM "$ha_pid" 2>/dev/null; exit 130' INT
    trap - EXIT
    SG_PROG="ci/test.sh[asan]"
    eval "$(SG_SVC_DIR=$svc_asan bash ci/services.sh env)"
    # The formation takes a minute or two to form, mostly waiting on pg_autoctl: it
    # forms while this lane compiles and runs its unit tests.
    bash ci/ha.sh start >"$ha_log" 2>&1 &
    ha_pid=$!
    build_and_test build-asan \
        ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        -- -DSCHEMAGATE_SANITIZE=address,undefined || true
    if [[ -n $ha_pid ]]; then
        # The build failed before its suites waited for the formation.
        kill -TERM "$ha_pid" 2>/dev/null || true
        wait "$ha_pid" 2>/dev/null || true
        ha_pid=""
    fi
    run_checks
    sg_log "lane asan done at $SECONDS s"
    lane_write asan
}

lane_asan >"$lane_dir/asan.log" 2>&1 &
asan_pid=$!
lane_plain &
plain_pid=$!
wait "$plain_pid" || true
plain_pid=""
sg_log "lane plain done; waiting for lane asan"
wait "$asan_pid" || true
asan_pid=""
print_asan_log
