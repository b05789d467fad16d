{{/*
_values.tpl - the defaults of the schemagate block and its validation.
Every public template starts with schemagate.normalize: it merges the block
the including chart passes as .values over schemagate.defaults (so a consumer
writes only what is specific to it) and fails the render on an unknown key or
a map/boolean of the wrong type, naming its path. It runs once per dict.
*/}}

{{- define "schemagate.defaults" -}}
image:
  repository: ghcr.io/schemagate/schemagate
  tag: ""
  digest: ""
  pullPolicy: IfNotPresent
secret:
  existingSecret: ""
  databaseUrlKey: DATABASE_URL
  databaseDirectUrlKey: DATABASE_DIRECT_URL
  readerDatabaseUrlKey: ""
  redisUrlKey: REDIS_URL
  adminTokenKey: admin-token
  databaseUrl: ""
  databaseDirectUrl: ""
  readerDatabaseUrl: ""
  redisUrl: ""
  adminToken: ""
  refs:
    databaseUrl: {name: "", key: DATABASE_URL}
    databaseDirectUrl: {name: "", key: DATABASE_DIRECT_URL}
    readerDatabaseUrl: {name: "", key: DATABASE_URL}
    redisUrl: {name: "", key: REDIS_URL}
    redisPassword: {name: "", key: redis-password}
    adminToken: {name: "", key: admin-token}
database:
  searchPath: "mcp,public"
  connectAttempts: 10
  connectBaseDelay: 1s
  connectMaxDelay: 30s
  connectTimeout: 10s
migrations:
  mode: initContainer
  source: configMap
  files: {}
  existingConfigMap: ""
  revision: ""
  fromImage:
    repository: ""
    tag: ""
    digest: ""
    pullPolicy: IfNotPresent
    path: /migrations
  mountPath: /migrations
  table: schemagate_migrations
  skip: false
  failFast: true
  allowDrift: false
  target: latest
  notifyChannel: schemagate_migrations
  job:
    backoffLimit: 1
    activeDeadlineSeconds: 240
    ttlSecondsAfterFinished: 600
    podAnnotations: {}
lock:
  timeout: 3m
  pollMin: 50ms
  pollMax: 1s
leader:
  enabled: false
  required: false
  redisUrl: ""
  leaseDuration: 15s
  renewDeadline: 10s
  retryPeriod: 2s
  redisTimeout: 500ms
  followerPoll: 1s
  followerTimeout: 10m
requiredTables: []
wait:
  version: any
  timeout: 10m
  interval: 2s
sidecar:
  native: false
  listenHost: 0.0.0.0
  port: 8081
  expectVersion: latest
  checkInterval: 2s
  maxConnections: 16384
  requestTimeout: 2s
  drainDelay: 5s
  gracePeriod: 10s
  readinessProbeOn: app
  admin:
    enabled: true
    mountPath: /var/run/secrets/schemagate
  startupProbe: {periodSeconds: 1, failureThreshold: 30, timeoutSeconds: 2}
  livenessProbe: {periodSeconds: 10, failureThreshold: 3, timeoutSeconds: 2}
  readinessProbe: {periodSeconds: 5, failureThreshold: 3, timeoutSeconds: 2}
log:
  format: json
  level: info
resources:
  migrate:
    requests: {cpu: 50m, memory: 32Mi}
    limits: {cpu: 500m, memory: 128Mi}
  sidecar:
    requests: {cpu: 10m, memory: 16Mi}
    limits: {cpu: 200m, memory: 128Mi}
securityContext:
  runAsUser: 65532
  runAsGroup: 65532
extraEnv: []
metrics:
  prometheusRule:
    enabled: false
    namespace: ""
    labels: {}
    alertLabels: {}
    selector: ""
    runbookUrl: https://github.com/schemagate/schemagate/blob/main/docs/alerts.md
    alerts:
      migrationFailed: {enabled: true, for: 1m, severity: critical}
      schemaBehind: {enabled: true, for: 15m, severity: warning}
      notReady: {enabled: true, for: 10m, severity: warning}
      databaseDown: {enabled: true, for: 5m, severity: critical}
      migrationStuck: {enabled: true, for: 1m, severity: critical}
      httpAbuse: {enabled: true, for: 10m, severity: warning, perSecond: 1}
      versionSkew: {enabled: true, for: 15m, severity: warning}
  dashboard:
    enabled: false
    namespace: ""
    label: grafana_dashboard
    labelValue: "1"
    labels: {}
    annotations: {}
{{- end }}

{{/* Merges .src into .dst (a deep copy of the defaults) in place; .path names
the map for messages. An empty default map, requests and limits are free-form. */}}
{{- define "schemagate.mergeBlock" -}}
{{- $dst := .dst }}
{{- $path := .path }}
{{- range $k, $v := .src }}
{{- $p := ternary $k (printf "%s.%s" $path $k) (eq $path "") }}
{{- if not (hasKey $dst $k) }}
{{- fail (printf "schemagate-lib: unknown value %s (known at this level: %s)" $p (keys $dst | sortAlpha | join ", ")) }}
{{- end }}
{{- $d := get $dst $k }}
{{- if kindIs "invalid" $v }}
{{- /* null: keep the default */}}
{{- else if kindIs "map" $d }}
{{- if not (kindIs "map" $v) }}
{{- fail (printf "schemagate-lib: %s must be a map, got %s" $p (kindOf $v)) }}
{{- end }}
{{- if or (eq (len $d) 0) (has $k (list "requests" "limits")) }}
{{- $_ := set $dst $k $v }}
{{- else }}
{{- include "schemagate.mergeBlock" (dict "dst" $d "src" $v "path" $p) }}
{{- end }}
{{- else if kindIs "bool" $d }}
{{- if not (kindIs "bool" $v) }}
{{- fail (printf "schemagate-lib: %s must be true or false, got %v" $p $v) }}
{{- end }}
{{- $_ := set $dst $k $v }}
{{- else if kindIs "slice" $d }}
{{- if not (kindIs "slice" $v) }}
{{- fail (printf "schemagate-lib: %s must be a list, got %v" $p $v) }}
{{- end }}
{{- $_ := set $dst $k $v }}
{{- else }}
{{- $_ := set $dst $k $v }}
{{- end }}
{{- end }}
{{- end }}

{{/* A duration (500ms, 10s, 1m30s) in milliseconds. */}}
{{- define "schemagate.durationMs" -}}
{{- $ms := 0 }}
{{- range regexFindAll "[0-9]+(ms|h|m|s)" (toString .) -1 }}
{{- $n := regexFind "^[0-9]+" . | atoi }}
{{- if hasSuffix "ms" . }}{{ $ms = add $ms $n }}
{{- else if hasSuffix "h" . }}{{ $ms = add $ms (mul $n 3600000) }}
{{- else if hasSuffix "m" . }}{{ $ms = add $ms (mul $n 60000) }}
{{- else }}{{ $ms = add $ms (mul $n 1000) }}
{{- end }}
{{- end }}
{{- $ms -}}
{{- end }}

{{/* Kubernetes refuses a ConfigMap whose keys and values add up to more than this. */}}
{{- define "schemagate.objectLimit" -}}1048576{{- end }}

{{- define "schemagate.normalize" -}}
{{- if not (hasKey . "normalized") }}
{{- $v := include "schemagate.defaults" . | fromYaml }}
{{- $path := ternary .valuesPath "schemagate" (hasKey . "valuesPath") }}
{{- include "schemagate.mergeBlock" (dict "dst" $v "src" (.values | default dict) "path" $path) }}
{{- $_ := set . "values" $v }}
{{- $_ := set . "normalized" true }}
{{- $pre := ternary "" (printf "%s." $path) (eq $path "") }}
{{- $m := $v.migrations }}
{{- if not (has $m.mode (list "initContainer" "job")) }}
{{- fail (printf "schemagate-lib: %smigrations.mode must be initContainer or job, got %v" $pre $m.mode) }}
{{- end }}
{{- if not (has $m.source (list "configMap" "image" "copy" "imageVolume")) }}
{{- fail (printf "schemagate-lib: %smigrations.source must be configMap, image, copy or imageVolume, got %v" $pre $m.source) }}
{{- end }}
{{- if and (has $m.source (list "copy" "imageVolume")) (not $m.fromImage.repository) }}
{{- fail (printf "schemagate-lib: %smigrations.source=%s needs %smigrations.fromImage.repository (the image that holds the migrations)" $pre $m.source $pre) }}
{{- end }}
{{- if and (eq $m.source "imageVolume") (semverCompare "<1.33-0" .root.Capabilities.KubeVersion.Version) }}
{{- fail (printf "schemagate-lib: %smigrations.source=imageVolume needs Kubernetes 1.33 or later (image volumes); use copy instead" $pre) }}
{{- end }}
{{- if and (eq $m.source "configMap") (not $m.existingConfigMap) }}
{{- $size := 0 }}
{{- range $f, $sql := $m.files }}{{ $size = add $size (len $f) (len (toString $sql)) }}{{ end }}
{{- if gt $size (include "schemagate.objectLimit" . | atoi) }}
{{- fail (printf "schemagate-lib: %smigrations.files hold %d bytes, over the 1 MiB (%s bytes) that Kubernetes allows in one ConfigMap (and Helm stores them twice in its release Secret, limited to 1 MiB too); ship large migration sets in an image: %smigrations.source=copy or imageVolume with %smigrations.fromImage" $pre $size (include "schemagate.objectLimit" .) $pre $pre) }}
{{- end }}
{{- end }}
{{- if and $v.secret.readerDatabaseUrl (not $v.secret.readerDatabaseUrlKey) }}
{{- fail (printf "schemagate-lib: %ssecret.readerDatabaseUrl needs %ssecret.readerDatabaseUrlKey, its key in the chart's Secret (e.g. READER_DATABASE_URL)" $pre $pre) }}
{{- end }}
{{- if not (has $v.sidecar.readinessProbeOn (list "app" "sidecar")) }}
{{- fail (printf "schemagate-lib: %ssidecar.readinessProbeOn must be app or sidecar" $pre) }}
{{- end }}
{{- if eq $m.mode "job" }}
{{- $lockMs := include "schemagate.durationMs" $v.lock.timeout | atoi }}
{{- $deadlineMs := mul ($m.job.activeDeadlineSeconds | int) 1000 }}
{{- if ge $lockMs $deadlineMs }}
{{- fail (printf "schemagate-lib: %slock.timeout (%s) must be shorter than %smigrations.job.activeDeadlineSeconds (%d), and that shorter than helm's --timeout (default 5m): the Job would be killed while it waits for the lock" $pre $v.lock.timeout $pre ($m.job.activeDeadlineSeconds | int)) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
