#!/usr/bin/env bash
# bench/reset-db.sh - recreates one benchmark database empty and CHECKPOINTs (hyperfine --prepare).
#
# Usage: bench/reset-db.sh DBNAME
# Connects with the PG* variables bench/run.sh exports (PGHOST, PGPORT,
# PGUSER, PGPASSWORD) through BENCH_PSQL. The new database holds only
# bench_applied, the table every benchmark migration inserts its version into,
# so that a migration applied twice shows up as a duplicate row. The
# CHECKPOINT keeps earlier runs' dirty buffers out of the next timed run.
set -euo pipefail
[[ $# -eq 1 && $1 =~ ^[a-z_][a-z0-9_]*$ ]] || {
    printf 'usage: bench/reset-db.sh DBNAME (a-z, 0-9, _)\n' >&2
    exit 2
}
db=$1
psql=${BENCH_PSQL:-/usr/lib/postgresql/15/bin/psql}
# No NOTICE about the database that is not there yet.
export PGOPTIONS='-c client_min_messages=warning'
"$psql" -X -q -v ON_ERROR_STOP=1 -d postgres \
    -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
"$psql" -X -q -v ON_ERROR_STOP=1 -d "$db" \
    -c 'CREATE TABLE bench_applied (version int NOT NULL, pid int NOT NULL DEFAULT pg_backend_pid())' \
    -c 'CHECKPOINT' >/dev/null
