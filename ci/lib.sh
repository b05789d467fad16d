# shellcheck shell=bash
# ci/lib.sh - helpers sourced by the ci/*.sh scripts; defines functions only.
#
# Each script sets SG_PROG (e.g. "ci/pg.sh") before sourcing this file so that
# every message names the script it came from.

SG_PROG=${SG_PROG:-ci}
SG_REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Debian's versioned layout; override for another install.
SG_PG_BIN=${SG_PG_BIN:-/usr/lib/postgresql/15/bin}
# OS user that owns the throwaway PostgreSQL when we run as root (PostgreSQL
# refuses to run as root). A dedicated system user rather than Debian's
# `postgres`, so the tests never touch files of the packaged cluster.
SG_PG_OS_USER=${SG_PG_OS_USER:-sgtest}

sg_log() {
    printf '%s: %s\n' "$SG_PROG" "$*" >&2
}

sg_die() {
    printf '%s: error: %s\n' "$SG_PROG" "$*" >&2
    exit 1
}

# Runs a command as root: directly when we are root, else through sudo.
sg_as_root() {
    if [[ $(id -u) -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        sg_die "need root for: $* (not root and sudo is missing)"
    fi
}

# Folder that holds the state file `env` of the running services.
sg_svc_dir() {
    printf '%s\n' "${SG_SVC_DIR:-$SG_REPO_ROOT/.tmp/services}"
}

# Makes the SCHEMAGATE_TEST_* variables available: keeps them when the caller
# exported them (a C test calling us through system()), else reads the state
# file written by `ci/services.sh start`.
sg_load_env() {
    local state
    if [[ -z ${SCHEMAGATE_TEST_PGDATA:-} ]]; then
        state="$(sg_svc_dir)/env"
        if [[ -f $state ]]; then
            # shellcheck source=/dev/null
            source "$state"
        fi
    fi
}

# Fails with a one-line hint when a required variable is empty.
sg_require_var() {
    local name
    for name in "$@"; do
        if [[ -z ${!name:-} ]]; then
            sg_die "$name not set; run ci/services.sh start first"
        fi
    done
}

# Prints the OS user the throwaway servers run as, creating it when we are
# root (PostgreSQL refuses to run as root).
sg_os_user() {
    if [[ $(id -u) -ne 0 ]]; then
        id -un
        return
    fi
    if ! getent passwd "$SG_PG_OS_USER" >/dev/null; then
        # A concurrent start may have created it meanwhile: check again.
        useradd --system --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin "$SG_PG_OS_USER" 2>/dev/null \
            || getent passwd "$SG_PG_OS_USER" >/dev/null \
            || sg_die "useradd $SG_PG_OS_USER failed"
        sg_log "created system user $SG_PG_OS_USER"
    fi
    printf '%s\n' "$SG_PG_OS_USER"
}

# Runs a command as the OS user given in $1: directly if that is us, through
# runuser if we are root. The working directory moves to / so that a folder
# the target user cannot read (e.g. /root) does not upset initdb or pg_ctl.
sg_run_as() {
    local user=$1
    shift
    if [[ $user == "$(id -un)" ]]; then
        (cd / && "$@")
    elif [[ $(id -u) -eq 0 ]]; then
        (cd / && runuser -u "$user" -- "$@")
    else
        sg_die "cannot act as OS user $user: not root"
    fi
}

# True when the process exists and is not a zombie. kill -0 alone would also
# succeed for a zombie nobody has reaped yet.
sg_pid_alive() {
    local pid=$1 stat
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    # read, not $(cat): no fork, which costs seconds on a loaded machine.
    { IFS= read -r stat <"/proc/$pid/stat"; } 2>/dev/null || return 1
    # Field 3 (after the parenthesised command name) is the state letter.
    stat=${stat##*) }
    [[ ${stat:0:1} != Z && ${stat:0:1} != X ]]
}

# sg_wait_until SECONDS WHAT CMD...: polls CMD every 0.1 s until it succeeds;
# dies with "timed out waiting for WHAT" after SECONDS.
sg_wait_until() {
    local secs=$1 what=$2
    shift 2
    local tries=$((secs * 10))
    while ! "$@" >/dev/null 2>&1; do
        tries=$((tries - 1))
        if ((tries <= 0)); then
            sg_die "timed out after ${secs}s waiting for $what"
        fi
        sleep 0.1
    done
}

# True when something on this machine already uses TCP port $1.
sg_port_in_use() {
    local port=$1
    if command -v ss >/dev/null 2>&1; then
        [[ -n $(ss -Htan "( sport = :$port )" 2>/dev/null) ]]
    else
        # Without ss: a successful connect means a listener is there.
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
    fi
}

# Prints a random free TCP port in 20000-45000 that is not among the
# arguments (ports already picked but not yet bound).
sg_free_port() {
    local port p taken
    for _ in $(seq 1 200); do
        port=$((20000 + (RANDOM * 32768 + RANDOM) % 25001))
        taken=0
        for p in "$@"; do
            [[ $p == "$port" ]] && taken=1
        done
        if ((taken == 0)) && ! sg_port_in_use "$port"; then
            printf '%s\n' "$port"
            return 0
        fi
    done
    sg_die "no free TCP port found in 20000-45000"
}

# Prints the pids of live processes whose working directory is $1 or below.
# PostgreSQL processes all chdir into PGDATA and Redis into its `dir`, so this
# finds a server's processes even after their parent is gone. One find reads
# every process's cwd link: a readlink per process cost minutes on a loaded
# machine with hundreds of processes, inside loops that poll every 0.1 s.
sg_pids_under() {
    local dir path pid
    dir=$(cd "$1" 2>/dev/null && pwd -P) || return 0
    while IFS= read -r path; do
        pid=${path#/proc/}
        pid=${pid%/cwd}
        if sg_pid_alive "$pid"; then
            printf '%s\n' "$pid"
        fi
    done < <(find /proc/[0-9]*/cwd -maxdepth 0 \( -lname "$dir" -o -lname "$dir/*" \) -print 2>/dev/null)
}

# sg_reap_tmp DIR PREFIX: the last resort of a stop: SIGKILL whatever still works
# below DIR (its cwd is there), then remove DIR when its name starts with PREFIX
# (a folder the calling script made), else say why it stays.
sg_reap_tmp() {
    local tmp=$1 prefix=$2 pids
    pids=$(sg_pids_under "$tmp")
    if [[ -n $pids ]]; then
        sg_log "killing leftover processes: $(tr '\n' ' ' <<<"$pids")"
        # shellcheck disable=SC2086 # one pid per word
        kill -KILL $pids 2>/dev/null || true
        sg_wait_until 10 "leftover processes to exit" sg_no_pids_under "$tmp"
    fi
    case $(basename "$tmp") in
        "$prefix"*) rm -rf "$tmp" ;;
        *) sg_log "not removing $tmp: not a folder this script created" ;;
    esac
}

# True when no live process works below folder $1.
sg_no_pids_under() {
    [[ -z $(sg_pids_under "$1") ]]
}

# sg_own_services DIR: for a check that needs PostgreSQL and Redis. Unless the
# caller exported SCHEMAGATE_TEST_PG_DSN and SCHEMAGATE_TEST_REDIS_URL (as
# ci/test.sh does), sets SG_OWN_SERVICES=DIR, starts throwaway servers with
# their state in DIR and exports their variables. The caller's exit trap stops
# them whenever SG_OWN_SERVICES is set: sg_stop_own_services.
sg_own_services() {
    local dir=$1 env
    if [[ -n ${SCHEMAGATE_TEST_PG_DSN:-} && -n ${SCHEMAGATE_TEST_REDIS_URL:-} ]]; then
        return 0
    fi
    SG_OWN_SERVICES=$dir
    SG_SVC_DIR=$dir bash "$SG_REPO_ROOT/ci/services.sh" start || sg_die "ci/services.sh start failed"
    env=$(SG_SVC_DIR=$dir bash "$SG_REPO_ROOT/ci/services.sh" env) || sg_die "ci/services.sh env failed"
    eval "$env"
}

sg_stop_own_services() {
    if [[ -n ${SG_OWN_SERVICES:-} ]]; then
        SG_SVC_DIR=$SG_OWN_SERVICES bash "$SG_REPO_ROOT/ci/services.sh" stop || true
    fi
}

# sg_schemagate_bin DIR: prints the binary a check runs: $SCHEMAGATE_BIN, else
# build/schemagate, else one it builds in DIR (RelWithDebInfo, target schemagate).
sg_schemagate_bin() {
    local dir=$1
    if [[ -n ${SCHEMAGATE_BIN:-} ]]; then
        printf '%s\n' "$SCHEMAGATE_BIN"
    elif [[ -x $SG_REPO_ROOT/build/schemagate ]]; then
        printf '%s\n' "$SG_REPO_ROOT/build/schemagate"
    else
        sg_log "no build/schemagate: building $dir"
        cmake -S "$SG_REPO_ROOT" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
        cmake --build "$dir" -j2 --target schemagate >/dev/null
        printf '%s\n' "$dir/schemagate"
    fi
}

# sg_stats < numbers: prints "median min max" (median of an even count: the mean of the
# middle two; "nan nan nan" without numbers). For the benches.
sg_stats() {
    sort -g | awk '{ v[NR] = $1 }
        END {
            if (NR == 0) { print "nan nan nan"; exit }
            m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            printf "%.6g %.6g %.6g\n", m, v[1], v[NR]
        }'
}
