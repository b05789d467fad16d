#!/usr/bin/env bash
# ci/ha.sh - a throwaway pg_auto_failover formation (monitor, primary, secondary) on 127.0.0.1
# for the failover tests.
#
# Usage: ci/ha.sh start|stop|env|status|wait|failover|kill-primary
#   start         creates a temp folder (mktemp -d under $TMPDIR or /tmp), creates a
#                 monitor and two PostgreSQL 15 nodes there with Debian's pg_autoctl
#                 (postgresql-15-auto-failover) on free random ports, runs them, and waits
#                 until one node is primary and the other a streaming secondary. A no-op
#                 when the recorded formation still runs.
#   env           prints the `export` lines: eval "$(ci/ha.sh env)"
#   status        pg_autoctl show state
#   wait          waits until the formation is healthy again (one primary, one secondary)
#   failover      asks the monitor for a failover (pg_autoctl perform failover) and waits
#                 until the other node is primary and the old one has rejoined as its
#                 secondary; prints how long that took
#   kill-primary  SIGKILL of the primary's postmaster, as in a crash; pg_autoctl restarts
#                 it (or the monitor fails over); waits until the formation is healthy
#   stop          stops the three pg_autoctl services and removes the temp folder
#
# State lives in $SG_HA_DIR/env (default: <repo>/.tmp/ha), apart from ci/services.sh's.
# As root, everything runs as the system user `sgtest` (ci/lib.sh sg_os_user), otherwise as
# the calling user. Authentication is trust on 127.0.0.1 (initdb --auth=trust, pg_autoctl
# --auth trust) and there is no TLS (--no-ssl): loopback only, throwaway data.
# SCHEMAGATE_TEST_HA_DSN is the multi-host URL an application would use:
#   postgres://sgtest@127.0.0.1:P1,127.0.0.1:P2/postgres?target_session_attrs=read-write
# Bounds: every wait gives up after SG_HA_WAIT seconds (default 300): a failover takes as
# long as it takes, a formation that is not healthy after five minutes is broken.
set -euo pipefail
SG_PROG=ci/ha.sh
here=$(dirname "${BASH_SOURCE[0]}")
# shellcheck source=ci/lib.sh
source "$here/lib.sh"

readonly HA_ROLE=sgtest
readonly FORMATION=default
wait_secs=${SG_HA_WAIT:-300}
ha_dir=${SG_HA_DIR:-$SG_REPO_ROOT/.tmp/ha}
state=$ha_dir/env

usage() {
    printf 'usage: ci/ha.sh start|stop|env|status|wait|failover|kill-primary\n' >&2
    exit 2
}

load_state() {
    [[ -f $state ]] || sg_die "no formation recorded in $state; run ci/ha.sh start first"
    # shellcheck source=/dev/null
    source "$state"
}

# pg_autoctl as the formation's OS user, with its configuration, state and sockets in the
# temp folder (pg_autoctl keeps them under the XDG folders, else under $HOME, which the
# system user does not have).
autoctl() {
    local tmp=$SG_HA_TMP
    sg_run_as "$SCHEMAGATE_TEST_HA_USER" env \
        XDG_CONFIG_HOME="$tmp/config" XDG_DATA_HOME="$tmp/share" XDG_RUNTIME_DIR="$tmp/run" \
        PG_REGRESS_SOCK_DIR="$tmp/sock" PGHOST="$tmp/sock" PATH="$SG_PG_BIN:$PATH" \
        pg_autoctl "$@"
}

# Starts `pg_autoctl <args>` in the background, detached, its output in $1. Its working
# folder is the temp folder, so sg_pids_under finds it when stop has to clean up.
autoctl_bg() {
    local log=$1 tmp=$SG_HA_TMP
    shift
    if [[ $SCHEMAGATE_TEST_HA_USER == "$(id -un)" ]]; then
        (cd "$tmp" && exec env XDG_CONFIG_HOME="$tmp/config" XDG_DATA_HOME="$tmp/share" \
            XDG_RUNTIME_DIR="$tmp/run" PG_REGRESS_SOCK_DIR="$tmp/sock" PGHOST="$tmp/sock" \
            PATH="$SG_PG_BIN:$PATH" setsid pg_autoctl "$@" >"$log" 2>&1 </dev/null) &
    else
        (cd "$tmp" && exec runuser -u "$SCHEMAGATE_TEST_HA_USER" -- env \
            XDG_CONFIG_HOME="$tmp/config" XDG_DATA_HOME="$tmp/share" \
            XDG_RUNTIME_DIR="$tmp/run" PG_REGRESS_SOCK_DIR="$tmp/sock" PGHOST="$tmp/sock" \
            PATH="$SG_PG_BIN:$PATH" setsid pg_autoctl "$@" >"$log" 2>&1 </dev/null) &
    fi
}

monitor_sql() {
    "$SG_PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 "$SCHEMAGATE_TEST_HA_MONITOR_DSN" -c "$1"
}

# "primary-port secondary-port" when the formation is healthy: one node primary and one
# secondary, both in the state the monitor assigned, both seen healthy by the monitor.
# Fails otherwise.
healthy_ports() {
    local out
    out=$(monitor_sql "SELECT
        (SELECT string_agg(nodeport::text, ',') FROM pgautofailover.node
          WHERE reportedstate = 'primary' AND goalstate = 'primary' AND health = 1),
        (SELECT string_agg(nodeport::text, ',') FROM pgautofailover.node
          WHERE reportedstate = 'secondary' AND goalstate = 'secondary' AND health = 1),
        (SELECT count(*) FROM pgautofailover.node)" 2>/dev/null) || return 1
    [[ $out =~ ^([0-9]+)\|([0-9]+)\|2$ ]] || return 1
    printf '%s %s\n' "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"
}

# True when the multi-host URL reaches a server that takes writes.
writable() {
    "$SG_PG_BIN/psql" -X -q -At "$SCHEMAGATE_TEST_HA_DSN&connect_timeout=2" \
        -c 'SELECT NOT pg_is_in_recovery()' 2>/dev/null | grep -qx t
}

healthy() {
    healthy_ports >/dev/null && writable
}

# Waits until the formation is healthy; with an argument, also until the primary is
# another port than that one.
wait_healthy() {
    local not=${1:-} tries=$((wait_secs * 5)) ports
    while :; do
        if ports=$(healthy_ports) && [[ -z $not || ${ports%% *} != "$not" ]] && writable; then
            printf '%s\n' "$ports"
            return 0
        fi
        tries=$((tries - 1))
        if ((tries <= 0)); then
            autoctl show state --monitor "$SCHEMAGATE_TEST_HA_MONITOR_DSN" >&2 || true
            sg_die "formation not healthy after ${wait_secs}s (logs in $SG_HA_TMP)"
        fi
        sleep 0.2
    done
}

write_state() {
    local tmp=$1 user=$2 mport=$3 p1=$4 p2=$5 out
    [[ $tmp != *"'"* && $ha_dir != *"'"* ]] || sg_die "folder names must not contain a single quote"
    out=$(mktemp "$ha_dir/env.XXXXXX")
    {
        printf "export %s='%s'\n" \
            SCHEMAGATE_TEST_HA_DSN "postgres://$HA_ROLE@127.0.0.1:$p1,127.0.0.1:$p2/postgres?target_session_attrs=read-write&sslmode=disable" \
            SCHEMAGATE_TEST_HA_PORTS "$p1,$p2" \
            SCHEMAGATE_TEST_HA_MONITOR_DSN "postgres://autoctl_node@127.0.0.1:$mport/pg_auto_failover?sslmode=disable" \
            SCHEMAGATE_TEST_HA_USER "$user" \
            SG_HA_TMP "$tmp" \
            SG_HA_DIR "$ha_dir"
    } >"$out"
    mv "$out" "$state"
}

formation_alive() {
    [[ -n ${SG_HA_TMP:-} && -d $SG_HA_TMP ]] && healthy
}

do_stop() {
    local tmp node
    if [[ ! -f $state ]]; then
        sg_log "nothing to stop (no $state)"
        return 0
    fi
    load_state
    tmp=${SG_HA_TMP:-}
    if [[ -n $tmp && -d $tmp ]]; then
        # Nodes first, the monitor last, so nobody fails over on the way down.
        for node in node1 node2 monitor; do
            if [[ -f $tmp/$node/PG_VERSION ]]; then
                autoctl stop --pgdata "$tmp/$node" >/dev/null 2>&1 || true
            fi
        done
        for _ in $(seq 1 600); do
            sg_no_pids_under "$tmp" && break
            sleep 0.1
        done
        sg_reap_tmp "$tmp" sgha.
    fi
    rm -f "$state"
    rmdir "$ha_dir" 2>/dev/null || true
    sg_log "stopped; removed ${tmp:-temp folder}"
}

# pg_autoctl create postgres for one node, then runs it.
start_node() {
    local name=$1 port=$2
    autoctl_bg "$SG_HA_TMP/$name.log" create postgres --pgdata "$SG_HA_TMP/$name" \
        --pgport "$port" --pgctl "$SG_PG_BIN/pg_ctl" --hostname 127.0.0.1 --listen 127.0.0.1 \
        --name "$name" --formation "$FORMATION" --monitor "$SCHEMAGATE_TEST_HA_MONITOR_DSN" \
        --auth trust --no-ssl --username "$HA_ROLE" --dbname postgres --run
}

not_alive() {
    ! sg_pid_alive "$1"
}

node_state() {
    monitor_sql "SELECT reportedstate FROM pgautofailover.node WHERE nodename = '$1'" 2>/dev/null
}

node_is() {
    [[ $(node_state "$1") == "$2" ]]
}

do_start() {
    local user tmp mport p1 p2 t0
    command -v pg_autoctl >/dev/null || sg_die "pg_autoctl not found; run ci/install-deps.sh"
    [[ -x $SG_PG_BIN/pg_ctl ]] || sg_die "$SG_PG_BIN/pg_ctl not found; run ci/install-deps.sh"
    if [[ -f $state ]]; then
        load_state
        if formation_alive; then
            sg_log "already running (state in $state)"
            return 0
        fi
        sg_log "found stale state in $state; cleaning up first"
        do_stop
    fi
    t0=$SECONDS
    user=$(sg_os_user)
    mkdir -p "$ha_dir"
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/sgha.XXXXXX")
    tmp=$(cd "$tmp" && pwd -P)
    mport=$(sg_free_port)
    p1=$(sg_free_port "$mport")
    p2=$(sg_free_port "$mport" "$p1")
    write_state "$tmp" "$user" "$mport" "$p1" "$p2"
    load_state
    trap 'rc=$?; if ((rc != 0)); then sg_log "start failed; cleaning up"; do_stop; fi' EXIT
    if [[ $user != "$(id -un)" ]]; then
        chown "$user:" "$tmp"
        sg_run_as "$user" test -w "$tmp" \
            || sg_die "$user cannot write to $tmp (is a parent folder closed to it? set TMPDIR)"
    fi
    sg_run_as "$user" mkdir -p "$tmp/sock" "$tmp/run" "$tmp/config" "$tmp/share"

    if ! autoctl create monitor --pgdata "$tmp/monitor" --pgport "$mport" \
        --pgctl "$SG_PG_BIN/pg_ctl" --hostname 127.0.0.1 --auth trust --no-ssl \
        >"$tmp/monitor-create.log" 2>&1; then
        tail -n 20 "$tmp/monitor-create.log" >&2
        sg_die "pg_autoctl create monitor failed (log: $tmp/monitor-create.log)"
    fi
    # The monitor listens on every address unless told otherwise.
    autoctl config set --pgdata "$tmp/monitor" postgresql.listen_addresses 127.0.0.1 >/dev/null
    autoctl_bg "$tmp/monitor.log" run --pgdata "$tmp/monitor"
    sg_wait_until "$wait_secs" "the monitor on 127.0.0.1:$mport" monitor_sql 'SELECT 1'
    sg_log "monitor up on 127.0.0.1:$mport after $((SECONDS - t0))s"

    # One node at a time: the first becomes the primary ("single" until a second joins),
    # the second is cloned from it with pg_basebackup.
    start_node node1 "$p1"
    sg_wait_until "$wait_secs" "node1 to run alone" node_is node1 single
    sg_log "node1 up on 127.0.0.1:$p1 after $((SECONDS - t0))s"
    start_node node2 "$p2"
    wait_healthy >/dev/null
    trap - EXIT
    sg_log "formation healthy after $((SECONDS - t0))s: monitor :$mport, nodes :$p1 :$p2" \
        "(OS user $user, folder $tmp)"
    sg_log "next: eval \"\$(ci/ha.sh env)\""
}

do_failover() {
    local before after t0=$SECONDS
    load_state
    before=$(wait_healthy)
    monitor_sql "SELECT pgautofailover.perform_failover('$FORMATION', 0)" >/dev/null
    after=$(wait_healthy "${before%% *}")
    sg_log "failover: primary moved from :${before%% *} to :${after%% *}, formation healthy" \
        "again after $((SECONDS - t0))s"
}

do_kill_primary() {
    local before after port node pid t0=$SECONDS
    load_state
    before=$(wait_healthy)
    port=${before%% *}
    node=$(monitor_sql "SELECT nodename FROM pgautofailover.node WHERE nodeport = $port")
    pid=$(head -n 1 "$SG_HA_TMP/$node/postmaster.pid")
    if ! [[ $pid =~ ^[0-9]+$ ]] || ! sg_pid_alive "$pid"; then
        sg_die "no postmaster for $node (:$port)"
    fi
    kill -KILL "$pid"
    sg_wait_until 10 "postmaster $pid to die" not_alive "$pid"
    # The monitor has to see the node fail before "healthy" means anything again.
    after=$(wait_healthy)
    sg_log "killed $node's postmaster $pid (:$port); primary now :${after%% *}, formation" \
        "healthy again after $((SECONDS - t0))s"
}

[[ $# -eq 1 ]] || usage
case $1 in
    start) do_start ;;
    stop) do_stop ;;
    env) load_state; cat "$state" ;;
    status) load_state; autoctl show state --monitor "$SCHEMAGATE_TEST_HA_MONITOR_DSN" ;;
    wait) load_state; wait_healthy >/dev/null ;;
    failover) do_failover ;;
    kill-primary) do_kill_primary ;;
    *) usage ;;
esac
