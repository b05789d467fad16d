#!/usr/bin/env bash
# ci/e2e-node.sh - installs the npm packages of tests/e2e into .tmp/e2e-node and prints its node_modules.
#
# Usage: NODE_PATH=$(bash ci/e2e-node.sh) node tests/e2e/run.js
# `npm ci` from tests/e2e/package-lock.json (exact versions, no install
# scripts), outside the source tree so that the checkout stays clean.
# Idempotent: skips npm when the installed lockfile matches.
set -euo pipefail
SG_PROG=ci/e2e-node.sh
# shellcheck source=ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

src=$SG_REPO_ROOT/tests/e2e
dest=$SG_REPO_ROOT/.tmp/e2e-node
command -v npm >/dev/null || sg_die "npm not found (Node.js and npm come with the machine)"
if [[ -f $dest/package-lock.json && -d $dest/node_modules ]] \
    && cmp -s "$src/package-lock.json" "$dest/package-lock.json"; then
    printf '%s\n' "$dest/node_modules"
    exit 0
fi
mkdir -p "$dest"
cp "$src/package.json" "$src/package-lock.json" "$dest/"
sg_log "npm ci in $dest"
if ! (cd "$dest" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2); then
    rm -f "$dest/package-lock.json"
    sg_die "npm ci failed"
fi
printf '%s\n' "$dest/node_modules"
