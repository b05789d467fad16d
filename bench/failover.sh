#!/usr/bin/env bash
# bench/failover.sh - how long a failover in the middle of 200 migrations costs: schemagate
# reconnecting in-process against "exit at the fault + a restarted init container".
#
# Usage: bench/failover.sh [--runs N]   (default 3 runs of each; about 5 minutes on 2 cores)
# Steps: builds a Release binary in bench/.work/build (as bench/run.sh does); starts its own
# pg_auto_failover formation (ci/ha.sh, state in bench/.work/ha, stopped on exit); then, N
# times each, on a fresh database:
#   - in-process: one `schemagate migrate` of 200 files (default connect settings: 10
#     attempts, 1 s doubling to 30 s) stands inside file 50, waiting on an advisory lock
#     this script holds, when the failover starts (pg_autoctl perform failover through the
#     monitor); measured: from the failover's start to migrate's exit 0.
#   - restart: the same, but the process gives up at the fault (SCHEMAGATE_CONNECT_ATTEMPTS=1,
#     as a process without in-process recovery exits 1 there); then the kubelet's first
#     restart delay (10 s) and a fresh `schemagate migrate` with default settings, timed to
#     its exit 0. Measured: from the failover's start to that exit 0. The container's own
#     restart (image, process start) is not counted: the baseline is flattered, not us.
#   - the limit: from the failover's start until the formation's URL
#     (target_session_attrs=read-write) first takes a write, observed every 100 ms beside
#     each in-process run.
# Writes its table into bench/RESULTS.md between the failover markers (bench/run.sh keeps
# that section when it rewrites the file), and prints it. Figures are never asserted.
set -euo pipefail
SG_PROG=bench/failover.sh
# shellcheck source=ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../ci/lib.sh"
cd "$SG_REPO_ROOT"

runs=3
while (($# > 0)); do
    case $1 in
        --runs)
            [[ $# -ge 2 && $2 =~ ^[1-9][0-9]?$ ]] || sg_die "--runs takes 1..99"
            runs=$2
            shift
            ;;
        -h | --help)
            sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
            exit 0
            ;;
        *)
            printf 'usage: bench/failover.sh [--runs N]\n' >&2
            exit 2
            ;;
    esac
    shift
done

readonly NMIG=200 GATE=50 GATE_KEY=20200020 RESTART_DELAY_S=10
work=$SG_REPO_ROOT/bench/.work
SG=$work/build/schemagate
PSQL=$SG_PG_BIN/psql
results=$SG_REPO_ROOT/bench/RESULTS.md
set_dir=$work/failover-set
unset DATABASE_URL REDIS_URL MIGRATIONS_DIR SCHEMAGATE_CONFIG DATABASE_SEARCH_PATH \
    SCHEMAGATE_CONNECT_ATTEMPTS SCHEMAGATE_CONNECT_BASE_DELAY SCHEMAGATE_CONNECT_MAX_DELAY \
    SCHEMAGATE_TEST_HA_DSN SG_HA_TMP
export SG_HA_DIR=$work/ha

ha_started=0
gate_pid=""
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    [[ -z $gate_pid ]] || kill "$gate_pid" 2>/dev/null || true
    if ((ha_started)); then
        bash ci/ha.sh stop >/dev/null 2>&1 || sg_log "ci/ha.sh stop failed"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Milliseconds of CLOCK_REALTIME (date +%s%3N).
now_ms() {
    date +%s%3N
}

fmt1() {
    awk -v x="$1" 'BEGIN { printf "%.1f\n", x / 1000 }'
}

ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "n/a"; else printf "%.2f×\n", a / b }'
}

# The formation's URL for database $1.
db_url() {
    printf '%s\n' "${SCHEMAGATE_TEST_HA_DSN/\/postgres\?//$1?}"
}

sql_on() {
    "$PSQL" -X -q -At -v ON_ERROR_STOP=1 "$(db_url "$1")" -c "$2"
}

# NMIG files as the tests write them: each creates t_<v> and records itself in applied;
# file GATE first waits for GATE_KEY (no lock timeout).
gen_set() {
    rm -rf "$set_dir"
    mkdir -p "$set_dir"
    awk -v dir="$set_dir" -v n="$NMIG" -v gate="$GATE" -v key="$GATE_KEY" 'BEGIN {
        for (i = 1; i <= n; i++) {
            f = sprintf("%s/%06d_t%d.up.sql", dir, i, i)
            s = ""
            if (i == gate) s = "-- schemagate:lock-timeout=0\nSELECT pg_advisory_xact_lock(" key ");\n"
            if (i == 1) s = s "CREATE TABLE applied (v int NOT NULL);\n"
            printf "%sCREATE TABLE t_%d (id int PRIMARY KEY);\nINSERT INTO applied VALUES (%d);\n", s, i, i > f
            close(f)
        }
    }'
}

fresh_db() {
    local db=$1
    "$PSQL" -X -q -v ON_ERROR_STOP=1 "$SCHEMAGATE_TEST_HA_DSN" \
        -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null 2>&1
}

# Holds GATE_KEY on the primary in the background until the failover ends the session.
hold_gate() {
    "$PSQL" -X -q "$(db_url "$1")" \
        -c "SELECT pg_advisory_lock($GATE_KEY)" -c "SELECT pg_sleep(3600)" >/dev/null 2>&1 &
    gate_pid=$!
}

at_gate() {
    [[ $(sql_on "$1" "SELECT count(*) FROM pg_locks WHERE NOT granted AND locktype = 'advisory'
        AND objid = $GATE_KEY") -ge 1 ]]
}

# The port of the server that takes writes through the formation's URL (a transaction id
# is refused in recovery), or nothing.
writer_port() {
    "$PSQL" -X -q -At "$(db_url "$1")&connect_timeout=2" \
        -c 'SELECT inet_server_port() FROM (SELECT txid_current()) t' 2>/dev/null
}

# Polls every 100 ms until a server other than port $2 takes a write; prints the time (ms).
first_write_ms() {
    local db=$1 old=$2 p
    while :; do
        p=$(writer_port "$db") || true
        if [[ -n $p && $p != "$old" ]]; then
            now_ms
            return 0
        fi
        sleep 0.1
    done
}

migrate_env() {
    env DATABASE_URL="$(db_url "$1")" MIGRATIONS_DIR="$set_dir" POD_NAME=bench \
        SCHEMAGATE_LOG_FORMAT=text "${@:2}"
}

check_applied() {
    local n
    n=$(sql_on "$1" "SELECT count(*) || '/' || count(DISTINCT v) FROM applied")
    [[ $n == "$NMIG/$NMIG" ]] || sg_die "$1: applied $n, expected $NMIG/$NMIG"
}

failover() {
    "$PSQL" -X -q -At "$SCHEMAGATE_TEST_HA_MONITOR_DSN" \
        -c "SELECT pgautofailover.perform_failover('default', 0)" >/dev/null
}

# One in-process run; appends ms to $work/fo-inproc and the limit's ms to $work/fo-limit.
run_inprocess() {
    local db=$1 mpid wpid old t0 t1 rc=0
    fresh_db "$db"
    old=$(writer_port "$db")
    hold_gate "$db"
    migrate_env "$db" "$SG" migrate 2>"$work/fo-$db.log" &
    mpid=$!
    sg_wait_until 120 "migrate at the gate" at_gate "$db"
    t0=$(now_ms)
    failover
    (first_write_ms "$db" "$old" >"$work/fo-write-$db") &
    wpid=$!
    wait "$mpid" || rc=$?
    t1=$(now_ms)
    wait "$wpid" || true
    gate_pid=""
    ((rc == 0)) || { tail -n 20 "$work/fo-$db.log" >&2; sg_die "in-process run exited $rc"; }
    check_applied "$db"
    echo $((t1 - t0)) >>"$work/fo-inproc"
    echo $(($(cat "$work/fo-write-$db") - t0)) >>"$work/fo-limit"
    bash ci/ha.sh wait
}

# One "exit at the fault, restart after 10 s" run; appends ms to $work/fo-restart.
run_restart() {
    local db=$1 mpid t0 rc=0
    fresh_db "$db"
    hold_gate "$db"
    migrate_env "$db" SCHEMAGATE_CONNECT_ATTEMPTS=1 "$SG" migrate 2>"$work/fo-$db-1.log" &
    mpid=$!
    sg_wait_until 120 "migrate at the gate" at_gate "$db"
    t0=$(now_ms)
    failover
    wait "$mpid" || rc=$?
    gate_pid=""
    ((rc != 0)) || sg_die "the first process finished despite the fault: no baseline"
    sleep "$RESTART_DELAY_S"
    migrate_env "$db" "$SG" migrate 2>"$work/fo-$db-2.log" \
        || { tail -n 20 "$work/fo-$db-2.log" >&2; sg_die "the restarted process failed"; }
    echo $(($(now_ms) - t0)) >>"$work/fo-restart"
    check_applied "$db"
    bash ci/ha.sh wait
}

report() {
    local table=$work/failover-table.md lm lmn lmx im imn imx rm rmn rmx sc
    sc="failover during $NMIG migrations (file $GATE in flight)"
    read -r lm lmn lmx < <(sg_stats <"$work/fo-limit")
    read -r im imn imx < <(sg_stats <"$work/fo-inproc")
    read -r rm rmn rmx < <(sg_stats <"$work/fo-restart")
    {
        printf '| scenario | subject | measure | median | min | max | vs baseline (same run) | target | met |\n'
        printf '|---|---|---|---|---|---|---|---|---|\n'
        printf '| %s | formation URL takes a write again (limit) | s from failover start | %s | %s | %s | - | - | - |\n' \
            "$sc" "$(fmt1 "$lm")" "$(fmt1 "$lmn")" "$(fmt1 "$lmx")"
        printf '| %s | exit at the fault + init container restart (%s s) + rerun | s from failover start to exit 0 | %s | %s | %s | 1.00× | - | - |\n' \
            "$sc" "$RESTART_DELAY_S" "$(fmt1 "$rm")" "$(fmt1 "$rmn")" "$(fmt1 "$rmx")"
        printf '| %s | schemagate migrate, reconnecting in-process | s from failover start to exit 0 | %s | %s | %s | %s restart | < restart | %s |\n' \
            "$sc" "$(fmt1 "$im")" "$(fmt1 "$imn")" "$(fmt1 "$imx")" "$(ratio "$im" "$rm")" \
            "$(awk -v a="$im" -v b="$rm" 'BEGIN { print (a < b) ? "yes" : "**no**" }')"
    } >"$table"
    cat "$table"
    {
        printf '<!-- failover:begin (bench/failover.sh writes this section; bench/run.sh keeps it) -->\n'
        printf '## Failover (bench/failover.sh, %s runs, %s)\n\n' "$runs" "$(date -u +%Y-%m-%dT%H:%MZ)"
        # shellcheck disable=SC2016 # the backquotes are markdown
        printf -- '- formation: ci/ha.sh (pg_auto_failover 2.0, Debian postgresql-15-auto-failover): monitor and two PostgreSQL 15 nodes on loopback, synchronous replication, trust auth; failover = pgautofailover.perform_failover() on the monitor (what `pg_autoctl perform failover` calls).\n'
        printf -- '- each run: a fresh database, %s files (each creates a table and records itself; a version applied twice would show); migrate waits inside file %s on an advisory lock held by a psql session, so the failover always lands in a transaction; load average at the start: %s, at the end: %s.\n' \
            "$NMIG" "$GATE" "$load_start" "$(cut -d' ' -f1-3 /proc/loadavg)"
        printf -- '- in-process: default connect settings (10 attempts, 1 s doubling to 30 s). Restart: the first process gives up at the fault (SCHEMAGATE_CONNECT_ATTEMPTS=1, as one without in-process recovery exits 1 there), %s s pass (the kubelet'"'"'s first restart delay), and a fresh migrate runs to exit 0; the container restart itself is not counted.\n' \
            "$RESTART_DELAY_S"
        printf -- '- the limit: the first write the formation'"'"'s URL (target_session_attrs=read-write) accepts after the failover began, probed every 100 ms beside each in-process run.\n\n'
        cat "$table"
        printf '<!-- failover:end -->\n'
    } >"$work/failover-section.md"
    if [[ -f $results ]] && grep -q '^<!-- failover:begin' "$results"; then
        awk -v sec="$work/failover-section.md" '
            /^<!-- failover:begin/ { while ((getline l < sec) > 0) print l; skip = 1; next }
            /^<!-- failover:end -->/ { skip = 0; next }
            !skip' "$results" >"$results.tmp"
    else
        { [[ -f $results ]] && cat "$results" && printf '\n'; cat "$work/failover-section.md"; } >"$results.tmp"
    fi
    mv "$results.tmp" "$results"
    sg_log "written the failover section of $results"
}

mkdir -p "$work"
rm -f "$work/fo-inproc" "$work/fo-restart" "$work/fo-limit"
bash ci/install-deps.sh >&2
sg_log "building a Release binary in $work/build"
cmake -S . -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DSCHEMAGATE_TESTS=OFF >/dev/null
cmake --build "$work/build" -j2 --target schemagate >/dev/null
sg_log "starting the formation (state in $SG_HA_DIR)"
ha_started=1
bash ci/ha.sh start >&2
eval "$(bash ci/ha.sh env)"
gen_set
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
for ((i = 1; i <= runs; i++)); do
    sg_log "run $i of $runs: in-process"
    run_inprocess "bench_fo_in_$i"
    sg_log "run $i of $runs: exit and restart"
    run_restart "bench_fo_rs_$i"
done
report
