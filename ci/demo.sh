#!/usr/bin/env bash
# ci/demo.sh - the main job end to end: build, throwaway PostgreSQL + Redis,
# several replicas migrating the example migrations/ at once, the sidecar,
# /readyz and status. Everything it starts is stopped on exit.
#
# Usage: ci/demo.sh [REPLICAS]   (default 5)
set -euo pipefail
SG_PROG=ci/demo.sh
# shellcheck source=ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$SG_REPO_ROOT"

replicas=${1:-5}
[[ $replicas =~ ^[0-9]+$ ]] && ((replicas >= 1 && replicas <= 100)) ||
    sg_die "REPLICAS must be a number from 1 to 100, got '$replicas'"

bash ci/install-deps.sh
sg_log "building"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSCHEMAGATE_WERROR=ON >/dev/null
cmake --build build -j2 --target schemagate >/dev/null
bin=$SG_REPO_ROOT/build/schemagate

export SG_SVC_DIR=$SG_REPO_ROOT/.tmp/demo-services.$$
sidecar_pid=""
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ -n $sidecar_pid ]]; then
        kill -TERM "$sidecar_pid" 2>/dev/null || true
        wait "$sidecar_pid" 2>/dev/null || true
    fi
    bash ci/services.sh stop >/dev/null 2>&1 || sg_log "ci/services.sh stop failed"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

bash ci/services.sh start
eval "$(bash ci/services.sh env)"

# A database of its own, reached the way an application would be.
"$SG_PG_BIN/psql" -X -q "$SCHEMAGATE_TEST_PG_DSN" -c 'CREATE DATABASE demo'
export DATABASE_URL=${SCHEMAGATE_TEST_PG_DSN/\/postgres\?/\/demo?}
export DATABASE_SEARCH_PATH=mcp,public
export MIGRATIONS_DIR=$SG_REPO_ROOT/migrations
export REDIS_URL=$SCHEMAGATE_TEST_REDIS_URL
export SCHEMAGATE_LOG_FORMAT=text

printf '\n== %d replicas run "schemagate migrate" at the same moment ==\n' "$replicas"
pids=()
for i in $(seq 1 "$replicas"); do
    POD_NAME=demo-replica-$i "$bin" migrate 2>&1 | sed "s/^/[replica-$i] /" &
    pids+=($!)
done
failed=0
for i in "${!pids[@]}"; do
    wait "${pids[$i]}" || failed=$((failed + 1))
done
# The pipelines above report sed's status; ask the database what happened.
applied=$("$SG_PG_BIN/psql" -X -At "$DATABASE_URL" -c "SELECT count(*) || ' migrations recorded, applied by ' || string_agg(DISTINCT applied_by, ',') FROM mcp.schemagate_migrations")
printf '\n== result: %s ==\n' "$applied"

port=$(sg_free_port "$SCHEMAGATE_TEST_PG_PORT" "$SCHEMAGATE_TEST_REDIS_PORT")
printf '\n== the sidecar: schemagate serve --listen 127.0.0.1:%s ==\n' "$port"
POD_NAME=demo-replica-1 "$bin" serve --listen "127.0.0.1:$port" \
    --tables mcp.tenants,mcp.contexts,mcp.events,mcp.api_keys 2>"$SG_SVC_DIR/sidecar.log" &
sidecar_pid=$!
sg_wait_until 15 "the sidecar's /readyz" "$bin" probe --url "http://127.0.0.1:$port/readyz"

printf '\n$ curl -s http://127.0.0.1:%s/readyz?verbose\n' "$port"
curl -s "http://127.0.0.1:$port/readyz?verbose"
printf '\n$ curl -s http://127.0.0.1:%s/health\n' "$port"
curl -s "http://127.0.0.1:$port/health"
printf '\n\n$ schemagate status\n'
"$bin" status
printf '\n== done: %d replicas, %d failed; everything started here is stopped now ==\n' \
    "$replicas" "$failed"
((failed == 0))
