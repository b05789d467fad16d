#!/usr/bin/env bash
# ci/checks.d/55-valgrind.sh - valgrind memcheck on `migrate` (a small folder) and a short `serve` session.
#
# Usage: ci/checks.d/55-valgrind.sh   (needs the test services: run by ci/test.sh,
#        or by hand after ci/services.sh start)
# Fails on any invalid access or definite leak (--errors-for-leak-kinds=definite,
# --error-exitcode=99) and on a wrong exit status. Uses build/schemagate when
# ci/test.sh built it, else builds the binary alone in build-valgrind/.
set -euo pipefail
SG_PROG=ci/checks.d/55-valgrind.sh
# shellcheck source=ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$SG_REPO_ROOT"

command -v valgrind >/dev/null 2>&1 || bash ci/install-deps.sh valgrind
sg_load_env
sg_require_var SCHEMAGATE_TEST_PG_DSN

bin=${SG_VALGRIND_BIN:-$SG_REPO_ROOT/build/schemagate}
if [[ ! -x $bin ]]; then
    sg_log "no build/schemagate; building build-valgrind/"
    cmake -S . -B build-valgrind -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSCHEMAGATE_TESTS=OFF >/dev/null
    cmake --build build-valgrind -j2 --target schemagate >/dev/null
    bin=$SG_REPO_ROOT/build-valgrind/schemagate
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/sg-valgrind.XXXXXX")
db=vg_$$_$RANDOM
serve_pid=""
cleanup() {
    if [[ -n $serve_pid ]]; then
        kill -KILL "$serve_pid" 2>/dev/null || true
        wait "$serve_pid" 2>/dev/null || true
    fi
    psql -q -X "$SCHEMAGATE_TEST_PG_DSN" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

psql -q -X -v ON_ERROR_STOP=1 "$SCHEMAGATE_TEST_PG_DSN" -c "CREATE DATABASE $db" >/dev/null
# The test DSN is a URL ending in /postgres?...: point it at our database.
dsn=${SCHEMAGATE_TEST_PG_DSN/\/postgres\?/\/$db?}
[[ $dsn != "$SCHEMAGATE_TEST_PG_DSN" ]] || sg_die "cannot rewrite the database name in the test DSN"

mkdir "$work/migrations"
printf 'CREATE TABLE a (id int PRIMARY KEY);\n' >"$work/migrations/000001_a.up.sql"
printf 'DROP TABLE a;\n' >"$work/migrations/000001_a.down.sql"
printf 'CREATE TABLE b (id int REFERENCES a);\nINSERT INTO a VALUES (1);\n' >"$work/migrations/000002_b.up.sql"
printf -- '-- schemagate:no-transaction\nCREATE INDEX CONCURRENTLY b_id ON b (id);\n' >"$work/migrations/000003_c.up.sql"
printf -- '-- schemagate:no-transaction\nDROP INDEX CONCURRENTLY b_id;\n' >"$work/migrations/000003_c.down.sql"
mkdir "$work/bad"
printf 'SELECT 1;\n' >"$work/bad/1_x.sql"
printf 'vg-admin-token\n' >"$work/token"

vg=(valgrind --quiet --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99
    --track-origins=yes --num-callers=30)
export DATABASE_URL=$dsn MIGRATIONS_DIR=$work/migrations SCHEMAGATE_LOG_FORMAT=text
unset REDIS_URL SCHEMAGATE_CONFIG DATABASE_SEARCH_PATH

failed=0
check() { # NAME WANT_STATUS LOG -- CMD...
    local name=$1 want=$2 log=$3 rc=0
    shift 4
    "${vg[@]}" --log-file="$log" "$@" >>"$work/out.log" 2>&1 || rc=$?
    if ((rc != want)) || grep -q 'ERROR SUMMARY: [1-9]' "$log"; then
        failed=$((failed + 1))
        sg_log "$name: exit $rc (want $want)"
        cat "$log" >&2
        tail -n 20 "$work/out.log" >&2
    else
        sg_log "$name: clean (exit $rc)"
    fi
}

check "migrate" 0 "$work/vg-migrate.log" -- "$bin" migrate
check "migrate (no-op rerun)" 0 "$work/vg-migrate2.log" -- "$bin" migrate
check "status" 0 "$work/vg-status.log" -- "$bin" status --json
check "down" 0 "$work/vg-down.log" -- "$bin" down --steps 1
check "migrate (again)" 0 "$work/vg-migrate3.log" -- "$bin" migrate
check "verify" 0 "$work/vg-verify.log" -- "$bin" verify
check "migrate (bad file name)" 2 "$work/vg-bad.log" -- "$bin" migrate --dir "$work/bad"

# serve: start, a few requests (good, bad, admin with and without the token,
# refused by the front door, pipelined, timed out, and one left half-sent
# across the shutdown), then SIGTERM; it must exit 0 with a clean report.
port=$(sg_free_port)
"${vg[@]}" --log-file="$work/vg-serve.log" "$bin" serve --listen "127.0.0.1:$port" \
    --admin-token-file "$work/token" --check-interval 200ms --request-timeout 500ms \
    >"$work/serve.log" 2>&1 &
serve_pid=$!
ready() { curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz"; }
sg_wait_until 60 "serve under valgrind to become ready" ready
for path in /healthz /readyz '/readyz?verbose' '/readyz?exclude=nope' /readyz/database /health \
    /metrics /admin/migration-status /nope; do
    curl -sS -o /dev/null "http://127.0.0.1:$port$path" || failed=$((failed + 1))
done
curl -sS -o /dev/null -H 'Authorization: Bearer vg-admin-token' \
    "http://127.0.0.1:$port/admin/migration-status" || failed=$((failed + 1))
curl -sS -o /dev/null -X POST "http://127.0.0.1:$port/readyz" || failed=$((failed + 1))
curl -sS -o /dev/null -d body "http://127.0.0.1:$port/readyz" || failed=$((failed + 1))
# Pipelined on one connection; then a half-sent request that times out (408);
# then one left half-sent while serve stops.
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >&3
timeout 10 cat <&3 >/dev/null || failed=$((failed + 1))
exec 3<&-
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'GET /readyz HTTP/1.1\r\nHost' >&3
if ! timeout 10 cat <&3 | grep -q '^HTTP/1.1 408 '; then
    sg_log "serve: a half-sent request was not answered 408"
    failed=$((failed + 1))
fi
exec 3<&-
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'GET /readyz HTTP/1.1\r\n' >&3
kill -TERM "$serve_pid"
rc=0
wait "$serve_pid" || rc=$?
serve_pid=""
exec 3<&-
if ((rc != 0)) || grep -q 'ERROR SUMMARY: [1-9]' "$work/vg-serve.log"; then
    failed=$((failed + 1))
    sg_log "serve: exit $rc (want 0)"
    cat "$work/vg-serve.log" >&2
    tail -n 20 "$work/serve.log" >&2
else
    sg_log "serve: clean (exit 0)"
fi

((failed == 0)) || sg_die "$failed valgrind run(s) failed"
sg_log "valgrind: no invalid access, no definite leak"
