#!/usr/bin/env bash
# ci/checks.d/70-podman.sh - builds the image with podman and runs the chart's pods on it: 3 replicas racing on one database.
#
# Usage: ci/checks.d/70-podman.sh   (root or sudo; ci/test.sh runs it as one test)
# 1. ci/image.sh builds localhost/schemagate:ci (UNIT_TESTS=0: ci/test.sh has
#    run them); checks it: at most 25 MB, no shell or package manager, numeric
#    non-root user, exec-form HEALTHCHECK; runs it once on podman's bridge.
# 2. Relays the loopback-only PostgreSQL and Redis of ci/services.sh to the
#    bridge gateway (ci/tcp-relay.js), which pods reach as
#    host.containers.internal.
# 3. Twice, without and with the Redis lease: helm template charts/schemagate
#    (ci/podman-values.yaml, migrations/ as the ConfigMap, a fresh database),
#    ci/podman-kube.js (the podman 4.3 rewrites, all in that one file), then
#    three `podman kube play` at the same moment. Checks: every init container
#    exited 0; every migration applied exactly once (one run applied them all;
#    with the lease, under a fencing token); each sidecar answers /readyz 200
#    from the host at the pod's IP; /admin/migration-status is 401 without the
#    token and 200 with it; `podman exec <pod>-schemagate schemagate status`
#    prints the table; the chart's liveness URLs answer 200; the image's
#    HEALTHCHECK passes (podman healthcheck run, in a container of its own:
#    kube play does not apply it); a SIGKILLed sidecar is restarted and ready.
# Prints the image size and the seconds from kube play to 3 sidecars ready.
# Removes its pods, secrets, relay, databases (and services, when it started
# them) on exit, also on failure. Uses the services of the caller when
# SCHEMAGATE_TEST_PG_DSN and SCHEMAGATE_TEST_REDIS_URL are set.
set -euo pipefail
SG_PROG=ci/checks.d/70-podman.sh
# shellcheck source=ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$SG_REPO_ROOT"

readonly IMAGE=localhost/schemagate:ci
readonly MAX_IMAGE_BYTES=$((25 * 1000 * 1000))
readonly REPLICAS=3
readonly READY_TIMEOUT=90 # seconds for 3 pods to migrate and turn ready

for tool in node npm psql curl redis-cli ip; do
    command -v "$tool" >/dev/null \
        || sg_die "$tool not found (node/npm come with the machine; the rest: ci/install-deps.sh)"
done

mkdir -p "$SG_REPO_ROOT/.tmp"
work=$(mktemp -d "$SG_REPO_ROOT/.tmp/podman-check.XXXXXX")
own_services=""
relay_pid=""
pods=()
secrets=()
containers=()
databases=()

# pod_rm POD: removes the pod and its containers. Under load, podman's stop can
# give up before the killed processes are reaped ("given PIDs did not die within
# timeout"): try again, five times at most.
pod_rm() {
    local try
    for try in 1 2 3 4 5; do
        podman pod rm -f -t 0 "$1" >/dev/null && return 0
        sg_log "podman pod rm $1 failed (try $try of 5)"
        sleep 2
    done
    return 1
}

cleanup() {
    local rc=$? p
    trap - EXIT
    set +e
    for p in "${pods[@]}"; do
        pod_rm "$p" 2>/dev/null || sg_log "could not remove pod $p"
    done
    for p in "${containers[@]}"; do
        podman rm -f -t 0 "$p" >/dev/null 2>&1 || sg_log "could not remove container $p"
    done
    for p in "${secrets[@]}"; do
        podman secret rm "$p" >/dev/null 2>&1
    done
    if [[ -n $relay_pid ]]; then
        kill "$relay_pid" 2>/dev/null
        wait "$relay_pid" 2>/dev/null
    fi
    for p in "${databases[@]}"; do
        psql "$SCHEMAGATE_TEST_PG_DSN" -qXc "DROP DATABASE IF EXISTS $p WITH (FORCE)" >/dev/null 2>&1
    done
    if [[ -n $own_services ]]; then
        SG_SVC_DIR=$own_services bash ci/services.sh stop
    fi
    if ((rc == 0)); then
        rm -rf "$work"
    else
        sg_log "failed; logs kept in $work"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [[ -z ${SCHEMAGATE_TEST_PG_DSN:-} || -z ${SCHEMAGATE_TEST_REDIS_URL:-} ]]; then
    own_services=$SG_REPO_ROOT/.tmp/podman-services.$$
    SG_SVC_DIR=$own_services bash ci/services.sh start
    eval "$(SG_SVC_DIR=$own_services bash ci/services.sh env)"
fi
sg_require_var SCHEMAGATE_TEST_PG_DSN SCHEMAGATE_TEST_PG_PORT SCHEMAGATE_TEST_PG_PASSWORD SCHEMAGATE_TEST_REDIS_PORT

# --- 1. the image ---------------------------------------------------------
start=$SECONDS
SG_IMAGE_UNIT_TESTS=0 bash ci/image.sh build "$IMAGE"
eval "$(bash ci/image.sh env)"
build_secs=$((SECONDS - start))

size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
((size <= MAX_IMAGE_BYTES)) || sg_die "$IMAGE is $size bytes, more than $MAX_IMAGE_BYTES"
user=$(podman image inspect --format '{{.Config.User}}' "$IMAGE")
[[ $user =~ ^[1-9][0-9]*:[0-9]+$ ]] || sg_die "$IMAGE runs as '$user', not a numeric non-root user:group"
health=$(podman image inspect --format '{{json .Config.Healthcheck.Test}}' "$IMAGE")
[[ $health == '["CMD","/usr/local/bin/schemagate","probe",'* ]] \
    || sg_die "$IMAGE: HEALTHCHECK is not exec-form schemagate probe: $health"
mnt=$(podman image mount "$IMAGE")
found=$(cd "$mnt" && find . \( -name sh -o -name bash -o -name dash -o -name busybox \
    -o -name apt -o -name apt-get -o -name dpkg \) -print)
podman image unmount "$IMAGE" >/dev/null
[[ -z $found ]] || sg_die "$IMAGE holds a shell or package manager: $found"
# podman's bridge exists only while a container is attached to it (the
# cleanup of the last one removes it), and the relay binds its gateway
# address: an empty pod (its pause process) holds it from before the first
# container here to the end.
anchor=sg-bridge-$$
pods+=("$anchor")
podman pod create --name "$anchor" --network podman >/dev/null || sg_die "podman pod create $anchor failed"
podman pod start "$anchor" >/dev/null || sg_die "could not start pod $anchor on podman's bridge"
if podman run --rm --network podman --entrypoint /bin/sh "$IMAGE" -c true >/dev/null 2>&1; then
    sg_die "$IMAGE runs /bin/sh"
fi
out=$(podman run --rm --network podman "$IMAGE" --version 2>/dev/null) || sg_die "podman run $IMAGE --version failed"
sg_log "ok: $IMAGE: $size bytes, user $user, HEALTHCHECK exec-form, no shell; runs: $out (build step ${build_secs} s)"

# --- 2. the relay ---------------------------------------------------------
gw=$(podman network inspect podman --format '{{range .Subnets}}{{.Gateway}}{{end}}')
[[ -n $gw ]] || sg_die "podman network 'podman' has no gateway"
gw_up() { ip -o addr show | grep -q "inet $gw/"; }
sg_wait_until 10 "podman's bridge to have its gateway address $gw" gw_up
node ci/tcp-relay.js "$gw" "127.0.0.1:$SCHEMAGATE_TEST_PG_PORT" "127.0.0.1:$SCHEMAGATE_TEST_REDIS_PORT" \
    >"$work/relay.out" 2>"$work/relay.err" &
relay_pid=$!
relay_ready() { [[ $(wc -l <"$work/relay.out") -eq 2 ]]; }
sg_wait_until 10 "the TCP relay to listen on $gw" relay_ready
pg_relay=$(awk -v t="127.0.0.1:$SCHEMAGATE_TEST_PG_PORT" '$1 == t { print $2 }' "$work/relay.out")
redis_relay=$(awk -v t="127.0.0.1:$SCHEMAGATE_TEST_REDIS_PORT" '$1 == t { print $2 }' "$work/relay.out")
sg_log "relay: $gw:$pg_relay -> PostgreSQL, $gw:$redis_relay -> Redis"

HELM=$(bash ci/helm.sh helm)
NODE_PATH=$(bash ci/e2e-node.sh)
export NODE_PATH

helm_args=()
up_files=0
for f in migrations/*.sql; do
    name=$(basename "$f")
    helm_args+=(--set-file "migrations.files.${name//./\\.}=$f")
    [[ $name == *.up.sql ]] && up_files=$((up_files + 1))
done
((up_files > 0)) || sg_die "no migrations/*.up.sql"

# $1: a psql query on database $2; prints the unaligned result.
sql() {
    psql "${SCHEMAGATE_TEST_PG_DSN%%/postgres\?*}/$2?sslmode=disable" -qXAt -v ON_ERROR_STOP=1 -c "$1"
}

# HTTP status of GET $1 (extra curl arguments follow).
http_code() {
    curl -s -o /dev/null -m 3 -w '%{http_code}' "$@" || true
}

pod_ip() {
    local infra
    infra=$(podman pod inspect "$1" --format '{{.InfraContainerID}}')
    podman inspect "$infra" --format '{{.NetworkSettings.Networks.podman.IPAddress}}'
}

# --- 3. the chart on podman -----------------------------------------------
run_case() {
    local name=$1 lease=$2
    local dir=$work/$name db="sg_podman_${name}_$$" token t0 i p ip pid restarts
    local -a case_pods=() files=() inits=() play_pids=() livez=()
    local sidecar port
    mkdir -p "$dir"
    sg_log "[$name] database $db, lease $lease"
    psql "$SCHEMAGATE_TEST_PG_DSN" -qXc "CREATE DATABASE $db" >/dev/null
    databases+=("$db")
    token=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
    # Credentials go through a file, not argv.
    (
        umask 077
        printf 'secret:\n  databaseUrl: "postgres://sgtest:%s@host.containers.internal:%s/%s?sslmode=disable"\n' \
            "$SCHEMAGATE_TEST_PG_PASSWORD" "$pg_relay" "$db"
        printf '  adminToken: "%s"\n' "$token"
        if [[ $lease == on ]]; then
            printf '  redisUrl: "redis://host.containers.internal:%s/0"\n' "$redis_relay"
            printf 'leader:\n  enabled: true\n  required: true\n'
        fi
    ) >"$dir/secret-values.yaml"
    "$HELM" template sg charts/schemagate -f ci/podman-values.yaml -f "$dir/secret-values.yaml" \
        "${helm_args[@]}" >"$dir/rendered.yaml" 2> >(grep -v 'found symbolic link in path' >&2) \
        || sg_die "[$name] helm template failed"
    node ci/podman-kube.js "$dir/rendered.yaml" "$dir/kube" "$REPLICAS" >"$dir/plan" \
        || sg_die "[$name] ci/podman-kube.js failed"
    while read -r kind a b c; do
        case $kind in
            pod) files+=("$a") ;;
            secret)
                podman secret create "$a" "$b" >/dev/null || sg_die "[$name] podman secret create $a failed"
                secrets+=("$a")
                ;;
            init) inits+=("$a") ;;
            sidecar) sidecar=$a port=$b ;;
            liveness) livez+=("$b $c") ;;
        esac
    done <"$dir/plan"
    [[ ${#files[@]} -eq $REPLICAS && -n ${sidecar:-} ]] || sg_die "[$name] unexpected plan: $(tr '\n' ';' <"$dir/plan")"

    # All at once, so that the init containers race on the database.
    t0=$(date +%s.%N)
    for i in "${!files[@]}"; do
        podman kube play --network podman "${files[$i]}" >"$dir/play-$i.log" 2>&1 &
        play_pids+=($!)
    done
    for i in "${!play_pids[@]}"; do
        if ! wait "${play_pids[$i]}"; then
            tail -n 20 "$dir/play-$i.log" >&2
            sg_die "[$name] podman kube play ${files[$i]} failed"
        fi
        p=$(awk '/^Pod:/ { getline; print; exit }' "$dir/play-$i.log")
        [[ -n $p ]] || sg_die "[$name] no pod id in the output of kube play ${files[$i]}"
        p=$(podman pod inspect "$p" --format '{{.Name}}')
        case_pods+=("$p")
        pods+=("$p")
    done

    # Ready: /readyz 200 from the host at each pod's IP.
    local -A ready_ip=()
    local deadline=$((SECONDS + READY_TIMEOUT)) all
    while :; do
        all=1
        for p in "${case_pods[@]}"; do
            [[ -n ${ready_ip[$p]:-} ]] && continue
            ip=$(pod_ip "$p")
            if [[ -n $ip && $(http_code "http://$ip:$port/readyz") == 200 ]]; then
                ready_ip[$p]=$ip
            else
                all=0
            fi
        done
        ((all)) && break
        if ((SECONDS > deadline)); then
            for p in "${case_pods[@]}"; do
                podman logs --tail 5 "$p-$sidecar" >&2 2>&1 || true
            done
            sg_die "[$name] not all sidecars answered /readyz 200 within ${READY_TIMEOUT}s"
        fi
        sleep 0.2
    done
    ready_secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    sg_log "[$name] ok: $REPLICAS sidecars ready (/readyz 200 at ${ready_ip[*]}) ${ready_secs} s after kube play"

    local state
    for p in "${case_pods[@]}"; do
        for i in "${inits[@]}"; do
            state=$(podman inspect "$p-$i" --format '{{.State.Status}} {{.State.ExitCode}}') \
                || sg_die "[$name] init container $p-$i is gone (not kept for its exit code)"
            [[ $state == 'exited 0' ]] || sg_die "[$name] init container $p-$i: $state"
        done
    done
    sg_log "[$name] ok: all $((REPLICAS * ${#inits[@]})) init containers exited 0"

    # Exactly once: one row per file, none dirty, and the runs that applied
    # anything applied each version once between them.
    local rows applied runs fenced
    rows=$(sql "SELECT count(*) FILTER (WHERE NOT dirty) || ' ' || count(DISTINCT version) || ' ' || count(*) FROM mcp.schemagate_migrations" "$db")
    [[ $rows == "$up_files $up_files $up_files" ]] \
        || sg_die "[$name] schemagate_migrations: clean/distinct/total = $rows, expected $up_files each"
    # One run went from no version (-1) to the head, and no other run applied anything.
    applied=$(sql "SELECT string_agg(from_version || ' -> ' || reached_version, ', ') FROM mcp.schemagate_migrations_runs WHERE command = 'migrate' AND outcome = 'succeeded' AND reached_version > from_version" "$db")
    runs=$(sql "SELECT count(*) FROM mcp.schemagate_migrations_runs WHERE command = 'migrate' AND reached_version > from_version" "$db")
    [[ $applied == "-1 -> $(sql 'SELECT max(version) FROM mcp.schemagate_migrations' "$db")" && $runs == 1 ]] \
        || sg_die "[$name] migrate runs that applied versions: $applied ($runs run(s)): expected one, from none (-1) to the head"
    if [[ $lease == on ]]; then
        fenced=$(sql "SELECT count(*) FROM mcp.schemagate_migrations_runs WHERE reached_version > from_version AND fencing_token IS NOT NULL" "$db")
        [[ $fenced == 1 ]] || sg_die "[$name] the run that applied the migrations holds no fencing token (lease not used)"
    fi
    sg_log "[$name] ok: $up_files migrations applied exactly once, by one of $REPLICAS pods$([[ $lease == on ]] && printf ' under the Redis lease')"

    local out
    for p in "${case_pods[@]}"; do
        ip=${ready_ip[$p]}
        [[ $(http_code "http://$ip:$port/admin/migration-status") == 401 ]] \
            || sg_die "[$name] $p: /admin/migration-status without the token is not 401"
        [[ $(http_code -H @- "http://$ip:$port/admin/migration-status" <<<"Authorization: Bearer $token") == 200 ]] \
            || sg_die "[$name] $p: /admin/migration-status with the token is not 200"
        out=$(podman exec "$p-$sidecar" schemagate status 2>&1) || sg_die "[$name] podman exec $p-$sidecar schemagate status failed: $out"
        for f in migrations/*.up.sql; do
            f=$(basename "$f" .up.sql) # 000001_name: row "1  name ... applied"
            grep -q "^$((10#${f%%_*}))[[:space:]]\+${f#*_}[[:space:]].*applied\$" <<<"$out" \
                || sg_die "[$name] $p: schemagate status lists no applied row for $f: $out"
        done
        for i in "${livez[@]}"; do
            [[ $(http_code "http://$ip:${i%% *}${i#* }") == 200 ]] \
                || sg_die "[$name] $p: the chart's liveness URL :${i%% *}${i#* } is not 200"
        done
    done
    sg_log "[$name] ok: admin 401/200, schemagate status table, liveness URLs 200 in every pod"

    # The image's HEALTHCHECK (kube play does not apply it: see ci/podman-kube.js)
    # in a sidecar of its own, run by hand: podman schedules it through systemd.
    local hc=sg-healthcheck-$$
    (
        umask 077
        printf 'DATABASE_URL=postgres://sgtest:%s@host.containers.internal:%s/%s?sslmode=disable\n' \
            "$SCHEMAGATE_TEST_PG_PASSWORD" "$pg_relay" "$db"
        printf 'DATABASE_SEARCH_PATH=mcp,public\n'
    ) >"$dir/healthcheck.env"
    containers+=("$hc")
    podman run -d --name "$hc" --network podman --env-file "$dir/healthcheck.env" "$IMAGE" \
        serve --listen=0.0.0.0:8081 --expect-version="$up_files" >/dev/null 2>"$dir/healthcheck.log" \
        || sg_die "[$name] podman run $hc failed: $(tail -n 3 "$dir/healthcheck.log")"
    sg_wait_until 30 "podman healthcheck run $hc to pass" podman healthcheck run "$hc"
    podman rm -f -t 0 "$hc" >/dev/null
    containers=()
    sg_log "[$name] ok: the image's HEALTHCHECK (exec-form schemagate probe) passes in a serving container"

    # A SIGKILLed sidecar process comes back (restartPolicy) and turns ready.
    p=${case_pods[0]}
    pid=$(podman inspect "$p-$sidecar" --format '{{.State.Pid}}')
    restarts=$(podman inspect "$p-$sidecar" --format '{{.RestartCount}}')
    [[ $pid =~ ^[1-9][0-9]*$ ]] || sg_die "[$name] no pid for $p-$sidecar"
    kill -KILL "$pid"
    restarted() {
        [[ $(podman inspect "$1" --format '{{.RestartCount}} {{.State.Status}}') == "$(($2 + 1)) running" ]] \
            && [[ $(http_code "http://$3/readyz") == 200 ]]
    }
    sg_wait_until 60 "$p-$sidecar to restart after SIGKILL and answer /readyz 200" \
        restarted "$p-$sidecar" "$restarts" "${ready_ip[$p]}:$port"
    sg_log "[$name] ok: SIGKILLed sidecar of $p restarted (pid $pid -> $(podman inspect "$p-$sidecar" --format '{{.State.Pid}}')) and ready"

    for p in "${case_pods[@]}"; do
        pod_rm "$p" || sg_die "[$name] podman pod rm $p failed"
    done
    pods=("$anchor")
    for p in "${secrets[@]}"; do
        podman secret rm "$p" >/dev/null
    done
    secrets=()
    eval "ready_${name}=\$ready_secs"
}

run_case nolease off
run_case lease on
# shellcheck disable=SC2154 # set by run_case through eval
sg_log "ok: image $size bytes; kube play -> $REPLICAS sidecars ready: ${ready_nolease} s without the lease, ${ready_lease} s with it"
