#!/usr/bin/env bash
# bench/run.sh - schemagate against its peers (dbmate, sql-migrate) and the limits (psql, nginx), in one run.
#
# Usage: bench/run.sh [--smoke] [--only SCENARIO[,SCENARIO...]]
#   (default)  the full run: prints a markdown table and writes it, with a
#              description of the machine, to bench/RESULTS.md. About 10 min
#              on 2 cores (the 4 x 6 applies of 1,000 migrations dominate).
#   --smoke    tiny sizes, one repetition, everything else the same; writes
#              bench/.work/RESULTS-smoke.md instead (CI runs this through
#              ci/checks.d/60-bench-smoke.sh to prove the command works).
#   --only     runs only the named scenarios (apply, noop, replicas, race, locks,
#              pool, http, plan; noop needs apply first, http uses apply's database) and
#              writes bench/.work/RESULTS-partial.md, leaving RESULTS.md alone.
#
# Environment: SG_BENCH_BIN=PATH benchmarks that binary instead of building a
#   Release one (the smoke check passes build/schemagate: it proves the
#   command works and measures nothing worth keeping).
#
# Steps: installs wrk, nginx, hyperfine, sql-migrate and time from Debian
# (ci/install-deps.sh) and dbmate from npm (@dbmate/linux-x64) into
# bench/.work; builds a Release binary in bench/.work/build; starts a
# throwaway PostgreSQL 15 and Redis (ci/services.sh, state in
# bench/.work/services, stopped on exit); generates the migration sets; runs
# the scenarios of issue 7. Every figure is the median of several runs with
# min and max; each ratio compares with a baseline measured in this same run.
# Figures are never asserted: targets are printed beside them, nothing fails
# when one is missed.
#
# All database clients connect alike: TCP to 127.0.0.1 with SCRAM password
# authentication, password in the environment (PGPASSWORD or DATABASE_URL),
# never in argv.
set -euo pipefail
SG_PROG=bench/run.sh
# shellcheck source=ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../ci/lib.sh"
cd "$SG_REPO_ROOT"

mode=full
only=apply,noop,replicas,race,locks,pool,http,plan
partial=0
while (($# > 0)); do
    case $1 in
        --smoke) mode=smoke ;;
        --only)
            [[ $# -ge 2 && $2 =~ ^(apply|noop|replicas|race|locks|pool|http|plan)(,(apply|noop|replicas|race|locks|pool|http|plan))*$ ]] \
                || sg_die "--only takes a comma list of: apply noop replicas race locks pool http plan"
            only=$2 partial=1
            shift
            ;;
        -h | --help)
            sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
            exit 0
            ;;
        *)
            printf 'usage: bench/run.sh [--smoke] [--only SCENARIO[,SCENARIO...]]\n' >&2
            exit 2
            ;;
    esac
    shift
done
# wanted NAME: true when scenario NAME is to run.
wanted() {
    [[ ,$only, == *,"$1",* ]]
}

if [[ $mode == full ]]; then
    N_APPLY=1000        # migrations in the apply and no-op scenarios
    APPLY_RUNS=5        # timed applies per tool (plus one untimed warm-up)
    NOOP_RUNS=30        # timed no-op runs per tool (plus 3 warm-ups)
    RSS_RUNS=5          # /usr/bin/time runs for peak RSS
    FOLLOW_N=50         # replicas started together on an empty database
    FOLLOW_MIGS=100     # migrations the leader applies meanwhile
    FOLLOW_RUNS=5
    RACE_N=20           # processes per tool in the correctness race
    RACE_MIGS=50
    RACE_RUNS=3
    WRK_SECONDS=10
    WRK_RUNS=3
    LOCK_READER_S=5     # the long reader holds the table this long
    POOL_N=25           # replicas waiting through PgBouncer (transaction mode, pool of 20)
    POOL_HOLD_S=8       # the migration they wait for takes this long
    POOL_RUNS=3
    PLAN_FILES=1000     # the folder plan reads
    PLAN_PENDING=10     # of which not applied in production
    PLAN_RUNS=5
    results=$SG_REPO_ROOT/bench/RESULTS.md
else
    N_APPLY=20
    APPLY_RUNS=1
    NOOP_RUNS=2
    RSS_RUNS=1
    FOLLOW_N=5
    FOLLOW_MIGS=5
    FOLLOW_RUNS=1
    RACE_N=4
    RACE_MIGS=5
    RACE_RUNS=1
    WRK_SECONDS=1
    WRK_RUNS=1
    LOCK_READER_S=2
    POOL_N=4
    POOL_HOLD_S=1
    POOL_RUNS=1
    PLAN_FILES=20
    PLAN_PENDING=2
    PLAN_RUNS=1
    results=$SG_REPO_ROOT/bench/.work/RESULTS-smoke.md
fi
((partial == 0)) || results=$SG_REPO_ROOT/bench/.work/RESULTS-partial.md
NOOP_WARMUP=3
[[ $mode == full ]] || NOOP_WARMUP=1
WRK_CONNS=32

work=$SG_REPO_ROOT/bench/.work
PSQL=/usr/lib/postgresql/15/bin/psql
PGBENCH=/usr/lib/postgresql/15/bin/pgbench
SG=$work/build/schemagate
sg_build="Release build"
if [[ -n ${SG_BENCH_BIN:-} ]]; then
    SG=$(realpath "$SG_BENCH_BIN")
    [[ -x $SG ]] || sg_die "SG_BENCH_BIN=$SG_BENCH_BIN is not an executable"
    sg_build="SG_BENCH_BIN=$SG_BENCH_BIN"
fi
DBMATE=$work/npm/node_modules/@dbmate/linux-x64/bin/dbmate
SQLM=/usr/bin/sql-migrate
SPAWN=$work/spawn
export BENCH_PSQL=$PSQL
# Every benchmark database holds bench_applied (bench/reset-db.sh) before the first
# migration: schemagate would refuse that schema as another's without this.
export MIGRATIONS_ALLOW_NON_EMPTY=true

# Our own services, whatever the caller has exported (ci/test.sh runs the
# checks with its own services in the environment: never touch those).
unset SG_SVC_TMP SCHEMAGATE_TEST_PGDATA SCHEMAGATE_TEST_PG_DSN SCHEMAGATE_TEST_PG_PORT \
    SCHEMAGATE_TEST_PG_USER SCHEMAGATE_TEST_PG_LOG SCHEMAGATE_TEST_PG_PASSWORD \
    SCHEMAGATE_TEST_REDIS_URL SCHEMAGATE_TEST_REDIS_PORT SCHEMAGATE_TEST_REDIS_PIDFILE \
    SCHEMAGATE_TEST_PGB_TX_PORT SCHEMAGATE_TEST_PGB_SESSION_PORT SCHEMAGATE_TEST_PGB_TX_DSN \
    SCHEMAGATE_TEST_PGB_SESSION_DSN
unset DATABASE_URL REDIS_URL MIGRATIONS_DIR PGDATABASE PGSERVICE PGSSLMODE
export SG_SVC_DIR=$work/services

serve_pid=""
nginx_pid=""
services_started=0
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    [[ -z $serve_pid ]] || { kill -TERM "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null; } || true
    [[ -z $nginx_pid ]] || { kill -TERM "$nginx_pid" 2>/dev/null && wait "$nginx_pid" 2>/dev/null; } || true
    if ((services_started)); then
        bash ci/services.sh stop >/dev/null 2>&1 || sg_log "ci/services.sh stop failed"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- statistics --------------------------------------------------------------

# pct P < numbers: nearest-rank percentile P (0 < P <= 100).
pct() {
    sort -g | awk -v p="$1" '{ v[NR] = $1 }
        END {
            if (NR == 0) { print "nan"; exit }
            k = int(p / 100 * NR); if (k < p / 100 * NR) k++; if (k < 1) k = 1
            printf "%.6g\n", v[k]
        }'
}

# fmt DECIMALS NUMBER
fmt() {
    awk -v d="$1" -v x="$2" 'BEGIN { if (x == "nan") print "n/a"; else printf "%.*f\n", d, x }'
}

# ratio A B: A/B with two decimals and a "×".
ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "n/a"; else printf "%.2f×\n", a / b }'
}

# met OP VALUE LIMIT: "yes" when VALUE OP LIMIT holds (OP: le or ge), else "**no**".
met() {
    awk -v op="$1" -v v="$2" -v l="$3" 'BEGIN {
        ok = (op == "le") ? (v + 0 <= l + 0) : (v + 0 >= l + 0)
        print ok ? "yes" : "**no**" }'
}

rows=$work/rows.md
# row SCENARIO SUBJECT MEASURE MEDIAN MIN MAX VS_BASELINE TARGET MET
row() {
    local IFS='|'
    printf '| %s |\n' "$(printf '%s|' "$@" | sed 's/|$//; s/|/ | /g')" >>"$rows"
}

# --- setup ---------------------------------------------------------------------

setup() {
    sg_log "installing benchmark dependencies"
    bash ci/install-deps.sh wrk nginx hyperfine sql-migrate time >&2
    if [[ ! -x $DBMATE ]]; then
        command -v npm >/dev/null || bash ci/install-deps.sh npm >&2
        npm install --prefix "$work/npm" --no-audit --no-fund --loglevel=error \
            @dbmate/linux-x64 >&2
    fi
    [[ -x $DBMATE ]] || sg_die "dbmate binary not found at $DBMATE after npm install"

    if [[ -z ${SG_BENCH_BIN:-} ]]; then
        sg_log "building a Release binary in $work/build"
        cmake -S . -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DSCHEMAGATE_TESTS=OFF >/dev/null
        cmake --build "$work/build" -j2 --target schemagate >/dev/null
    else
        sg_log "benchmarking $SG (SG_BENCH_BIN), no Release build"
    fi
    cc -std=c11 -D_POSIX_C_SOURCE=200809L -O2 -Wall -Wextra -Werror \
        -o "$SPAWN" bench/spawn.c

    sg_log "starting PostgreSQL and Redis (state in $SG_SVC_DIR)"
    services_started=1
    bash ci/services.sh start >&2
    eval "$(bash ci/services.sh env)"
    export PGHOST=127.0.0.1 PGPORT=$SCHEMAGATE_TEST_PG_PORT PGUSER=sgtest
    export PGPASSWORD=$SCHEMAGATE_TEST_PG_PASSWORD
}

# db_url DB: the URL for DB, password included (for DATABASE_URL only).
db_url() {
    printf 'postgres://%s:%s@127.0.0.1:%s/%s?sslmode=disable\n' \
        "$PGUSER" "$PGPASSWORD" "$PGPORT" "$1"
}

# gen_set DIR N: the same N small migrations in the format of each tool.
# Each creates a table and inserts its version into bench_applied (created by
# reset-db.sh), so a migration applied twice leaves a duplicate row.
gen_set() {
    local dir=$1 n=$2
    rm -rf "$dir"
    mkdir -p "$dir/sg" "$dir/dbmate" "$dir/sqlm"
    awk -v dir="$dir" -v n="$n" 'BEGIN {
        for (i = 1; i <= n; i++) {
            v = sprintf("%06d", i)
            up = sprintf("CREATE TABLE IF NOT EXISTS t_%s (id bigint PRIMARY KEY, note text NOT NULL DEFAULT %s);\nINSERT INTO bench_applied (version) VALUES (%d);\n", v, "\047\047", i)
            down = sprintf("DROP TABLE IF EXISTS t_%s;\n", v)
            f = sprintf("%s/sg/%s_t_%s.up.sql", dir, v, v); printf "%s", up > f; close(f)
            f = sprintf("%s/sg/%s_t_%s.down.sql", dir, v, v); printf "%s", down > f; close(f)
            f = sprintf("%s/dbmate/%s_t_%s.sql", dir, v, v)
            printf "-- migrate:up\n%s\n-- migrate:down\n%s", up, down > f; close(f)
            f = sprintf("%s/sqlm/%s_t_%s.sql", dir, v, v)
            printf "-- +migrate Up\n%s\n-- +migrate Down\n%s", up, down > f; close(f)
            printf "%s", up > (dir "/all.sql")
        }
    }'
    # sql-migrate reads its data source from a file; only this user reads it.
    (umask 077 && cat >"$dir/sqlm.yml" <<EOF
bench:
  dialect: postgres
  datasource: host=127.0.0.1 port=$PGPORT user=$PGUSER password=$PGPASSWORD dbname=\${BENCH_DB} sslmode=disable
  dir: $dir/sqlm
  table: sqlm_migrations
EOF
    )
}

# tool_cmd TOOL SETDIR: prints the argv (one word per line) that migrates the
# database named by $BENCH_DB (and DATABASE_URL) to the head of SETDIR.
tool_cmd() {
    local tool=$1 set=$2
    case $tool in
        psql) printf '%s\n' "$PSQL" -X -q -1 -v ON_ERROR_STOP=1 -d "$BENCH_DB" -f "$set/all.sql" ;;
        schemagate) printf '%s\n' "$SG" migrate --dir "$set/sg" ;;
        dbmate) printf '%s\n' "$DBMATE" --no-dump-schema --migrations-dir "$set/dbmate" migrate ;;
        sql-migrate) printf '%s\n' "$SQLM" up -config="$set/sqlm.yml" -env=bench ;;
    esac
}

# use_db DB: points every client at DB.
use_db() {
    export BENCH_DB=$1
    DATABASE_URL=$(db_url "$1")
    export DATABASE_URL
}

sql() {
    "$PSQL" -X -q -At -v ON_ERROR_STOP=1 -d "$BENCH_DB" -c "$1"
}

# hf_csv NAME: "median min max" in ms from hyperfine's CSV export.
hf_csv() {
    awk -F, 'NR == 2 { printf "%.6g %.6g %.6g\n", $4 * 1000, $7 * 1000, $8 * 1000 }' "$1"
}

# --- scenario: apply N migrations from empty -----------------------------------

declare -A apply_ms noop_ms noop_rss
tools=(psql schemagate dbmate sql-migrate)
peers=(dbmate sql-migrate)

scenario_apply() {
    local tool db csv
    local -a cmd
    for tool in "${tools[@]}"; do
        db=bench_${tool//-/_}
        use_db "$db"
        mapfile -t cmd < <(tool_cmd "$tool" "$work/set")
        csv=$work/apply-$tool.csv
        sg_log "apply $N_APPLY from empty: $tool"
        hyperfine -N --style none --warmup 1 --runs "$APPLY_RUNS" \
            --prepare "bash $SG_REPO_ROOT/bench/reset-db.sh $db" \
            --export-csv "$csv" -n "$tool" -- "${cmd[*]}" >/dev/null
        # The last run left the database at the head: check it really applied
        # everything (a benchmark of a failing command would be meaningless).
        local n
        n=$(sql 'SELECT count(DISTINCT version) FROM bench_applied')
        [[ $n == "$N_APPLY" ]] || sg_die "$tool applied $n of $N_APPLY migrations"
        apply_ms[$tool]=$(hf_csv "$csv")
    done
    local base=${apply_ms[psql]%% *} m mn mx
    read -r m mn mx <<<"${apply_ms[psql]}"
    row "apply $N_APPLY migrations from empty" "psql -X -1 -f (limit)" "wall ms" "$(fmt 0 "$m")" \
        "$(fmt 0 "$mn")" "$(fmt 0 "$mx")" "1.00×" "-" "-"
    for tool in schemagate "${peers[@]}"; do
        read -r m mn mx <<<"${apply_ms[$tool]}"
        if [[ $tool == schemagate ]]; then
            row "apply $N_APPLY migrations from empty" "schemagate migrate" "wall ms" "$(fmt 0 "$m")" \
                "$(fmt 0 "$mn")" "$(fmt 0 "$mx")" "$(ratio "$m" "$base") psql" "≤ 1.05× psql" \
                "$(met le "$(awk -v a="$m" -v b="$base" 'BEGIN { print a / b }')" 1.05)"
        else
            row "apply $N_APPLY migrations from empty" "$tool" "wall ms" "$(fmt 0 "$m")" \
                "$(fmt 0 "$mn")" "$(fmt 0 "$mx")" "$(ratio "$m" "$base") psql" "-" "-"
        fi
    done
}

# --- scenario: no-op at the head -------------------------------------------------

scenario_noop() {
    local tool db csv i f
    local -a cmd
    for tool in "${tools[@]}"; do
        db=bench_${tool//-/_}
        use_db "$db"
        if [[ $tool == psql ]]; then
            cmd=("$PSQL" -X -d "$BENCH_DB" -c 'select 1')
        else
            mapfile -t cmd < <(tool_cmd "$tool" "$work/set")
        fi
        csv=$work/noop-$tool.csv
        sg_log "no-op at head of $N_APPLY: $tool"
        # hyperfine -N splits the command line itself; quote the one argument
        # with a space.
        local line
        if [[ $tool == psql ]]; then
            line="$PSQL -X -d $BENCH_DB -c 'select 1'"
        else
            line="${cmd[*]}"
        fi
        hyperfine -N --style none --warmup "$NOOP_WARMUP" --runs "$NOOP_RUNS" \
            --export-csv "$csv" -n "$tool" -- "$line" >/dev/null
        noop_ms[$tool]=$(hf_csv "$csv")
        f=$work/rss-$tool.txt
        : >"$f"
        for ((i = 0; i < RSS_RUNS; i++)); do
            /usr/bin/time -f %M -o "$work/rss.one" "${cmd[@]}" >/dev/null 2>&1 \
                || sg_die "$tool no-op run failed"
            cat "$work/rss.one" >>"$f"
        done
        noop_rss[$tool]=$(awk '{ print $1 / 1024 }' "$f" | sg_stats)
        # Still at the head: the no-op wrote nothing new.
        [[ $(sql 'SELECT count(*) FROM bench_applied') == "$N_APPLY" ]] \
            || sg_die "$tool no-op applied something"
    done
    # The same no-op through PgBouncer in transaction mode (ci/services.sh
    # starts it), against psql through the same pooler.
    local purl pline
    use_db bench_schemagate
    purl="postgres://$PGUSER:$PGPASSWORD@127.0.0.1:$SCHEMAGATE_TEST_PGB_TX_PORT/bench_schemagate?sslmode=disable"
    sg_log "no-op at head of $N_APPLY through PgBouncer (transaction mode)"
    hyperfine -N --style none --warmup "$NOOP_WARMUP" --runs "$NOOP_RUNS" \
        --export-csv "$work/noop-pooled-psql.csv" -n psql -- "$PSQL -X -d $purl -c 'select 1'" >/dev/null
    pline=$(printf '%s ' env "DATABASE_URL=$purl" "$SG" migrate --dir "$work/set/sg")
    hyperfine -N --style none --warmup "$NOOP_WARMUP" --runs "$NOOP_RUNS" \
        --export-csv "$work/noop-pooled-sg.csv" -n schemagate -- "$pline" >/dev/null
    noop_ms[pooled-psql]=$(hf_csv "$work/noop-pooled-psql.csv")
    noop_ms[pooled-sg]=$(hf_csv "$work/noop-pooled-sg.csv")
    local base=${noop_ms[psql]%% *} fastest="" fm=""
    for tool in "${peers[@]}"; do
        local pm=${noop_ms[$tool]%% *}
        if [[ -z $fm ]] || awk -v a="$pm" -v b="$fm" 'BEGIN { exit !(a < b) }'; then
            fastest=$tool fm=$pm
        fi
    done
    local sc="no-op migrate at head of $N_APPLY" m mn mx
    for tool in "${tools[@]}"; do
        read -r m mn mx <<<"${noop_ms[$tool]}"
        case $tool in
            psql) row "$sc" "psql -X -c 'select 1' (limit)" "wall ms" "$(fmt 1 "$m")" "$(fmt 1 "$mn")" \
                "$(fmt 1 "$mx")" "1.00×" "-" "-" ;;
            schemagate)
                local r1 r2
                r1=$(awk -v a="$m" -v b="$base" 'BEGIN { print a / b }')
                r2=$(awk -v a="$m" -v b="$fm" 'BEGIN { print a / b }')
                row "$sc" "schemagate migrate" "wall ms" "$(fmt 1 "$m")" "$(fmt 1 "$mn")" "$(fmt 1 "$mx")" \
                    "$(ratio "$m" "$base") psql" "≤ 1.2× psql" "$(met le "$r1" 1.2)"
                row "$sc" "schemagate migrate" "wall ms vs fastest peer" "$(fmt 1 "$m")" "$(fmt 1 "$mn")" \
                    "$(fmt 1 "$mx")" "$(ratio "$m" "$fm") $fastest" "≤ 0.4× fastest peer" "$(met le "$r2" 0.4)"
                ;;
            *) row "$sc" "$tool" "wall ms" "$(fmt 1 "$m")" "$(fmt 1 "$mn")" "$(fmt 1 "$mx")" \
                "$(ratio "$m" "$base") psql" "-" "-" ;;
        esac
    done
    local pb pm pmn pmx
    read -r pb _ _ <<<"${noop_ms[pooled-psql]}"
    read -r m mn mx <<<"${noop_ms[pooled-psql]}"
    row "$sc, through PgBouncer (transaction mode)" "psql -X -c 'select 1' (limit)" "wall ms" \
        "$(fmt 1 "$m")" "$(fmt 1 "$mn")" "$(fmt 1 "$mx")" "1.00×" "-" "-"
    read -r pm pmn pmx <<<"${noop_ms[pooled-sg]}"
    row "$sc, through PgBouncer (transaction mode)" "schemagate migrate" "wall ms" \
        "$(fmt 1 "$pm")" "$(fmt 1 "$pmn")" "$(fmt 1 "$pmx")" "$(ratio "$pm" "$pb") psql" \
        "≤ 1.2× psql" "$(met le "$(awk -v a="$pm" -v b="$pb" 'BEGIN { print a / b }')" 1.2)"
    for tool in "${tools[@]}"; do
        read -r m mn mx <<<"${noop_rss[$tool]}"
        local subj=$tool target="-" ok="-"
        [[ $tool != psql ]] || subj="psql -X -c 'select 1'"
        [[ $tool != schemagate ]] || { subj="schemagate migrate"; target="≤ 8 MB"; ok=$(met le "$m" 8); }
        row "$sc" "$subj" "peak RSS MB" "$(fmt 1 "$m")" "$(fmt 1 "$mn")" "$(fmt 1 "$mx")" \
            "$(ratio "$m" "${noop_rss[psql]%% *}") psql" "$target" "$ok"
    done
}

# The no-op over the private unix socket with trust authentication: the same
# work without SCRAM, to show what the password handshake costs every client
# (libpq's SCRAM runs through OpenSSL 3, whose initialisation is most of it).
scenario_noop_unix() {
    local sock=$SG_SVC_TMP/pg-sock tool m mn mx i f csv line base="" sc
    local -a cmd
    sc="no-op at head of $N_APPLY, diagnostic: unix socket, trust auth (no SCRAM)"
    for tool in psql schemagate; do
        if [[ $tool == psql ]]; then
            cmd=("$PSQL" -X -h "$sock" -d bench_schemagate -c 'select 1')
            line="$PSQL -X -h $sock -d bench_schemagate -c 'select 1'"
        else
            cmd=("$SG" migrate --dir "$work/set/sg")
            line="${cmd[*]}"
        fi
        csv=$work/noop-unix-$tool.csv
        f=$work/rss-unix-$tool.txt
        : >"$f"
        (
            export DATABASE_URL="host=$sock port=$PGPORT dbname=bench_schemagate user=$PGUSER"
            hyperfine -N --style none --warmup "$NOOP_WARMUP" --runs "$NOOP_RUNS" \
                --export-csv "$csv" -n "$tool" -- "$line" >/dev/null
            for ((i = 0; i < RSS_RUNS; i++)); do
                /usr/bin/time -f %M -o "$work/rss.one" "${cmd[@]}" >/dev/null 2>&1 \
                    || sg_die "$tool no-op over the unix socket failed"
                cat "$work/rss.one" >>"$f"
            done
        )
        read -r m mn mx < <(hf_csv "$csv")
        [[ -n $base ]] || base=$m
        row "$sc" "$tool" "wall ms" "$(fmt 1 "$m")" "$(fmt 1 "$mn")" "$(fmt 1 "$mx")" \
            "$(ratio "$m" "$base") psql" "-" "-"
        read -r m mn mx < <(awk '{ print $1 / 1024 }' "$f" | sg_stats)
        row "$sc" "$tool" "peak RSS MB" "$(fmt 1 "$m")" "$(fmt 1 "$mn")" "$(fmt 1 "$mx")" "-" \
            "$([[ $tool == schemagate ]] && echo '≤ 8 MB' || echo -)" \
            "$([[ $tool == schemagate ]] && met le "$m" 8 || echo -)"
    done
}

# --- scenario: many replicas at once on an empty database -----------------------

# race TOOL SETDIR N LOGDIR OUT: starts N copies of TOOL's migrate at once on
# $BENCH_DB (reset first) with SETDIR; spawn's output goes to OUT.
race() {
    local tool=$1 set=$2 n=$3 logdir=$4 out=$5
    local -a cmd
    bash bench/reset-db.sh "$BENCH_DB"
    mapfile -t cmd < <(tool_cmd "$tool" "$set")
    rm -rf "$logdir"
    mkdir -p "$logdir"
    "$SPAWN" -l "$logdir" "$n" -- "${cmd[@]}" >"$out"
}

scenario_followers() {
    local run out commit all=$work/follow-delays.txt last=$work/follow-last.txt
    local failed=0 twice=0
    : >"$all"
    : >"$last"
    use_db bench_race
    # The deployment configuration: election on when a Redis is at hand.
    export REDIS_URL=$SCHEMAGATE_TEST_REDIS_URL
    for ((run = 0; run < FOLLOW_RUNS; run++)); do
        out=$work/follow-$run.txt
        sg_log "$FOLLOW_N schemagate replicas at once, run $((run + 1))/$FOLLOW_RUNS"
        race schemagate "$work/follow-set" "$FOLLOW_N" "$work/follow-logs" "$out"
        commit=$(sql "SELECT extract(epoch FROM max(finished_at)) FROM schemagate_migrations_runs WHERE outcome = 'succeeded'")
        [[ -n $commit ]] || sg_die "no succeeded run recorded (logs: $work/follow-logs)"
        failed=$((failed + $(awk '$1 != "start" && $2 != 0' "$out" | wc -l)))
        twice=$((twice + $(sql 'SELECT count(*) - count(DISTINCT version) FROM bench_applied')))
        # Delay of every process's exit after the leader's final commit, in ms.
        awk -v c="$commit" '$1 != "start" { printf "%.3f\n", ($3 - c) * 1000 }' "$out" >"$work/d.txt"
        cat "$work/d.txt" >>"$all"
        sort -g "$work/d.txt" | tail -n 1 >>"$last"
    done
    unset REDIS_URL
    local p50 p99 m mn mx
    p50=$(pct 50 <"$all")
    p99=$(pct 99 <"$all")
    read -r m mn mx < <(sg_stats <"$last")
    local sc="$FOLLOW_N replicas at once on an empty database ($FOLLOW_MIGS migrations, ${FOLLOW_RUNS} runs)"
    row "$sc" "schemagate migrate" "exit after leader's final commit, p50 ms (all processes, all runs)" \
        "$(fmt 0 "$p50")" "-" "-" "-" "-" "-"
    row "$sc" "schemagate migrate" "exit after leader's final commit, p99 ms (all processes, all runs)" \
        "$(fmt 0 "$p99")" "-" "-" "-" "≤ 100 ms" "$(met le "$p99" 100)"
    row "$sc" "schemagate migrate" "last replica's exit after final commit, ms (per run)" \
        "$(fmt 0 "$m")" "$(fmt 0 "$mn")" "$(fmt 0 "$mx")" "-" "-" "-"
    row "$sc" "schemagate migrate" "failed processes / migrations applied twice (total)" \
        "$failed / $twice" "-" "-" "-" "0 / 0" "$( ((failed + twice == 0)) && echo yes || echo '**no**')"
}

# --- scenario: a migration behind a long reader, with live application queries ----

# lock_run TIMEOUT: a reader holds `hot` for LOCK_READER_S seconds while
# pgbench runs application queries on it and schemagate adds a column with
# MIGRATIONS_LOCK_TIMEOUT=TIMEOUT. Prints: longest application query (ms),
# migrate's wall time (ms), its exit code and the retries it logged.
lock_run() {
    local timeout=$1 d=$work/locks t0 t1 rc=0 app_s=$((LOCK_READER_S + 2))
    rm -rf "$d"
    mkdir -p "$d/sg"
    printf 'ALTER TABLE hot ADD COLUMN c int;\n' >"$d/sg/000001_hot.up.sql"
    printf 'SELECT count(*) FROM hot;\n' >"$d/query.sql"
    bash bench/reset-db.sh "$BENCH_DB"
    sql 'CREATE TABLE hot (id int); INSERT INTO hot SELECT generate_series(1, 1000)'
    "$PSQL" -X -q -d "$BENCH_DB" \
        -c "BEGIN; SELECT count(*) FROM hot; SELECT pg_sleep($LOCK_READER_S); COMMIT" >/dev/null &
    local reader=$!
    sleep 0.3
    (cd "$d" && "$PGBENCH" -n -c 2 -T "$app_s" -f "$d/query.sql" -l --log-prefix="$d/app" \
        "$BENCH_DB" >/dev/null 2>&1) &
    local app=$!
    t0=$(date +%s%N)
    MIGRATIONS_LOCK_TIMEOUT=$timeout MIGRATIONS_LOCK_RETRIES=100 SCHEMAGATE_LOG_FORMAT=text \
        "$SG" migrate --dir "$d/sg" 2>"$d/sg.log" || rc=$?
    t1=$(date +%s%N)
    wait "$reader" || true
    wait "$app" || sg_die "pgbench failed (the application load of the locks scenario)"
    compgen -G "$d/app.[0-9]*" >/dev/null || sg_die "pgbench wrote no latency log in $d"
    printf '%s %s %s %s\n' \
        "$(cat "$d"/app.[0-9]* | awk 'BEGIN { m = 0 } $3 > m { m = $3 } END { printf "%.0f", m / 1000 }')" \
        "$(((t1 - t0) / 1000000))" "$rc" "$(grep -c 'will retry' "$d/sg.log" || true)"
}

scenario_locks() {
    local sc="migration behind a ${LOCK_READER_S} s reader, app queries (pgbench -c 2) on the table"
    local t app wall rc retries
    use_db bench_locks
    for t in 0 1s 5s; do
        sg_log "lock timeout scenario: MIGRATIONS_LOCK_TIMEOUT=$t"
        read -r app wall rc retries < <(lock_run "$t")
        local subj="schemagate migrate, MIGRATIONS_LOCK_TIMEOUT=$t" target="-" ok="-"
        [[ $t != 0 ]] || subj="schemagate migrate, MIGRATIONS_LOCK_TIMEOUT=0 (waits, like a plain ALTER)"
        if [[ $t == 1s ]]; then
            target="≤ 1000 + 200 ms"
            ok=$(met le "$app" 1200)
        fi
        row "$sc" "$subj" "longest application query, ms" "$app" "-" "-" "-" "$target" "$ok"
        row "$sc" "$subj" "migrate wall ms" "$wall" "-" "-" "-" "-" "-"
        row "$sc" "$subj" "migrate exit code / retries logged" "$rc / $retries" \
            "-" "-" "-" "exit 0" "$( ((rc == 0)) && echo yes || echo '**no**')"
    done
}

scenario_race() {
    local tool run out fails twice applied
    local sc="$RACE_N processes at once on an empty database ($RACE_MIGS migrations, $RACE_RUNS runs)"
    use_db bench_race
    for tool in schemagate "${peers[@]}"; do
        fails=$work/race-fails-$tool.txt twice=$work/race-twice-$tool.txt
        applied=$work/race-applied-$tool.txt
        : >"$fails"
        : >"$twice"
        : >"$applied"
        for ((run = 0; run < RACE_RUNS; run++)); do
            out=$work/race-$tool-$run.txt
            sg_log "$RACE_N $tool processes at once, run $((run + 1))/$RACE_RUNS"
            race "$tool" "$work/race-set" "$RACE_N" "$work/race-logs-$tool" "$out"
            awk '$1 != "start" && $2 != 0' "$out" | wc -l >>"$fails"
            sql 'SELECT count(*) - count(DISTINCT version) FROM bench_applied' >>"$twice"
            sql 'SELECT count(DISTINCT version) FROM bench_applied' >>"$applied"
        done
        local m mn mx t tn tx a
        read -r m mn mx < <(sg_stats <"$fails")
        read -r t tn tx < <(sg_stats <"$twice")
        read -r a _ _ < <(sg_stats <"$applied")
        local target="-" ok="-"
        if [[ $tool == schemagate ]]; then
            target="0"
            ok=$(met le "$mx" 0)
        fi
        row "$sc" "$tool" "failed processes (of $RACE_N)" "$(fmt 0 "$m")" "$(fmt 0 "$mn")" \
            "$(fmt 0 "$mx")" "-" "$target" "$ok"
        [[ $tool != schemagate ]] || ok=$(met le "$tx" 0)
        row "$sc" "$tool" "migrations applied twice" "$(fmt 0 "$t")" "$(fmt 0 "$tn")" "$(fmt 0 "$tx")" \
            "-" "$target" "$ok"
        [[ $(fmt 0 "$a") == "$RACE_MIGS" ]] \
            || sg_log "warning: $tool ended with $a of $RACE_MIGS migrations applied (median)"
    done
}

# --- scenario: replicas waiting behind a transaction pooler, with live application queries ---

# pool_run N REDIS: the application's SELECT 1 (pgbench -c 2) through PgBouncer in transaction
# mode (pool of 20, ci/pgbouncer.sh) while N replicas of schemagate migrate, started together
# through the same pool, wait for one of them to apply a migration of POOL_HOLD_S seconds
# (N = 0: the application alone). REDIS 1: with REDIS_URL. Prints: the application's longest
# query and its p99 (ms), the replicas that failed, and the replicas' wall time (ms).
pool_run() {
    local n=$1 redis=$2 d=$work/pool rc=0 app_s=$((POOL_HOLD_S + 4)) t0 t1 failed=0
    local url
    rm -rf "$d"
    mkdir -p "$d/sg" "$d/logs"
    printf 'CREATE TABLE a (id int);\n' >"$d/sg/000001_a.up.sql"
    bash bench/reset-db.sh "$BENCH_DB"
    # The history exists: every replica goes straight for the election.
    "$SG" migrate --dir "$d/sg" 2>/dev/null || sg_die "schemagate could not prepare $BENCH_DB"
    printf 'SELECT pg_sleep(%s);\nCREATE TABLE b (id int);\n' "$POOL_HOLD_S" >"$d/sg/000002_b.up.sql"
    printf 'SELECT 1;\n' >"$d/query.sql"
    url=$(printf 'postgres://%s:%s@127.0.0.1:%s/%s?sslmode=disable' "$PGUSER" "$PGPASSWORD" \
        "$SCHEMAGATE_TEST_PGB_TX_PORT" "$BENCH_DB")
    (cd "$d" && "$PGBENCH" -n -h 127.0.0.1 -p "$SCHEMAGATE_TEST_PGB_TX_PORT" -c 2 -T "$app_s" \
        -f "$d/query.sql" -l --log-prefix="$d/app" "$BENCH_DB" >/dev/null 2>&1) &
    local app=$!
    sleep 1
    t0=$(date +%s%N)
    if ((n > 0)); then
        local -a env=(DATABASE_URL="$url" SCHEMAGATE_LOG_FORMAT=text)
        ((redis)) && env+=(REDIS_URL="$SCHEMAGATE_TEST_REDIS_URL")
        env "${env[@]}" "$SPAWN" -l "$d/logs" "$n" -- "$SG" migrate --dir "$d/sg" >"$d/spawn.txt" || rc=$?
        ((rc == 0)) || sg_die "spawn failed (exit $rc)"
        failed=$(awk '$1 != "start" && $2 != 0' "$d/spawn.txt" | wc -l)
    fi
    t1=$(date +%s%N)
    wait "$app" || sg_die "pgbench failed (the application load of the pool scenario)"
    compgen -G "$d/app.[0-9]*" >/dev/null || sg_die "pgbench wrote no latency log in $d"
    cat "$d"/app.[0-9]* | awk '{ printf "%.3f\n", $3 / 1000 }' >"$d/lat.txt"
    printf '%s %s %s %s\n' "$(sort -g "$d/lat.txt" | tail -n 1)" "$(pct 99 <"$d/lat.txt")" \
        "$failed" "$(((t1 - t0) / 1000000))"
}

scenario_pool() {
    local sc="application's SELECT 1 while $POOL_N replicas wait in the same PgBouncer pool (transaction mode, 20 server connections) for a ${POOL_HOLD_S} s migration ($POOL_RUNS runs)"
    local run mx p99 failed wall label redis n
    [[ -n ${SCHEMAGATE_TEST_PGB_TX_PORT:-} ]] || sg_die "no PgBouncer (ci/services.sh starts one)"
    use_db bench_pool
    local base=""
    for label in "alone" "without Redis" "with Redis"; do
        n=$POOL_N redis=0
        [[ $label != alone ]] || n=0
        [[ $label != "with Redis" ]] || redis=1
        : >"$work/pool-mx.txt"
        : >"$work/pool-p99.txt"
        : >"$work/pool-failed.txt"
        : >"$work/pool-wall.txt"
        for ((run = 0; run < POOL_RUNS; run++)); do
            sg_log "pool scenario ($label), run $((run + 1))/$POOL_RUNS"
            read -r mx p99 failed wall < <(pool_run "$n" "$redis")
            printf '%s\n' "$mx" >>"$work/pool-mx.txt"
            printf '%s\n' "$p99" >>"$work/pool-p99.txt"
            printf '%s\n' "$failed" >>"$work/pool-failed.txt"
            printf '%s\n' "$wall" >>"$work/pool-wall.txt"
        done
        local m mn mxx pm pmn pmx f
        read -r m mn mxx < <(sg_stats <"$work/pool-mx.txt")
        read -r pm pmn pmx < <(sg_stats <"$work/pool-p99.txt")
        read -r _ _ f < <(sg_stats <"$work/pool-failed.txt")
        local subj="application alone (baseline)" vs="-" target="-" ok="-"
        if [[ $label == alone ]]; then
            base=$m
        else
            subj="application, $POOL_N schemagate replicas waiting, $label"
            vs=$(ratio "$m" "$base")
            target="≤ 1000 ms"
            ok=$(met le "$m" 1000)
        fi
        row "$sc" "$subj" "longest application query, ms" "$(fmt 1 "$m")" "$(fmt 1 "$mn")" \
            "$(fmt 1 "$mxx")" "$vs" "$target" "$ok"
        row "$sc" "$subj" "application p99, ms" "$(fmt 2 "$pm")" "$(fmt 2 "$pmn")" "$(fmt 2 "$pmx")" \
            "-" "-" "-"
        if [[ $label != alone ]]; then
            row "$sc" "$subj" "replicas failed (of $POOL_N, worst run)" "$(fmt 0 "$f")" "-" "-" "-" \
                "0" "$(met le "$f" 0)"
            read -r m mn mxx < <(sg_stats <"$work/pool-wall.txt")
            row "$sc" "$subj" "all replicas exited, ms after their start" "$(fmt 0 "$m")" \
                "$(fmt 0 "$mn")" "$(fmt 0 "$mxx")" "-" "-" "-"
        fi
    done
}

# --- scenario: plan -------------------------------------------------------------

# ms_since NANOS: milliseconds elapsed since the date +%s%N value NANOS.
ms_since() {
    awk -v a="$1" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f\n", (b - a) / 1e6 }'
}

# fresh_db NAME: an empty database (plan refuses a dev database that holds tables).
fresh_db() {
    PGOPTIONS='-c client_min_messages=warning' "$PSQL" -X -q -v ON_ERROR_STOP=1 -d postgres \
        -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" -c "CREATE DATABASE $1" >/dev/null
}

# plan's own cost: PLAN_FILES migrations, PLAN_PENDING of them not applied in production. plan
# replays the others on an empty dev database (excluded: plan reports that time itself) and
# measures the pending ones; psql applies the same pending files, each in a transaction of its
# own, in one process, on a dev database that holds the same replayed schema. Then plan and
# squawk on the plan corpus (bench/plan-corpus.sh).
scenario_plan() {
    local set=$work/plan-set head run t0 js replay wall measure f
    local planf=$work/plan-cost.txt psqlf=$work/plan-psql.txt repf=$work/plan-replay.txt
    local measf=$work/plan-measure.txt
    local -a pending=() args=()
    : >"$planf"
    : >"$psqlf"
    : >"$repf"
    : >"$measf"
    gen_set "$work/plan-gen" "$PLAN_FILES"
    rm -rf "$set"
    cp -r "$work/plan-gen/sg" "$set"
    f=$(ls "$set"/000001_*.up.sql)
    { echo 'CREATE TABLE IF NOT EXISTS bench_applied (version int NOT NULL, pid int NOT NULL DEFAULT pg_backend_pid());'; cat "$f"; } >"$f.new"
    mv "$f.new" "$f"
    head=$((PLAN_FILES - PLAN_PENDING))
    mapfile -t pending < <(ls "$set"/*.up.sql | tail -n "$PLAN_PENDING")
    for f in "${pending[@]}"; do
        args+=(-c BEGIN -f "$f" -c COMMIT)
    done
    # Production: the first head files applied by schemagate, sizes known to pg_class.
    use_db bench_plan_prod
    bash bench/reset-db.sh bench_plan_prod
    "$SG" migrate --dir "$set" --target "$head" >/dev/null 2>&1 || sg_die "could not migrate bench_plan_prod"
    sql 'VACUUM ANALYZE' >/dev/null
    local prod_url dev_url
    prod_url=$(db_url bench_plan_prod)
    dev_url=$(db_url bench_plan_dev)
    for ((run = 0; run < PLAN_RUNS; run++)); do
        sg_log "plan on $PLAN_FILES files, $PLAN_PENDING pending, run $((run + 1))/$PLAN_RUNS"
        fresh_db bench_plan_dev
        t0=$(date +%s%N)
        js=$(DATABASE_URL=$prod_url DATABASE_DEV_URL=$dev_url "$SG" plan --dir "$set" --json 2>"$work/plan.log") \
            || sg_die "schemagate plan failed (log: $work/plan.log)"
        wall=$(ms_since "$t0")
        read -r replay measure < <(node -e 'const d = JSON.parse(process.argv[1]); if (d.statements.length < 1) process.exit(1); console.log(d.timing_ms.replay, d.timing_ms.measure)' "$js") \
            || sg_die "plan measured nothing"
        echo "$replay" >>"$repf"
        echo "$measure" >>"$measf"
        awk -v w="$wall" -v r="$replay" 'BEGIN { print w - r }' >>"$planf"
        # The same pending files with psql, on the same replayed schema (replayed untimed).
        fresh_db bench_plan_psql
        (for f in $(ls "$set"/*.up.sql | head -n "$head"); do cat "$f"; done) \
            | "$PSQL" -X -q -1 -v ON_ERROR_STOP=1 -d bench_plan_psql >/dev/null
        t0=$(date +%s%N)
        "$PSQL" -X -q -v ON_ERROR_STOP=1 -d bench_plan_psql "${args[@]}" >/dev/null
        ms_since "$t0" >>"$psqlf"
    done
    local sc="plan on $PLAN_FILES files, $PLAN_PENDING pending (replay excluded)" m mn mx base
    read -r base mn mx < <(sg_stats <"$psqlf")
    row "$sc" "psql, each pending file in a transaction (limit)" "wall ms" "$(fmt 1 "$base")" \
        "$(fmt 1 "$mn")" "$(fmt 1 "$mx")" "1.00×" "-" "-"
    read -r m mn mx < <(sg_stats <"$planf")
    row "$sc" "schemagate plan, wall minus its replay" "wall ms" "$(fmt 1 "$m")" "$(fmt 1 "$mn")" \
        "$(fmt 1 "$mx")" "$(ratio "$m" "$base") psql" "≤ 3× psql" \
        "$(met le "$(awk -v a="$m" -v b="$base" 'BEGIN { print a / b }')" 3)"
    read -r m mn mx < <(sg_stats <"$measf")
    row "$sc" "schemagate plan" "measuring the pending files, ms (its own report)" "$(fmt 0 "$m")" \
        "$(fmt 0 "$mn")" "$(fmt 0 "$mx")" "-" "-" "-"
    read -r m mn mx < <(sg_stats <"$repf")
    row "$sc" "schemagate plan" "replaying $head files, ms (excluded)" "$(fmt 0 "$m")" \
        "$(fmt 0 "$mn")" "$(fmt 0 "$mx")" "-" "-" "-"

    SG=$SG BENCH_PSQL=$PSQL bash bench/plan-corpus.sh "$work" >&2
    local tool fp fn wrong n sq
    sq=$(awk '$1 == "squawk" { print $4 }' "$work/plan-corpus.txt")
    while read -r tool fp fn wrong _ n; do
        if [[ $tool == plan ]]; then
            row "plan corpus ($n statements, PostgreSQL 15's truth)" "schemagate plan" \
                "false positives / false negatives" "$fp / $fn" "-" "-" \
                "$wrong wrong, squawk $sq" "0 / 0, fewer than squawk" \
                "$( ((fp + fn == 0 && wrong < sq)) && echo yes || echo '**no**')"
        else
            row "plan corpus ($n statements, PostgreSQL 15's truth)" "squawk 2.66.0" \
                "false positives / false negatives" "$fp / $fn" "-" "-" "$wrong wrong" "-" "-"
        fi
    done <"$work/plan-corpus.txt"
}

# --- scenario: /readyz under load vs nginx ------------------------------------------

# wait_200 URL SECONDS: polls until URL answers 200.
wait_200() {
    local url=$1 deadline=$((SECONDS + $2))
    until [[ $(curl -s -o /dev/null -w '%{http_code}' "$url" 2>/dev/null) == 200 ]]; do
        ((SECONDS < deadline)) || return 1
        sleep 0.05
    done
}

# wrk_run URL OUT PROBES: prints "requests/s p99_ms errors"; meanwhile, a
# probe as the kubelet sends it (a fresh connection, one GET) runs after a
# third of the duration and its time in ms is appended to PROBES: a server
# that serves keep-alive clients well can still keep a new one waiting.
wrk_run() {
    local wpid
    wrk -t 2 -c "$WRK_CONNS" -d "${WRK_SECONDS}s" --latency "$1" >"$2" &
    wpid=$!
    sleep "$(awk -v s="$WRK_SECONDS" 'BEGIN { print s / 3 }')"
    curl -s -o /dev/null -m 30 -w '%{time_total}\n' "$1" | awk '{ print $1 * 1000 }' >>"$3"
    wait "$wpid"
    if grep -q 'Non-2xx' "$2"; then
        sg_die "wrk saw non-200 answers from $1: $(grep 'Non-2xx' "$2")"
    fi
    awk '
        /^Requests\/sec:/ { rps = $2 }
        /^ +99%/ {
            v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v)
            p99 = (u == "us") ? v / 1000 : (u == "s") ? v * 1000 : (u == "m") ? v * 60000 : v
        }
        /Socket errors:/ { gsub(/[^0-9 ]/, " "); errs = $1 + $2 + $3 + $4 }
        END { printf "%s %s %d\n", rps, p99, errs }' "$2"
}

scenario_http() {
    local port url run r p hwm
    local sg_rps=$work/http-sg-rps.txt sg_p99=$work/http-sg-p99.txt sg_rss=$work/http-sg-rss.txt
    local ng_rps=$work/http-ng-rps.txt ng_p99=$work/http-ng-p99.txt
    local sg_probe=$work/http-sg-probe.txt ng_probe=$work/http-ng-probe.txt e
    local sg_err=0 ng_err=0
    : >"$sg_probe"
    : >"$ng_probe"
    : >"$sg_rps"
    : >"$sg_p99"
    : >"$sg_rss"
    : >"$ng_rps"
    : >"$ng_p99"

    # nginx: one static 200, as lean as it gets (no access log), the default
    # worker count for this machine.
    local ndir=$work/nginx nport
    mkdir -p "$ndir"
    nport=$(sg_free_port)
    cat >"$ndir/nginx.conf" <<EOF
worker_processes auto;
pid $ndir/nginx.pid;
error_log $ndir/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $ndir/tmp;
    proxy_temp_path $ndir/tmp;
    fastcgi_temp_path $ndir/tmp;
    uwsgi_temp_path $ndir/tmp;
    scgi_temp_path $ndir/tmp;
    server {
        listen 127.0.0.1:$nport;
        location / { default_type text/plain; return 200 "ok\n"; }
    }
}
EOF
    mkdir -p "$ndir/tmp"
    nginx -p "$ndir" -c "$ndir/nginx.conf" -g 'daemon off;' &
    nginx_pid=$!
    wait_200 "http://127.0.0.1:$nport/" 10 || sg_die "nginx did not answer (log: $ndir/error.log)"

    use_db bench_schemagate # at the head since scenario_apply
    for ((run = 0; run < WRK_RUNS; run++)); do
        port=$(sg_free_port "$nport")
        url=http://127.0.0.1:$port/readyz
        # A fresh sidecar per run, so each VmHWM is that run's peak.
        "$SG" serve --listen "127.0.0.1:$port" --dir "$work/set/sg" 2>"$work/serve.log" &
        serve_pid=$!
        wait_200 "$url" 20 || sg_die "schemagate serve not ready (log: $work/serve.log)"
        sg_log "wrk -c $WRK_CONNS -d ${WRK_SECONDS}s /readyz, run $((run + 1))/$WRK_RUNS"
        read -r r p e < <(wrk_run "$url" "$work/wrk-sg-$run.txt" "$sg_probe")
        sg_err=$((sg_err + e))
        echo "$r" >>"$sg_rps"
        echo "$p" >>"$sg_p99"
        hwm=$(awk '/^VmHWM:/ { print $2 / 1024 }' "/proc/$serve_pid/status")
        echo "$hwm" >>"$sg_rss"
        kill -TERM "$serve_pid"
        wait "$serve_pid" || sg_die "schemagate serve exited non-zero on SIGTERM"
        serve_pid=""

        sg_log "wrk -c $WRK_CONNS -d ${WRK_SECONDS}s nginx, run $((run + 1))/$WRK_RUNS"
        read -r r p e < <(wrk_run "http://127.0.0.1:$nport/" "$work/wrk-nginx-$run.txt" "$ng_probe")
        ng_err=$((ng_err + e))
        echo "$r" >>"$ng_rps"
        echo "$p" >>"$ng_p99"
    done
    kill -TERM "$nginx_pid"
    wait "$nginx_pid" || true
    nginx_pid=""

    local sc="/readyz under wrk -c $WRK_CONNS for ${WRK_SECONDS}s" m mn mx nm nmn nmx
    read -r nm nmn nmx < <(sg_stats <"$ng_rps")
    row "$sc" "nginx static 200 (limit)" "requests/s" "$(fmt 0 "$nm")" "$(fmt 0 "$nmn")" "$(fmt 0 "$nmx")" \
        "1.00×" "-" "-"
    read -r m mn mx < <(sg_stats <"$sg_rps")
    row "$sc" "schemagate serve /readyz" "requests/s" "$(fmt 0 "$m")" "$(fmt 0 "$mn")" "$(fmt 0 "$mx")" \
        "$(ratio "$m" "$nm") nginx" "≥ 0.5× nginx" "$(met ge "$(awk -v a="$m" -v b="$nm" 'BEGIN { print a / b }')" 0.5)"
    local np
    read -r np nmn nmx < <(sg_stats <"$ng_p99")
    row "$sc" "nginx static 200 (limit)" "p99 latency ms" "$(fmt 2 "$np")" "$(fmt 2 "$nmn")" "$(fmt 2 "$nmx")" \
        "1.00×" "-" "-"
    read -r m mn mx < <(sg_stats <"$sg_p99")
    row "$sc" "schemagate serve /readyz" "p99 latency ms" "$(fmt 2 "$m")" "$(fmt 2 "$mn")" "$(fmt 2 "$mx")" \
        "$(ratio "$m" "$np") nginx" "≤ 5 ms" "$(met le "$m" 5)"
    read -r m mn mx < <(sg_stats <"$ng_probe")
    row "$sc" "nginx static 200 (limit)" "a new client's GET during the load, ms" "$(fmt 2 "$m")" \
        "$(fmt 2 "$mn")" "$(fmt 2 "$mx")" "1.00×" "-" "-"
    np=$m
    read -r m mn mx < <(sg_stats <"$sg_probe")
    row "$sc" "schemagate serve /readyz" "a new client's GET during the load, ms" "$(fmt 2 "$m")" \
        "$(fmt 2 "$mn")" "$(fmt 2 "$mx")" "$(ratio "$m" "$np") nginx" "-" "-"
    row "$sc" "nginx / schemagate" "wrk socket errors (connect, read, write, timeout; all runs)" \
        "$ng_err / $sg_err" "-" "-" "-" "-" "-"
    read -r m mn mx < <(sg_stats <"$sg_rss")
    row "schemagate serve under that load" "schemagate serve" "peak RSS MB (VmHWM)" "$(fmt 1 "$m")" \
        "$(fmt 1 "$mn")" "$(fmt 1 "$mx")" "-" "≤ 10 MB" "$(met le "$m" 10)"
}

# --- report ------------------------------------------------------------------------

machine() {
    local cpu mem pgv
    printf -- '- load average (1, 5, 15 min) at the start: %s; at the end: %s (other work on the machine makes figures noisier; ratios compare runs made minutes apart at most)\n' \
        "$load_start" "$(cut -d' ' -f1-3 /proc/loadavg)"
    cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
    mem=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
    pgv=$("$PSQL" -X -At -d postgres -c 'SHOW server_version')
    printf -- '- CPU: %s, %s cores online\n' "${cpu:-unknown}" "$(nproc)"
    printf -- '- memory: %s\n' "$mem"
    printf -- '- kernel: %s %s (%s)\n' "$(uname -s)" "$(uname -r)" "$(. /etc/os-release && echo "$PRETTY_NAME")"
    printf -- '- PostgreSQL %s (throwaway cluster from ci/services.sh: defaults, fsync on, shared_buffers 128MB, SCRAM over TCP loopback)\n' "$pgv"
    printf -- '- schemagate %s (%s), dbmate %s, sql-migrate %s (Debian), %s, %s, hyperfine %s\n' \
        "$("$SG" --version | awk '{ print $NF }')" "$sg_build" "$("$DBMATE" --version | awk '{ print $NF }')" \
        "$(dpkg-query -W -f='${Version}' sql-migrate)" "$(nginx -v 2>&1 | sed 's/.*: //')" \
        "wrk $(dpkg-query -W -f='${Version}' wrk)" "$(hyperfine --version | awk '{ print $2 }')"
}

report() {
    local table=$work/table.md kept=$work/failover-kept.md
    # bench/failover.sh's section (between its markers) outlives this rewrite.
    : >"$kept"
    if [[ -f $results ]]; then
        awk '/^<!-- failover:begin/ { on = 1 } on { print } /^<!-- failover:end -->/ { on = 0 }' \
            "$results" >"$kept"
    fi
    {
        printf '| scenario | subject | measure | median | min | max | vs baseline (same run) | target | met |\n'
        printf '|---|---|---|---|---|---|---|---|---|\n'
        cat "$rows"
    } >"$table"
    cat "$table"
    {
        printf '# schemagate benchmarks (%s run, %s)\n\n' "$mode" "$(date -u +%Y-%m-%dT%H:%MZ)"
        # shellcheck disable=SC2016 # the backquotes are markdown
        printf 'Produced by `bench/run.sh%s`. Each figure is the median of several runs, with min\n' \
            "$([[ $mode == smoke ]] && echo ' --smoke')"
        printf 'and max; each ratio compares with the baseline measured in the same run.\n\n'
        printf '## Machine\n\n'
        machine
        printf '\n## Method\n\n'
        printf -- '- wall times: hyperfine -N (no shell); applies: %s timed runs after 1 untimed warm-up, each on a freshly created database after a CHECKPOINT; no-op: %s runs after %s warm-ups, at the head of the %s applied migrations.\n' \
            "$APPLY_RUNS" "$NOOP_RUNS" "$NOOP_WARMUP" "$N_APPLY"
        printf -- '- peak RSS of a whole process: /usr/bin/time -f %%M, %s runs.\n' "$RSS_RUNS"
        printf -- '- migrations: each creates a small table and inserts its version into bench_applied (a version seen twice = applied twice); psql gets the same statements concatenated in one file.\n'
        printf -- '- replicas: bench/spawn.c forks N processes that block on a pipe, releases them together and timestamps each exit (CLOCK_REALTIME); the leader'"'"'s final commit is max(finished_at) of the succeeded run in schemagate_migrations_runs. schemagate runs with REDIS_URL set.\n'
        # shellcheck disable=SC2016 # the backquotes are markdown
        printf -- '- HTTP: wrk -t 2 -c %s -d %ss --latency, %s runs, against a fresh `schemagate serve` (database at the head, so /readyz is 200) and nginx returning a static 200 (access log off); serve'"'"'s peak RSS is VmHWM from /proc/<pid>/status after the run.\n\n' \
            "$WRK_CONNS" "$WRK_SECONDS" "$WRK_RUNS"
        printf -- '- "a new client'"'"'s GET during the load" is one curl request (a fresh connection, as the kubelet probes) sent a third into each wrk run. It passes through the same front door as the load (serve'"'"'s gate, then civetweb over pooled loopback connections); when it takes seconds, new clients wait behind the %s keep-alive connections, and requests/s and p99 describe only the connections being served.\n\n' \
            "$WRK_CONNS"
        if wanted plan; then
            printf -- '- plan: a folder of %s migrations (each creates a table and inserts a row), %s of them not applied in production (a database migrated by schemagate, VACUUM ANALYZEd); each of %s runs gets a fresh empty dev database. plan'"'"'s cost is its wall time minus the replay of the applied files, which it reports itself (`timing_ms.replay`); the limit is psql applying the same pending files in one process, each between BEGIN and COMMIT, on a database holding the same replayed schema (replayed untimed).\n' \
                "$PLAN_FILES" "$PLAN_PENDING" "$PLAN_RUNS"
            printf -- '- plan corpus: see the section after the table.\n\n'
        fi
        printf '## Results\n\n'
        cat "$table"
        if [[ -s $kept ]]; then
            printf '\n'
            cat "$kept"
        fi
        if wanted plan && [[ -s $work/plan-corpus.md ]]; then
            printf '\n'
            cat "$work/plan-corpus.md"
        fi
    } >"$results"
    sg_log "written $results"
}

mkdir -p "$work"
: >"$rows"
setup
sg_log "generating $N_APPLY migrations ($mode run)"
gen_set "$work/set" "$N_APPLY"
gen_set "$work/follow-set" "$FOLLOW_MIGS"
gen_set "$work/race-set" "$RACE_MIGS"
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
if wanted noop && ! wanted apply; then
    # The no-op needs databases at the head: bring them there, untimed.
    for tool in "${tools[@]}"; do
        use_db "bench_${tool//-/_}"
        bash bench/reset-db.sh "$BENCH_DB"
        mapfile -t cmd < <(tool_cmd "$tool" "$work/set")
        "${cmd[@]}" >/dev/null 2>&1 || sg_die "$tool could not migrate $BENCH_DB to the head"
    done
fi
if wanted http && ! wanted apply; then
    use_db bench_schemagate
    bash bench/reset-db.sh "$BENCH_DB"
    "$SG" migrate --dir "$work/set/sg" 2>/dev/null || sg_die "schemagate could not migrate $BENCH_DB"
fi
if wanted apply; then scenario_apply; fi
if wanted noop; then
    scenario_noop
    scenario_noop_unix
fi
if wanted replicas; then scenario_followers; fi
if wanted race; then scenario_race; fi
if wanted locks; then scenario_locks; fi
if wanted pool; then scenario_pool; fi
if wanted http; then scenario_http; fi
if wanted plan; then scenario_plan; fi
report
