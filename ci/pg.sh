#!/usr/bin/env bash
# ci/pg.sh - stops, starts and crashes the throwaway PostgreSQL that ci/services.sh set up.
#
# Usage: ci/pg.sh start|stop [smart|fast|immediate]|restart|kill|status
#   start    starts the server and waits until it accepts TCP connections
#   stop     stops it (default mode fast) and waits until every process is gone
#   restart  stop fast, then start
#   kill     SIGKILL of the postmaster, as in a crash; waits until its backends
#            have noticed and exited and clears the stale lock files, so that
#            `start` works right away (see clear_stale_locks)
#   status   prints the state; exit 0 when running, 3 when not (like pg_ctl)
#
# Reads SCHEMAGATE_TEST_PGDATA, _PG_USER and _PG_PORT from the environment
# (integration tests call this through system() with those set), else from the
# state file of ci/services.sh.
set -euo pipefail
SG_PROG=ci/pg.sh
# shellcheck source=ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
    printf 'usage: ci/pg.sh start|stop [smart|fast|immediate]|restart|kill|status\n' >&2
    exit 2
}

case ${1:-} in
    start | stop | restart | kill | status) ;;
    *) usage ;;
esac
sg_load_env
sg_require_var SCHEMAGATE_TEST_PGDATA SCHEMAGATE_TEST_PG_USER SCHEMAGATE_TEST_PG_PORT
pgdata=$SCHEMAGATE_TEST_PGDATA
user=$SCHEMAGATE_TEST_PG_USER
port=$SCHEMAGATE_TEST_PG_PORT
log=${SCHEMAGATE_TEST_PG_LOG:-$(dirname "$pgdata")/pg.log}
[[ -d $pgdata ]] || sg_die "$pgdata does not exist; run ci/services.sh start first"

postmaster_pid() {
    local pid
    pid=$(head -n 1 "$pgdata/postmaster.pid" 2>/dev/null) || return 1
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    printf '%s\n' "$pid"
}

running() {
    local pid
    pid=$(postmaster_pid) && sg_pid_alive "$pid"
}

not_running() {
    ! running
}

ready() {
    "$SG_PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$port" -t 1
}

pg_ctl() {
    sg_run_as "$user" "$SG_PG_BIN/pg_ctl" -D "$pgdata" "$@"
}

# Backends notice a dead postmaster on their own within moments; give them
# 15 s, then SIGKILL what is left so the next start finds the shared memory free.
wait_orphans() {
    local tries=150 pids
    while [[ -n $(sg_pids_under "$pgdata") ]]; do
        tries=$((tries - 1))
        if ((tries <= 0)); then
            pids=$(sg_pids_under "$pgdata")
            sg_log "backends still alive after 15s; SIGKILL $(tr '\n' ' ' <<<"$pids")"
            # shellcheck disable=SC2086 # one pid per word
            kill -KILL $pids 2>/dev/null || true
            sg_wait_until 10 "orphaned backends to exit" sg_no_pids_under "$pgdata"
            return 0
        fi
        sleep 0.1
    done
}

# A postmaster that died without a clean shutdown leaves postmaster.pid and the
# socket lock file behind. PostgreSQL replaces them on its own only once the
# dead postmaster has been reaped: it probes the recorded pid with kill(pid, 0),
# which also succeeds for a zombie. This machine's PID 1 reaps orphans only
# every couple of seconds, so once no process of the cluster is alive
# (zombies aside) we remove the stale files ourselves.
clear_stale_locks() {
    local pid sockdir
    pid=$(postmaster_pid) || return 0
    if sg_pid_alive "$pid" || [[ -n $(sg_pids_under "$pgdata") ]]; then
        return 0
    fi
    sockdir=$(sed -n "s/^unix_socket_directories = '\(.*\)'$/\1/p" "$pgdata/postgresql.conf" | tail -n 1)
    rm -f "$pgdata/postmaster.pid"
    if [[ -n $sockdir ]]; then
        rm -f "$sockdir/.s.PGSQL.$port.lock" "$sockdir/.s.PGSQL.$port"
    fi
}

do_start() {
    if running; then
        sg_wait_until 60 "PostgreSQL on 127.0.0.1:$port" ready
        sg_log "already running (pid $(postmaster_pid), port $port)"
        return 0
    fi
    wait_orphans
    clear_stale_locks
    # -l sends the server's stdout/stderr to the log, so no caller's pipe
    # (ctest's, say) stays open in the daemon.
    if ! pg_ctl -l "$log" -w -t 60 -s start; then
        tail -n 20 "$log" >&2 || true
        sg_die "pg_ctl start failed (log: $log)"
    fi
    sg_wait_until 60 "PostgreSQL on 127.0.0.1:$port" ready
    sg_log "started (pid $(postmaster_pid), port $port)"
}

do_stop() {
    local mode=${1:-fast} pid
    case $mode in
        smart | fast | immediate) ;;
        *) usage ;;
    esac
    if ! running; then
        wait_orphans
        clear_stale_locks
        sg_log "already stopped"
        return 0
    fi
    pid=$(postmaster_pid)
    # A SIGSTOPped postmaster would never act on the shutdown signal.
    kill -CONT "$pid" 2>/dev/null || true
    if ! pg_ctl -m "$mode" -w -t 60 -s stop; then
        tail -n 20 "$log" >&2 || true
        sg_die "pg_ctl stop -m $mode failed (log: $log)"
    fi
    sg_wait_until 30 "postmaster $pid to exit" not_running
    wait_orphans
    sg_log "stopped ($mode)"
}

do_kill() {
    local pid
    running || sg_die "PostgreSQL is not running; nothing to kill"
    pid=$(postmaster_pid)
    kill -KILL "$pid"
    sg_wait_until 10 "postmaster $pid to die" not_running
    wait_orphans
    clear_stale_locks
    sg_log "killed postmaster $pid (SIGKILL); its backends have exited"
}

do_status() {
    if running; then
        printf 'running (pid %s, port %s)\n' "$(postmaster_pid)" "$port"
        return 0
    fi
    printf 'stopped\n'
    return 3
}

[[ $# -ge 1 ]] || usage
action=$1
shift
case $action in
    start) [[ $# -eq 0 ]] || usage; do_start ;;
    stop) [[ $# -le 1 ]] || usage; do_stop "$@" ;;
    restart) [[ $# -eq 0 ]] || usage; do_stop fast; do_start ;;
    kill) [[ $# -eq 0 ]] || usage; do_kill ;;
    status) [[ $# -eq 0 ]] || usage; do_status ;;
    *) usage ;;
esac
