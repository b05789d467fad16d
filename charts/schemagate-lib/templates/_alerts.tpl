{{/*
_alerts.tpl - the PrometheusRule of the sidecars' alerts (docs/alerts.md has
the runbook of each). The rules are written once below as PromQL with
placeholders, inside a Go raw string so that Prometheus's own {{ }} templates
pass through Helm untouched; schemagate.prometheusRule fills them in:
  @SEL@    label matchers that pick this release's sidecars
  @QSEL@   the same with single quotes, for queries inside annotations
  @NAME@   the workload's name, @NAMESPACE@ the release's namespace
  @LOCK_TIMEOUT_S@ / @LOCK_TIMEOUT@  lock.timeout in seconds / as written
  @PER_SECOND@  alerts.httpAbuse.perSecond
  @FOR@    the alert's own `for`
Every rule has a `key` (its settings under metrics.prometheusRule.alerts) and a
firing and a not-firing case in tests/alerts/rules.test.yaml.
*/}}

{{- define "schemagate.alertRules" -}}
{{`
- key: migrationFailed
  alert: SchemagateMigrationFailed
  # The schema version, when the newest run failed, or a history row is dirty
  # while nobody holds the migration lock (a no-transaction file that is
  # still running is dirty too, and must not page anyone).
  expr: |-
    max by (namespace) (schemagate_schema_version{@SEL@})
    and on (namespace)
    (
      max by (namespace) (schemagate_last_run_outcome{@SEL@, outcome="failed"}) == 1
      or on (namespace)
      (
        max by (namespace) (schemagate_dirty{@SEL@}) == 1
        unless on (namespace)
        max by (namespace) (schemagate_migration_in_progress{@SEL@}) == 1
      )
    )
  annotations:
    summary: A migration of @NAME@ failed or was left dirty.
    description: >-
      The schema of @NAME@ in {{ $labels.namespace }} is at version {{ $value | printf "%.0f" }}
      (dirty: {{ with query "max(schemagate_dirty{@QSEL@})" }}{{ . | first | value | printf "%.0f" }}{{ end }},
      newest run failed: {{ with query "max(schemagate_last_run_outcome{@QSEL@, outcome='failed'})" }}{{ . | first | value | printf "%.0f" }}{{ end }};
      1 means yes) and sidecars expect {{ with query "max(schemagate_expected_version{@QSEL@})" }}{{ . | first | value | printf "%.0f" }}{{ end }}.
      Pods that need the new version stay not ready, and every migrate fails again or refuses
      until someone repairs the schema.
- key: schemaBehind
  alert: SchemagateSchemaBehind
  # The highest version a sidecar expects, while the database is below it.
  expr: |-
    max by (namespace) (schemagate_expected_version{@SEL@})
    > on (namespace)
    max by (namespace) (schemagate_schema_version{@SEL@})
  annotations:
    summary: The schema of @NAME@ has been behind the expected version for @FOR@.
    description: >-
      Sidecars of @NAME@ in {{ $labels.namespace }} expect schema version {{ $value | printf "%.0f" }},
      the database has been at {{ with query "max(schemagate_schema_version{@QSEL@})" }}{{ . | first | value | printf "%.0f" }}{{ end }}
      for more than @FOR@ (pending files: {{ with query "max(schemagate_pending_migrations{@QSEL@})" }}{{ . | first | value | printf "%.0f" }}{{ else }}unknown{{ end }};
      migration in progress: {{ with query "max(schemagate_migration_in_progress{@QSEL@})" }}{{ . | first | value | printf "%.0f" }}{{ end }}).
- key: notReady
  alert: SchemagateSchemaNotReady
  # Sidecars whose migrations or tables check fails while they reach the
  # database (an unreachable database is SchemagateDatabaseDown) and no
  # migration runs (one that runs too long is SchemagateMigrationStuck).
  expr: |-
    count by (namespace) (
      max by (namespace, pod) (schemagate_check_passed{@SEL@, check=~"migrations|tables"} == 0)
      and on (namespace, pod)
      max by (namespace, pod) (schemagate_database_up{@SEL@}) == 1
    )
    unless on (namespace)
    max by (namespace) (schemagate_migration_in_progress{@SEL@}) == 1
  annotations:
    summary: Pods of @NAME@ are not ready because of the schema.
    description: >-
      {{ $value | printf "%.0f" }} of {{ with query "count(max by (namespace, pod) (schemagate_ready{@QSEL@}))" }}{{ . | first | value | printf "%.0f" }}{{ end }}
      sidecars of @NAME@ in {{ $labels.namespace }} have failed their migrations or tables check
      for @FOR@ while they reach the database and no migration runs, so their pods get no traffic
      (schema version {{ with query "max(schemagate_schema_version{@QSEL@})" }}{{ . | first | value | printf "%.0f" }}{{ end }},
      expected {{ with query "max(schemagate_expected_version{@QSEL@})" }}{{ . | first | value | printf "%.0f" }}{{ end }}).
- key: databaseDown
  alert: SchemagateDatabaseDown
  expr: |-
    count by (namespace) (max by (namespace, pod) (schemagate_database_up{@SEL@}) == 0)
  annotations:
    summary: Sidecars of @NAME@ cannot reach PostgreSQL.
    description: >-
      {{ $value | printf "%.0f" }} of {{ with query "count(max by (namespace, pod) (schemagate_database_up{@QSEL@}))" }}{{ . | first | value | printf "%.0f" }}{{ end }}
      sidecars of @NAME@ in {{ $labels.namespace }} have not reached the database for @FOR@;
      their pods are not ready.
- key: migrationStuck
  alert: SchemagateMigrationStuck
  expr: |-
    max by (namespace) (schemagate_migration_lock_age_seconds{@SEL@}) > @LOCK_TIMEOUT_S@
  annotations:
    summary: A migration of @NAME@ has held the lock longer than lock.timeout.
    description: >-
      A session has held the migration lock of @NAME@ in {{ $labels.namespace }} for
      {{ $value | humanizeDuration }}, longer than lock.timeout (@LOCK_TIMEOUT@): replicas that
      wait for it give up (exit 4) and restart. Schema version
      {{ with query "max(schemagate_schema_version{@QSEL@})" }}{{ . | first | value | printf "%.0f" }}{{ end }}.
- key: httpAbuse
  alert: SchemagateHTTPAbuse
  # Requests the front door refused (400, 413, 431) and unfinished requests it
  # dropped for newer clients: well-behaved clients (kubelet, Prometheus) cause
  # neither.
  expr: |-
    (
      max by (namespace, pod) (rate(schemagate_http_requests_refused_total{@SEL@}[5m]))
      + max by (namespace, pod) (rate(schemagate_http_connections_evicted_total{@SEL@}[5m]))
    ) > @PER_SECOND@
  annotations:
    summary: The sidecar of {{ $labels.pod }} refuses or drops requests at a sustained rate.
    description: >-
      The sidecar of {{ $labels.pod }} ({{ $labels.namespace }}) has refused malformed requests or
      dropped unfinished ones at {{ $value | printf "%.2f" }}/s (5-minute rate) for @FOR@, above
      @PER_SECOND@/s: a client is sending it bad or slow requests.
- key: versionSkew
  alert: SchemagateVersionSkew
  # kind="schema": sidecars read different databases (or one stopped reading);
  # kind="expected": two versions of the application run side by side.
  expr: |-
    label_replace(
      max by (namespace) (schemagate_schema_version{@SEL@})
      != on (namespace)
      min by (namespace) (schemagate_schema_version{@SEL@}),
      "kind", "schema", "", "")
    or
    label_replace(
      max by (namespace) (schemagate_expected_version{@SEL@})
      != on (namespace)
      min by (namespace) (schemagate_expected_version{@SEL@}),
      "kind", "expected", "", "")
  annotations:
    summary: Sidecars of @NAME@ have reported different {{ $labels.kind }} versions for @FOR@.
    description: >-
      Sidecars of @NAME@ in {{ $labels.namespace }} report {{ $labels.kind }} versions from
      {{ with printf "min(schemagate_%s_version{@QSEL@})" $labels.kind | query }}{{ . | first | value | printf "%.0f" }}{{ end }}
      to {{ $value | printf "%.0f" }}, for longer than a rollout should take (@FOR@).
`}}
{{- end }}

{{/* The PrometheusRule (empty output unless metrics.prometheusRule.enabled). */}}
{{- define "schemagate.prometheusRule" -}}
{{- include "schemagate.normalize" . -}}
{{- $r := .values.metrics.prometheusRule }}
{{- if $r.enabled }}
{{- $path := ternary .valuesPath "schemagate" (hasKey . "valuesPath") }}
{{- $pre := ternary "" (printf "%s." $path) (eq $path "") }}
{{- $ns := .root.Release.Namespace }}
{{- /* Pods of a Deployment are <name>-<template hash>-<suffix>; a Deployment
named <name>-worker has one dash more and does not match. PromQL strings
need the regexp's backslashes doubled. */}}
{{- $podRe := printf "%s-[a-z0-9]+-[a-z0-9]+" (regexQuoteMeta .name) | replace "\\" "\\\\" }}
{{- $sel := $r.selector | default (printf "namespace='%s', pod=~'%s'" $ns $podRe) }}
{{- $lock := .values.lock.timeout | toString }}
{{- $text := include "schemagate.alertRules" . }}
{{- $text = $text | replace "@QSEL@" ($sel | replace "\"" "'") | replace "@SEL@" $sel }}
{{- $text = $text | replace "@NAME@" .name | replace "@NAMESPACE@" $ns }}
{{- $text = $text | replace "@LOCK_TIMEOUT_S@" (divf (include "schemagate.durationMs" $lock | atoi) 1000 | toString) | replace "@LOCK_TIMEOUT@" $lock }}
{{- $text = $text | replace "@PER_SECOND@" ($r.alerts.httpAbuse.perSecond | toString) }}
{{- $rules := list }}
{{- range (fromYamlArray $text) }}
{{- $a := get $r.alerts .key }}
{{- if not (regexMatch "^([0-9]+(ms|s|m|h|d|w|y))+$" (toString $a.for)) }}
{{- fail (printf "schemagate-lib: %smetrics.prometheusRule.alerts.%s.for must be a duration such as 30s, 5m or 1h, got %v" $pre .key $a.for) }}
{{- end }}
{{- if $a.enabled }}
{{- $ann := dict }}
{{- range $k, $v := .annotations }}
{{- $_ := set $ann $k ($v | replace "@FOR@" (toString $a.for)) }}
{{- end }}
{{- $_ := set $ann "runbook_url" (printf "%s#%s" $r.runbookUrl (lower .alert)) }}
{{- $labels := merge (dict "severity" $a.severity) (deepCopy $r.alertLabels) }}
{{- $rules = append $rules (dict "alert" .alert "expr" .expr "for" (toString $a.for) "labels" $labels "annotations" $ann) }}
{{- end }}
{{- end }}
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: {{ .name }}
  {{- with $r.namespace }}
  namespace: {{ . }}
  {{- end }}
  labels:
    {{- include "schemagate.labels" . | nindent 4 }}
    {{- with $r.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  groups:
    - name: {{ printf "schemagate.%s.%s" $ns .name }}
      rules:
        {{- toYaml $rules | nindent 8 }}
{{- end }}
{{- end }}
