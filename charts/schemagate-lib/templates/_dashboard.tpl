{{/*
_dashboard.tpl - the Grafana dashboard of the sidecars' metrics, in a
ConfigMap that Grafana's dashboard sidecar discovers by its label. It is
written below as YAML inside a Go raw string (legends use Grafana's {{ }}) and
rendered as JSON. One dashboard for every release: pick the namespace and the
scrape job (one per deployment) at the top; series are per namespace and job.
ci/checks.d/35-alerts.sh runs every expr against a Prometheus that scrapes
real sidecars.
*/}}

{{- define "schemagate.dashboardSpec" -}}
{{`
title: schemagate
uid: schemagate
tags: [schemagate, postgresql, migrations]
editable: true
schemaVersion: 39
refresh: 30s
time: {from: now-6h, to: now}
templating:
  list:
    - name: datasource
      label: Data source
      type: datasource
      query: prometheus
    - name: namespace
      label: Namespace
      type: query
      datasource: {type: prometheus, uid: "${datasource}"}
      query: label_values(schemagate_build_info, namespace)
      refresh: 2
      multi: true
      includeAll: true
    - name: job
      label: Job (deployment)
      type: query
      datasource: {type: prometheus, uid: "${datasource}"}
      query: label_values(schemagate_build_info{namespace=~"$namespace"}, job)
      refresh: 2
      multi: true
      includeAll: true
panels:
  - title: Schema version and expected version
    description: The version in the history table, and the highest version a sidecar needs to be ready.
    type: timeseries
    gridPos: {h: 8, w: 12, x: 0, "y": 0}
    datasource: {type: prometheus, uid: "${datasource}"}
    fieldConfig: {defaults: {decimals: 0}, overrides: []}
    targets:
      - refId: A
        expr: max by (namespace, job) (schemagate_schema_version{namespace=~"$namespace", job=~"$job"})
        legendFormat: "{{namespace}}/{{job}} schema"
      - refId: B
        expr: max by (namespace, job) (schemagate_expected_version{namespace=~"$namespace", job=~"$job"})
        legendFormat: "{{namespace}}/{{job}} expected"
  - title: Ready sidecars
    description: Sidecars whose every readiness check passes, out of all scraped.
    type: timeseries
    gridPos: {h: 8, w: 6, x: 12, "y": 0}
    datasource: {type: prometheus, uid: "${datasource}"}
    fieldConfig: {defaults: {decimals: 0}, overrides: []}
    targets:
      - refId: A
        expr: sum by (namespace, job) (schemagate_ready{namespace=~"$namespace", job=~"$job"})
        legendFormat: "{{namespace}}/{{job}} ready"
      - refId: B
        expr: count by (namespace, job) (schemagate_ready{namespace=~"$namespace", job=~"$job"})
        legendFormat: "{{namespace}}/{{job}} sidecars"
  - title: Pending migrations
    description: Migration files above the recorded version (sidecars that read the folder).
    type: timeseries
    gridPos: {h: 8, w: 6, x: 18, "y": 0}
    datasource: {type: prometheus, uid: "${datasource}"}
    fieldConfig: {defaults: {decimals: 0}, overrides: []}
    targets:
      - refId: A
        expr: max by (namespace, job) (schemagate_pending_migrations{namespace=~"$namespace", job=~"$job"})
        legendFormat: "{{namespace}}/{{job}}"
  - title: Last run outcome
    description: The outcome of the newest run in the runs table.
    type: stat
    gridPos: {h: 4, w: 6, x: 0, "y": 8}
    datasource: {type: prometheus, uid: "${datasource}"}
    options: {textMode: name, colorMode: background, reduceOptions: {calcs: [lastNotNull]}}
    fieldConfig:
      defaults: {}
      overrides:
        - matcher: {id: byRegexp, options: ".*(failed|interrupted|abandoned)"}
          properties: [{id: color, value: {mode: fixed, fixedColor: red}}]
        - matcher: {id: byRegexp, options: ".*(succeeded|running)"}
          properties: [{id: color, value: {mode: fixed, fixedColor: green}}]
    targets:
      - refId: A
        expr: max by (namespace, job, outcome) (schemagate_last_run_outcome{namespace=~"$namespace", job=~"$job"}) == 1
        legendFormat: "{{namespace}}/{{job}}: {{outcome}}"
  - title: Last run duration
    type: stat
    gridPos: {h: 4, w: 6, x: 6, "y": 8}
    datasource: {type: prometheus, uid: "${datasource}"}
    fieldConfig: {defaults: {unit: s}, overrides: []}
    targets:
      - refId: A
        expr: max by (namespace, job) (schemagate_last_run_duration_seconds{namespace=~"$namespace", job=~"$job"})
        legendFormat: "{{namespace}}/{{job}}"
  - title: Time since the last run ended
    type: stat
    gridPos: {h: 4, w: 6, x: 12, "y": 8}
    datasource: {type: prometheus, uid: "${datasource}"}
    fieldConfig: {defaults: {unit: s}, overrides: []}
    targets:
      - refId: A
        expr: time() - max by (namespace, job) (schemagate_last_run_end_timestamp_seconds{namespace=~"$namespace", job=~"$job"} > 0)
        legendFormat: "{{namespace}}/{{job}}"
  - title: Versions running
    description: Sidecars per schemagate version.
    type: stat
    gridPos: {h: 4, w: 6, x: 18, "y": 8}
    datasource: {type: prometheus, uid: "${datasource}"}
    options: {textMode: value_and_name}
    fieldConfig: {defaults: {decimals: 0}, overrides: []}
    targets:
      - refId: A
        expr: count by (namespace, job, version) (schemagate_build_info{namespace=~"$namespace", job=~"$job"})
        legendFormat: "{{namespace}}/{{job}} {{version}}"
  - title: Migration lock held for
    description: How long the session that holds the migration advisory lock has held it (0 when free).
    type: timeseries
    gridPos: {h: 8, w: 8, x: 0, "y": 12}
    datasource: {type: prometheus, uid: "${datasource}"}
    fieldConfig: {defaults: {unit: s}, overrides: []}
    targets:
      - refId: A
        expr: max by (namespace, job) (schemagate_migration_lock_age_seconds{namespace=~"$namespace", job=~"$job"})
        legendFormat: "{{namespace}}/{{job}}"
  - title: Sidecars reaching the database
    type: timeseries
    gridPos: {h: 8, w: 8, x: 8, "y": 12}
    datasource: {type: prometheus, uid: "${datasource}"}
    fieldConfig: {defaults: {decimals: 0}, overrides: []}
    targets:
      - refId: A
        expr: sum by (namespace, job) (schemagate_database_up{namespace=~"$namespace", job=~"$job"})
        legendFormat: "{{namespace}}/{{job}}"
  - title: Check latency
    description: Duration of the sidecars' database check.
    type: timeseries
    gridPos: {h: 8, w: 8, x: 16, "y": 12}
    datasource: {type: prometheus, uid: "${datasource}"}
    fieldConfig: {defaults: {unit: s}, overrides: []}
    targets:
      - refId: A
        expr: histogram_quantile(0.5, sum by (namespace, job, le) (rate(schemagate_check_duration_seconds_bucket{namespace=~"$namespace", job=~"$job"}[$__rate_interval])))
        legendFormat: "{{namespace}}/{{job}} p50"
      - refId: B
        expr: histogram_quantile(0.99, sum by (namespace, job, le) (rate(schemagate_check_duration_seconds_bucket{namespace=~"$namespace", job=~"$job"}[$__rate_interval])))
        legendFormat: "{{namespace}}/{{job}} p99"
  - title: HTTP refusals, evictions and timeouts
    description: Requests the front door answered itself (400, 413, 431), unfinished requests it dropped for newer clients, and connections ended by the request timeout.
    type: timeseries
    gridPos: {h: 8, w: 24, x: 0, "y": 20}
    datasource: {type: prometheus, uid: "${datasource}"}
    fieldConfig: {defaults: {unit: reqps}, overrides: []}
    targets:
      - refId: A
        expr: sum by (namespace, job) (rate(schemagate_http_requests_refused_total{namespace=~"$namespace", job=~"$job"}[$__rate_interval]))
        legendFormat: "{{namespace}}/{{job}} refused"
      - refId: B
        expr: sum by (namespace, job) (rate(schemagate_http_connections_evicted_total{namespace=~"$namespace", job=~"$job"}[$__rate_interval]))
        legendFormat: "{{namespace}}/{{job}} evicted"
      - refId: C
        expr: sum by (namespace, job) (rate(schemagate_http_timeouts_total{namespace=~"$namespace", job=~"$job"}[$__rate_interval]))
        legendFormat: "{{namespace}}/{{job}} timed out"
`}}
{{- end }}

{{/* The dashboard's ConfigMap (empty output unless metrics.dashboard.enabled). */}}
{{- define "schemagate.dashboard" -}}
{{- include "schemagate.normalize" . -}}
{{- $d := .values.metrics.dashboard }}
{{- if $d.enabled }}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ printf "%s-dashboard" .name | trunc 63 | trimSuffix "-" }}
  {{- with $d.namespace }}
  namespace: {{ . }}
  {{- end }}
  labels:
    {{- include "schemagate.labels" . | nindent 4 }}
    {{ $d.label }}: {{ $d.labelValue | quote }}
    {{- with $d.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with $d.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
data:
  schemagate.json: |-
    {{- include "schemagate.dashboardSpec" . | fromYaml | toPrettyJson | nindent 4 }}
{{- end }}
{{- end }}
