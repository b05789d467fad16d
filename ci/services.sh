#!/usr/bin/env bash
# ci/services.sh - a throwaway PostgreSQL 15, Redis and two PgBouncers on 127.0.0.1 for the
# integration tests.
#
# Usage: ci/services.sh start|stop|env
#   start  creates a temp folder (mktemp -d under $TMPDIR or /tmp), initdb's a
#          cluster there, starts PostgreSQL and Redis on free random ports and
#          waits until both answer. A no-op when the recorded ones still run.
#   env    prints the `export` lines for the running services:
#            eval "$(ci/services.sh env)"
#   stop   stops both servers and removes the temp folder.
#
# State lives in $SG_SVC_DIR/env (default: <repo>/.tmp/services/env), so use a
# distinct SG_SVC_DIR to run several sets side by side. As root, the servers
# run as the system user `sgtest` (created on first use): PostgreSQL refuses to
# run as root. Otherwise they run as the calling user.
# PostgreSQL: role sgtest (superuser), password auth (scram-sha-256) over TCP,
# trust on its private unix socket. Redis: no password, no persistence.
# PgBouncer (ci/pgbouncer.sh): one in pool_mode transaction, one in session,
# SCRAM, every database passed through; SCHEMAGATE_TEST_PGB_TX_DSN and
# SCHEMAGATE_TEST_PGB_SESSION_DSN reach the postgres database through them.
set -euo pipefail
SG_PROG=ci/services.sh
here=$(dirname "${BASH_SOURCE[0]}")
# shellcheck source=ci/lib.sh
source "$here/lib.sh"

readonly PG_ROLE=sgtest
readonly PG_PASSWORD=sgtest-secret-pw

svc_dir=$(sg_svc_dir)
state=$svc_dir/env

usage() {
    printf 'usage: ci/services.sh start|stop|env\n' >&2
    exit 2
}

# Writes the state file: one `export NAME='value'` line per variable.
write_state() {
    local tmp=$1 user=$2 pg_port=$3 redis_port=$4 tx_port=$5 session_port=$6 out
    # Single quotes keep the file readable by sh and humans alike.
    [[ $tmp != *"'"* && $svc_dir != *"'"* ]] || sg_die "folder names must not contain a single quote"
    out=$(mktemp "$svc_dir/env.XXXXXX")
    {
        printf "export %s='%s'\n" \
            SCHEMAGATE_TEST_PG_DSN "postgres://$PG_ROLE:$PG_PASSWORD@127.0.0.1:$pg_port/postgres?sslmode=disable" \
            SCHEMAGATE_TEST_PG_PASSWORD "$PG_PASSWORD" \
            SCHEMAGATE_TEST_PG_PORT "$pg_port" \
            SCHEMAGATE_TEST_PGDATA "$tmp/pgdata" \
            SCHEMAGATE_TEST_PG_USER "$user" \
            SCHEMAGATE_TEST_PG_LOG "$tmp/pg.log" \
            SCHEMAGATE_TEST_REDIS_URL "redis://127.0.0.1:$redis_port/0" \
            SCHEMAGATE_TEST_REDIS_PORT "$redis_port" \
            SCHEMAGATE_TEST_REDIS_PIDFILE "$tmp/redis/redis.pid" \
            SCHEMAGATE_TEST_PGB_TX_PORT "$tx_port" \
            SCHEMAGATE_TEST_PGB_SESSION_PORT "$session_port" \
            SCHEMAGATE_TEST_PGB_TX_DSN "postgres://$PG_ROLE:$PG_PASSWORD@127.0.0.1:$tx_port/postgres?sslmode=disable" \
            SCHEMAGATE_TEST_PGB_SESSION_DSN "postgres://$PG_ROLE:$PG_PASSWORD@127.0.0.1:$session_port/postgres?sslmode=disable" \
            SG_SVC_TMP "$tmp" \
            SG_SVC_DIR "$svc_dir"
    } >"$out"
    mv "$out" "$state"
}

init_postgres() {
    local tmp=$1 user=$2 port=$3
    local pgdata=$tmp/pgdata
    # The password goes through a file, never argv; removed right after.
    (umask 077 && printf '%s\n' "$PG_PASSWORD" >"$tmp/pwfile")
    [[ $user == "$(id -un)" ]] || chown "$user:" "$tmp/pwfile"
    if ! sg_run_as "$user" "$SG_PG_BIN/initdb" -D "$pgdata" -U "$PG_ROLE" \
        --pwfile="$tmp/pwfile" --auth-local=trust --auth-host=scram-sha-256 \
        --encoding=UTF8 --locale=C --no-sync --no-instructions >"$tmp/initdb.log" 2>&1; then
        tail -n 20 "$tmp/initdb.log" >&2
        sg_die "initdb failed (log: $tmp/initdb.log)"
    fi
    rm -f "$tmp/pwfile"
    # fsync and friends stay at their defaults: durability tests rely on them.
    cat >>"$pgdata/postgresql.conf" <<EOF

# ci/services.sh
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$tmp/pg-sock'
max_connections = 200
shared_buffers = 128MB
log_line_prefix = '%m [%p] %q%u@%d '
EOF
    sg_run_as "$user" mkdir "$tmp/pg-sock"
    sg_log "initialised PostgreSQL cluster in $pgdata"
}

init_redis() {
    local tmp=$1 user=$2 port=$3
    local rdir=$tmp/redis
    sg_run_as "$user" mkdir "$rdir"
    # ci/redis.sh finds this file next to the pid file and restarts Redis from it
    # on the same port.
    cat >"$rdir/redis.conf" <<EOF
port $port
bind 127.0.0.1
daemonize yes
pidfile "$rdir/redis.pid"
logfile "$rdir/redis.log"
dir "$rdir"
save ""
appendonly no
EOF
    [[ $user == "$(id -un)" ]] || chown "$user:" "$rdir/redis.conf"
}

services_alive() {
    bash "$here/pg.sh" status >/dev/null 2>&1 && bash "$here/redis.sh" status >/dev/null 2>&1 \
        && bash "$here/pgbouncer.sh" status >/dev/null 2>&1
}

do_stop() {
    local tmp
    if [[ ! -f $state ]]; then
        sg_log "nothing to stop (no $state)"
        return 0
    fi
    # shellcheck source=/dev/null
    source "$state"
    tmp=${SG_SVC_TMP:-}
    bash "$here/pgbouncer.sh" stop || true
    bash "$here/pg.sh" stop fast || bash "$here/pg.sh" kill || true
    bash "$here/redis.sh" stop || bash "$here/redis.sh" kill || true
    if [[ -n $tmp && -d $tmp ]]; then
        # Last resort for anything that survived the above (its cwd is in tmp).
        sg_reap_tmp "$tmp" sgsvc.
    fi
    rm -f "$state"
    rmdir "$svc_dir" 2>/dev/null || true
    sg_log "stopped; removed ${tmp:-temp folder}"
}

do_start() {
    local user tmp pg_port redis_port tx_port session_port
    [[ -x $SG_PG_BIN/initdb ]] || sg_die "$SG_PG_BIN/initdb not found; run ci/install-deps.sh"
    command -v redis-server >/dev/null || sg_die "redis-server not found; run ci/install-deps.sh"
    command -v redis-cli >/dev/null || sg_die "redis-cli not found; run ci/install-deps.sh"

    if [[ -f $state ]]; then
        # shellcheck source=/dev/null
        source "$state"
        if services_alive; then
            sg_log "already running (state in $state)"
            return 0
        fi
        sg_log "found stale state in $state; cleaning up first"
        do_stop
    fi

    user=$(sg_os_user)
    mkdir -p "$svc_dir"
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/sgsvc.XXXXXX")
    tmp=$(cd "$tmp" && pwd -P)
    pg_port=$(sg_free_port)
    redis_port=$(sg_free_port "$pg_port")
    tx_port=$(sg_free_port "$pg_port" "$redis_port")
    session_port=$(sg_free_port "$pg_port" "$redis_port" "$tx_port")
    write_state "$tmp" "$user" "$pg_port" "$redis_port" "$tx_port" "$session_port"
    # From here on a failure tears down whatever was started.
    trap 'rc=$?; if ((rc != 0)); then sg_log "start failed; cleaning up"; do_stop; fi' EXIT

    if [[ $user != "$(id -un)" ]]; then
        chown "$user:" "$tmp"
        sg_run_as "$user" test -w "$tmp" \
            || sg_die "$user cannot write to $tmp (is a parent folder closed to it? set TMPDIR)"
    fi
    init_postgres "$tmp" "$user" "$pg_port"
    init_redis "$tmp" "$user" "$redis_port"

    # shellcheck source=/dev/null
    source "$state"
    bash "$here/pg.sh" start
    bash "$here/redis.sh" start
    bash "$here/pgbouncer.sh" init
    bash "$here/pgbouncer.sh" start
    trap - EXIT
    sg_log "PostgreSQL on 127.0.0.1:$pg_port, Redis on 127.0.0.1:$redis_port, PgBouncer on" \
        "127.0.0.1:$tx_port (transaction) and :$session_port (session) (OS user $user, folder $tmp)"
    sg_log "next: eval \"\$(ci/services.sh env)\""
}

do_env() {
    [[ -f $state ]] || sg_die "no services recorded in $state; run ci/services.sh start first"
    cat "$state"
}

[[ $# -eq 1 ]] || usage
case $1 in
    start) do_start ;;
    stop) do_stop ;;
    env) do_env ;;
    *) usage ;;
esac
