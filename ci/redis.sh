#!/usr/bin/env bash
# ci/redis.sh - stops, starts, freezes and crashes the throwaway Redis that ci/services.sh set up.
#
# Usage: ci/redis.sh start|stop|restart|kill|pause|resume|status
#   start    starts Redis from its config, on the same port, and waits for PONG
#   stop     SIGTERM and wait until it has exited (works on a paused server too)
#   restart  stop, then start
#   kill     SIGKILL, as in a crash
#   pause    SIGSTOP: the port stays open but nothing answers
#   resume   SIGCONT
#   status   prints the state; exit 0 when running or paused, 3 when not
#
# Reads SCHEMAGATE_TEST_REDIS_PORT and _REDIS_PIDFILE from the environment
# (integration tests call this through system() with those set), else from the
# state file of ci/services.sh. redis.conf sits next to the pid file.
set -euo pipefail
SG_PROG=ci/redis.sh
# shellcheck source=ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
    printf 'usage: ci/redis.sh start|stop|restart|kill|pause|resume|status\n' >&2
    exit 2
}

case ${1:-} in
    start | stop | restart | kill | pause | resume | status) ;;
    *) usage ;;
esac
sg_load_env
sg_require_var SCHEMAGATE_TEST_REDIS_PORT SCHEMAGATE_TEST_REDIS_PIDFILE
port=$SCHEMAGATE_TEST_REDIS_PORT
pidfile=$SCHEMAGATE_TEST_REDIS_PIDFILE
rdir=$(dirname "$pidfile")
conf=$rdir/redis.conf
log=$rdir/redis.log
[[ -f $conf ]] || sg_die "$conf does not exist; run ci/services.sh start first"
# Redis runs as whoever owns its folder (see ci/services.sh).
user=$(stat -c %U "$rdir")

redis_pid() {
    local pid
    pid=$(cat "$pidfile" 2>/dev/null) || return 1
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    printf '%s\n' "$pid"
}

running() {
    local pid
    pid=$(redis_pid) && sg_pid_alive "$pid"
}

not_running() {
    ! running
}

pong() {
    [[ $(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null) == PONG ]]
}

# Prints the process state letter (T when stopped by SIGSTOP).
proc_state() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    printf '%s\n' "${stat:0:1}"
}

do_start() {
    if running; then
        sg_log "already running (pid $(redis_pid), port $port)"
        return 0
    fi
    rm -f "$pidfile" # stale after a kill
    if ! sg_run_as "$user" redis-server "$conf" >/dev/null; then
        tail -n 20 "$log" >&2 || true
        sg_die "redis-server failed to start (log: $log)"
    fi
    # daemonize: the server forks, then writes the pid file and starts listening.
    sg_wait_until 30 "Redis on 127.0.0.1:$port" pong
    sg_wait_until 10 "Redis pid file $pidfile" running
    sg_log "started (pid $(redis_pid), port $port)"
}

do_stop() {
    local pid
    if ! running; then
        sg_log "already stopped"
        return 0
    fi
    pid=$(redis_pid)
    kill -TERM "$pid"
    # A paused (SIGSTOPped) server only acts on SIGTERM once continued.
    kill -CONT "$pid" 2>/dev/null || true
    sg_wait_until 30 "Redis pid $pid to exit" not_running
    sg_log "stopped"
}

do_kill() {
    local pid
    running || sg_die "Redis is not running; nothing to kill"
    pid=$(redis_pid)
    kill -KILL "$pid"
    sg_wait_until 10 "Redis pid $pid to die" not_running
    rm -f "$pidfile"
    sg_log "killed pid $pid (SIGKILL)"
}

do_signal() {
    local sig=$1 what=$2 pid
    running || sg_die "Redis is not running; cannot $what it"
    pid=$(redis_pid)
    kill "-$sig" "$pid"
    sg_log "${what}d pid $pid (SIG$sig)"
}

do_status() {
    local pid
    if running; then
        pid=$(redis_pid)
        if [[ $(proc_state "$pid") == T ]]; then
            printf 'paused (pid %s, port %s)\n' "$pid" "$port"
        else
            printf 'running (pid %s, port %s)\n' "$pid" "$port"
        fi
        return 0
    fi
    printf 'stopped\n'
    return 3
}

[[ $# -eq 1 ]] || usage
case $1 in
    start) do_start ;;
    stop) do_stop ;;
    restart) do_stop; do_start ;;
    kill) do_kill ;;
    pause) do_signal STOP pause ;;
    resume) do_signal CONT resume ;;
    status) do_status ;;
    *) usage ;;
esac
