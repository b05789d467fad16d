#!/usr/bin/env bash
# ci/pgbouncer.sh - two throwaway PgBouncers in front of ci/services.sh's PostgreSQL: one in
# transaction pooling mode, one in session mode.
#
# Usage: ci/pgbouncer.sh init|start|stop|status
#   init    writes the configuration (called by ci/services.sh start)
#   start   starts both (daemonised) and waits until each answers a query
#   stop    SIGTERM (SIGKILL after 10 s) and waits until both have exited
#   status  exit 0 when both run, 3 when not
#
# Reads SCHEMAGATE_TEST_PGB_TX_PORT, _PGB_SESSION_PORT, _PG_PORT, _PG_PASSWORD and SG_SVC_TMP from
# the environment, else from the state file of ci/services.sh. PgBouncer refuses to run as root:
# it runs as the owner of its folder (the services' OS user). Every database name is passed
# through to the server ("*" entry), so tests can use the databases they create; the alias
# sg_alias leads to the database sg_alias_target (a test creates it: a pooler's name for a
# database that differs from the server's); client and
# server authentication are SCRAM (auth_file holds the test role's password, mode 600).
set -euo pipefail
SG_PROG=ci/pgbouncer.sh
# shellcheck source=ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
    printf 'usage: ci/pgbouncer.sh init|start|stop|status\n' >&2
    exit 2
}

case ${1:-} in
    init | start | stop | status) ;;
    *) usage ;;
esac
sg_load_env
sg_require_var SCHEMAGATE_TEST_PGB_TX_PORT SCHEMAGATE_TEST_PGB_SESSION_PORT \
    SCHEMAGATE_TEST_PG_PORT SCHEMAGATE_TEST_PG_PASSWORD SG_SVC_TMP
dir=$SG_SVC_TMP/pgbouncer
modes=(transaction session)

port_of() {
    if [[ $1 == transaction ]]; then
        printf '%s\n' "$SCHEMAGATE_TEST_PGB_TX_PORT"
    else
        printf '%s\n' "$SCHEMAGATE_TEST_PGB_SESSION_PORT"
    fi
}

do_init() {
    local user=$1 mode port
    command -v pgbouncer >/dev/null || sg_die "pgbouncer not found; run ci/install-deps.sh"
    mkdir -p "$dir"
    [[ $user == "$(id -un)" ]] || chown "$user:" "$dir"
    (umask 077 && printf '"sgtest" "%s"\n' "$SCHEMAGATE_TEST_PG_PASSWORD" >"$dir/userlist.txt")
    [[ $user == "$(id -un)" ]] || chown "$user:" "$dir/userlist.txt"
    for mode in "${modes[@]}"; do
        port=$(port_of "$mode")
        cat >"$dir/$mode.ini" <<INI
[databases]
sg_alias = host=127.0.0.1 port=$SCHEMAGATE_TEST_PG_PORT dbname=sg_alias_target
* = host=127.0.0.1 port=$SCHEMAGATE_TEST_PG_PORT

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
pool_mode = $mode
auth_type = scram-sha-256
auth_file = $dir/userlist.txt
max_client_conn = 1000
default_pool_size = 20
max_db_connections = 40
logfile = $dir/$mode.log
pidfile = $dir/$mode.pid
ignore_startup_parameters = extra_float_digits
server_login_retry = 1
INI
        [[ $user == "$(id -un)" ]] || chown "$user:" "$dir/$mode.ini"
    done
}

pid_of() {
    local pid
    pid=$(cat "$dir/$1.pid" 2>/dev/null) || return 1
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    printf '%s\n' "$pid"
}

running() {
    local pid
    pid=$(pid_of "$1") && sg_pid_alive "$pid"
}

not_running() {
    ! running "$1"
}

answers() {
    PGPASSWORD=$SCHEMAGATE_TEST_PG_PASSWORD PGCONNECT_TIMEOUT=2 \
        "$SG_PG_BIN/psql" -X -q -t -h 127.0.0.1 -p "$(port_of "$1")" -U sgtest -d postgres \
        -c 'select 1' >/dev/null 2>&1
}

do_start() {
    local user mode
    [[ -f $dir/transaction.ini ]] || sg_die "$dir/transaction.ini missing; run ci/services.sh start"
    user=$(stat -c %U "$dir")
    for mode in "${modes[@]}"; do
        if running "$mode"; then
            continue
        fi
        rm -f "$dir/$mode.pid"
        sg_run_as "$user" pgbouncer -d -q "$dir/$mode.ini" \
            || { tail -n 20 "$dir/$mode.log" >&2 || true; sg_die "pgbouncer ($mode) failed to start"; }
        sg_wait_until 30 "PgBouncer ($mode) on 127.0.0.1:$(port_of "$mode")" answers "$mode"
    done
}

do_stop() {
    local mode pid
    for mode in "${modes[@]}"; do
        pid=$(pid_of "$mode") || continue
        sg_pid_alive "$pid" || continue
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 100); do
            running "$mode" || break
            sleep 0.1
        done
        if running "$mode"; then
            kill -KILL "$pid" 2>/dev/null || true
            sg_wait_until 5 "PgBouncer ($mode) to die" not_running "$mode"
        fi
    done
}

case $1 in
    init) do_init "$(stat -c %U "$SG_SVC_TMP")" ;;
    start) do_start ;;
    stop) do_stop ;;
    status)
        for mode in "${modes[@]}"; do running "$mode" || exit 3; done
        ;;
esac
