#!/usr/bin/env bash
# ci/checks.d/40-e2e-chart.sh - end-to-end test driven by the chart and the kustomize overlay (tests/e2e/run.js).
#
# Renders charts/schemagate (init container, native sidecar, job mode),
# charts/example-app and kustomize/overlays/dev, then runs the rendered pod
# specs, 3 replicas at once, as local processes of the built binary against
# real PostgreSQL and Redis, and polls the rendered probes until Ready. Also
# checks that mutated renders (wrong probe port or path, an unknown flag, a
# wrong env name or mount path) fail. See tests/e2e/README.md.
#
# Uses the services of the caller (SCHEMAGATE_TEST_PG_DSN, as ci/test.sh
# exports them) or starts its own; uses $SCHEMAGATE_BIN, else build/schemagate,
# else builds one in .tmp/build-e2e.
set -euo pipefail
SG_PROG=ci/checks.d/40-e2e-chart.sh
# shellcheck source=ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$SG_REPO_ROOT"

command -v psql >/dev/null || sg_die "psql not found; run ci/install-deps.sh"
command -v node >/dev/null || sg_die "node not found (Node.js comes with the machine)"

trap sg_stop_own_services EXIT
sg_own_services "$SG_REPO_ROOT/.tmp/e2e-services.$$"
bin=$(sg_schemagate_bin "$SG_REPO_ROOT/.tmp/build-e2e")
[[ -x $bin ]] || sg_die "$bin is not an executable"

NODE_PATH=$(bash ci/e2e-node.sh)
HELM=$(bash ci/helm.sh helm)
KUBECTL=$(bash ci/helm.sh kubectl)
mkdir -p .tmp
export NODE_PATH HELM KUBECTL SCHEMAGATE_BIN=$bin SG_E2E_TMP=$SG_REPO_ROOT/.tmp
node tests/e2e/run.js "$@"
