#!/usr/bin/env bash
# ci/checks.d/35-alerts.sh - the chart's alerts and dashboard: promtool on the rules, then a real Prometheus.
#
# 1. Renders charts/schemagate's PrometheusRule with its default values
#    (release sg, namespace ci), runs `promtool check rules` on it and
#    `promtool test rules` with tests/alerts/rules.test.yaml: every alert
#    fires, with its exact labels and annotations, and does not fire where it
#    must not.
# 2. tests/alerts/prometheus.js: Debian's Prometheus on a loopback port
#    scrapes two real `schemagate serve` processes; healthy, no alert fires and
#    every query of the dashboard returns data; a migration left dirty fires
#    SchemagateMigrationFailed within its `for` plus two evaluation intervals.
#
# Uses the services of the caller (SCHEMAGATE_TEST_PG_DSN and _REDIS_URL, as ci/test.sh
# exports them) or starts its own; uses $SCHEMAGATE_BIN, else build/schemagate,
# else builds one in .tmp/build-alerts. Keeps its folder (logs, Prometheus's
# config and data) in .tmp/alerts.* when something fails.
set -euo pipefail
SG_PROG=ci/checks.d/35-alerts.sh
# shellcheck source=ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$SG_REPO_ROOT"

command -v promtool >/dev/null || sg_die "promtool not found; run ci/install-deps.sh (package prometheus)"
command -v prometheus >/dev/null || sg_die "prometheus not found; run ci/install-deps.sh"
command -v psql >/dev/null || sg_die "psql not found; run ci/install-deps.sh"
command -v node >/dev/null || sg_die "node not found (Node.js comes with the machine)"

mkdir -p .tmp
work=$(mktemp -d "$SG_REPO_ROOT/.tmp/alerts.XXXXXX")
ok=0
cleanup() {
    sg_stop_own_services
    if ((ok)); then
        rm -rf "$work"
    else
        sg_log "kept $work (logs, rules, Prometheus's config and data)"
    fi
}
trap cleanup EXIT

helm=$(bash ci/helm.sh helm)
node_path=$(bash ci/e2e-node.sh)

# 1. promtool, on the rules as the chart's defaults render them.
"$helm" template sg charts/schemagate --namespace ci \
    --set secret.databaseUrl=postgres://app@db/app --set secret.adminToken=t \
    --set-string 'migrations.files.000001_a\.up\.sql=select 1' \
    --set metrics.prometheusRule.enabled=true \
    --show-only templates/monitoring.yaml >"$work/render.yaml"
NODE_PATH=$node_path node -e '
const fs = require("fs"), YAML = require("yaml");
const [src, dst] = process.argv.slice(1);
const rule = YAML.parseAllDocuments(fs.readFileSync(src, "utf8")).map((d) => d.toJS()).find((d) => d && d.kind === "PrometheusRule");
if (!rule) { console.error("no PrometheusRule in " + src); process.exit(1); }
fs.writeFileSync(dst, YAML.stringify({ groups: rule.spec.groups }));' "$work/render.yaml" "$work/rules.yaml"
cp tests/alerts/rules.test.yaml "$work/"
promtool check rules "$work/rules.yaml" >&2 || sg_die "promtool check rules failed on the chart's default rules"
promtool test rules "$work/rules.test.yaml" >&2 || sg_die "promtool test rules failed (tests/alerts/rules.test.yaml)"
sg_log "ok: promtool check rules and test rules ($(grep -c '^  - name:' tests/alerts/rules.test.yaml) cases)"

# 2. A real Prometheus.
sg_own_services "$SG_REPO_ROOT/.tmp/alerts-services.$$"
bin=$(sg_schemagate_bin "$SG_REPO_ROOT/.tmp/build-alerts")
[[ -x $bin ]] || sg_die "$bin is not an executable"
mkdir -p "$work/prometheus"
NODE_PATH=$node_path HELM=$helm SCHEMAGATE_BIN=$bin SG_ALERTS_TMP=$work/prometheus \
    node tests/alerts/prometheus.js || sg_die "tests/alerts/prometheus.js failed"
ok=1
