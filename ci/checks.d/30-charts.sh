#!/usr/bin/env bash
# ci/checks.d/30-charts.sh - lints and renders every chart and kustomize overlay, then validates them strictly offline.
#
# - helm lint --strict and helm template for charts/schemagate with each
#   charts/schemagate/ci/*-values.yaml, and for charts/example-app;
# - each charts/schemagate/ci/invalid/*.yaml must be rejected (by
#   values.schema.json or the templates) with the message its "# expect:"
#   line names;
# - kubectl kustomize builds every kustomize/overlays/*, with each kubectl we
#   have (the machine's, and the one from ci/helm.sh), and both agree;
# - every rendered manifest passes the Kubernetes API schema with unknown
#   fields rejected (tests/e2e/validate-cli.js), and the validator itself
#   rejects the fixtures in tests/e2e/fixtures;
# - NOTES.txt renders and prints the `kubectl exec ... schemagate status` command;
# - tests/e2e/chart-cases.js: one render-time case per defect of issue 12 (the
#   prod overlay's Secret, the Job's pod settings, job-mode timeouts, NOTES,
#   rollouts on migration changes, library defaults and validation, the 1 MiB
#   limit, the LoadBalancer, labels, the PodDisruptionBudget, dependencies)
#   and per chart feature (monitors, alerts and dashboard, helm test, app customisation,
#   credentials by reference, Chart.yaml);
# - charts/schemagate/README.md documents every value of values.yaml.
set -euo pipefail
SG_PROG=ci/checks.d/30-charts.sh
# shellcheck source=ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$SG_REPO_ROOT"

helm=$(bash ci/helm.sh helm)
layer_kubectl=$(bash ci/helm.sh kubectl)
node_path=$(bash ci/e2e-node.sh)
out=$(mktemp -d "${TMPDIR:-/tmp}/sg-charts.XXXXXX")
trap 'rm -rf "$out"' EXIT
failures=0
fail() {
    sg_log "FAIL: $*"
    failures=$((failures + 1))
}

# ci/helm.sh has built the charts' dependencies (Chart.lock) already.
quiet_helm() {
    "$helm" "$@"
}

lint_and_render() {
    local chart=$1 values=$2 name
    name=$(basename "$chart")-$(basename "${values:-default}" .yaml)
    local -a vf=()
    [[ -n $values ]] && vf=(-f "$values")
    if ! quiet_helm lint --strict "$chart" "${vf[@]}" >"$out/$name.lint" 2>&1; then
        cat "$out/$name.lint" >&2
        fail "helm lint --strict $chart ${values:-}"
        return
    fi
    if ! quiet_helm template sg "$chart" "${vf[@]}" >"$out/render-$name.yaml" 2>"$out/$name.err"; then
        cat "$out/$name.err" >&2
        fail "helm template $chart ${values:-}"
        return
    fi
    sg_log "ok: $chart ${values:-(defaults)}: lint --strict, template ($(grep -c '^kind:' "$out/render-$name.yaml") manifests)"
}

shopt -s nullglob
for values in charts/schemagate/ci/*-values.yaml; do
    lint_and_render charts/schemagate "$values"
done
# The example chart lints with its defaults plus a database URL (the demo Secret needs one).
printf 'schemagate:\n  secret:\n    databaseUrl: postgres://app@db/app\n    adminToken: t\n' >"$out/example-values.yaml"
lint_and_render charts/example-app "$out/example-values.yaml"
# The library chart: lint only (a library renders nothing).
if ! quiet_helm lint --strict charts/schemagate-lib >"$out/lib.lint" 2>&1; then
    cat "$out/lib.lint" >&2
    fail "helm lint --strict charts/schemagate-lib"
fi

for values in charts/schemagate/ci/invalid/*.yaml; do
    expect=$(sed -n 's/^# expect: //p' "$values" | head -n 1)
    if [[ -z $expect ]]; then
        fail "$values has no '# expect:' line"
        continue
    fi
    lint_rc=0
    tmpl_rc=0
    quiet_helm lint --strict charts/schemagate -f "$values" >"$out/invalid.lint" 2>&1 || lint_rc=$?
    quiet_helm template sg charts/schemagate -f "$values" >"$out/invalid.tmpl" 2>&1 || tmpl_rc=$?
    if ((tmpl_rc == 0)); then
        fail "$values: helm template accepted values that must be rejected"
    elif ! grep -qF -- "$expect" "$out/invalid.lint" "$out/invalid.tmpl"; then
        cat "$out/invalid.tmpl" >&2
        fail "$values: rejected, but without the expected message: $expect"
    else
        sg_log "ok: $values rejected (lint exit $lint_rc): $expect"
    fi
done

# Every overlay, with each kubectl we have; kustomize versions differ in
# what they accept, and users have either.
kubectls=("$layer_kubectl")
if system_kubectl=$(command -v kubectl); then
    kubectls+=("$system_kubectl")
else
    sg_log "no kubectl on PATH: building the overlays with $layer_kubectl only"
fi
for overlay in kustomize/overlays/*/; do
    overlay=${overlay%/}
    name=$(basename "$overlay")
    first=""
    for k in "${kubectls[@]}"; do
        if ! "$k" kustomize "$overlay" >"$out/k.yaml" 2>"$out/k.err"; then
            cat "$out/k.err" >&2
            fail "$k kustomize $overlay"
            continue
        fi
        if [[ -z $first ]]; then
            cp "$out/k.yaml" "$out/render-kustomize-$name.yaml"
            first=$k
        elif ! cmp -s "$out/k.yaml" "$out/render-kustomize-$name.yaml"; then
            diff "$out/render-kustomize-$name.yaml" "$out/k.yaml" >&2 || true
            fail "$overlay: $first and $k build different manifests"
        fi
    done
    [[ -n $first ]] && sg_log "ok: $overlay builds ($(grep -c '^kind:' "$out/render-kustomize-$name.yaml") manifests, ${#kubectls[@]} kubectl(s))"
done

renders=("$out"/render-*.yaml)
if ((${#renders[@]} == 0)); then
    fail "nothing rendered"
elif ! NODE_PATH=$node_path node tests/e2e/validate-cli.js "${renders[@]}"; then
    fail "strict schema validation of the rendered manifests"
fi
if ! NODE_PATH=$node_path node tests/e2e/validate-cli.js --expect-invalid tests/e2e/fixtures/*.yaml; then
    fail "the strict validator accepted a fixture it must reject"
fi

# NOTES.txt renders (helm template skips it): a copy of the chart renders it
# through tpl into a YAML string.
mkdir -p "$out/notes"
cp -rL charts/schemagate "$out/notes/"
mv "$out/notes/schemagate/templates/NOTES.txt" "$out/notes/schemagate/notes-src.txt"
printf 'notes: {{ tpl (.Files.Get "notes-src.txt") . | toJson }}\n' >"$out/notes/schemagate/templates/notes-check.yaml"
for values in charts/schemagate/ci/demo-values.yaml charts/schemagate/ci/job-mode-values.yaml; do
    if ! quiet_helm template sg "$out/notes/schemagate" -f "$values" --show-only templates/notes-check.yaml >"$out/notes.txt" 2>&1; then
        cat "$out/notes.txt" >&2
        fail "NOTES.txt does not render with $values"
    elif ! grep -q 'kubectl exec .* -- schemagate status --table=' "$out/notes.txt"; then
        cat "$out/notes.txt" >&2
        fail "NOTES.txt with $values does not print the kubectl exec ... schemagate status command"
    else
        sg_log "ok: NOTES.txt renders with $values"
    fi
done

if ! NODE_PATH=$node_path HELM=$helm KUBECTL=$layer_kubectl node tests/e2e/chart-cases.js; then
    fail "tests/e2e/chart-cases.js"
fi

if ! NODE_PATH=$node_path node tests/e2e/values-doc.js charts/schemagate/values.yaml charts/schemagate/README.md; then
    fail "charts/schemagate/README.md does not document every value"
fi

if ((failures > 0)); then
    sg_die "$failures failure(s)"
fi
sg_log "all chart and overlay checks passed"
