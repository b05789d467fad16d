{{/*
_containers.tpl - the schemagate containers: migrate, wait, serve, and the app's readinessProbe.
Every setting is passed explicitly (flag or env): the chart never relies on a
default built into the binary, so a renamed flag or env var fails the e2e test.
*/}}

{{/* Environment shared by every schemagate container, after its DATABASE_URL
(schemagate.databaseUrlEnv). */}}
{{- define "schemagate.env" -}}
{{- include "schemagate.normalize" . -}}
{{- if .values.database.searchPath }}
- name: DATABASE_SEARCH_PATH
  value: {{ .values.database.searchPath | quote }}
{{- end }}
{{- if .values.leader.enabled }}
- name: REDIS_URL
  {{- if .values.leader.redisUrl }}
  value: {{ .values.leader.redisUrl | quote }}
  {{- else }}
  valueFrom:
    secretKeyRef:
      {{- include "schemagate.credentialRef" (dict "sg" . "c" "redisUrl") | trim | nindent 6 }}
  {{- end }}
{{- with (include "schemagate.redisPasswordFile" .) }}
- name: REDIS_PASSWORD_FILE
  value: {{ . | quote }}
{{- end }}
{{- end }}
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: MIGRATIONS_DIR
  value: {{ .values.migrations.mountPath | quote }}
- name: SCHEMAGATE_LOCK_POLL_MIN
  value: {{ .values.lock.pollMin | quote }}
- name: SCHEMAGATE_LOCK_POLL_MAX
  value: {{ .values.lock.pollMax | quote }}
{{- range .values.extraEnv }}
- {{ toYaml . | nindent 2 | trim }}
{{- end }}
{{- end }}

{{/* DATABASE_DIRECT_URL, for migrate alone (the lock, LISTEN and no-transaction
files need a real session when DATABASE_URL goes through a pooler such as
PgBouncer in transaction mode; wait and serve do not read it). Its own
reference must exist; from the chart's Secret or existingSecret it is optional,
so a Secret without the key leaves it unset. Left out when extraEnv sets it
(as releases did before this setting existed): a duplicate name would be a
conflict for kubectl apply. */}}
{{- define "schemagate.directUrlEnv" -}}
{{- include "schemagate.normalize" . -}}
{{- $inExtra := false }}
{{- range .values.extraEnv }}{{ if eq (toString .name) "DATABASE_DIRECT_URL" }}{{ $inExtra = true }}{{ end }}{{ end }}
{{- if not $inExtra }}
- name: DATABASE_DIRECT_URL
  valueFrom:
    secretKeyRef:
      {{- include "schemagate.credentialRef" (dict "sg" . "c" "databaseDirectUrl") | trim | nindent 6 }}
      {{- if not .values.secret.refs.databaseDirectUrl.name }}
      optional: true
      {{- end }}
{{- end }}
{{- end }}

{{/* Flags shared by every schemagate command. */}}
{{- define "schemagate.commonArgs" -}}
{{- include "schemagate.normalize" . -}}
- --table={{ .values.migrations.table }}
- --connect-attempts={{ .values.database.connectAttempts }}
- --connect-base-delay={{ .values.database.connectBaseDelay }}
- --connect-max-delay={{ .values.database.connectMaxDelay }}
- --connect-timeout={{ .values.database.connectTimeout }}
- --log-format={{ .values.log.format }}
- --log-level={{ .values.log.level }}
{{- end }}

{{/* The mounts of every schemagate container: the migrations (read-only) and
the Redis password file. */}}
{{- define "schemagate.volumeMounts" -}}
{{- include "schemagate.normalize" . -}}
{{- if include "schemagate.hasMigrationsVolume" . }}
- name: schemagate-migrations
  mountPath: {{ .values.migrations.mountPath }}
  readOnly: true
  {{- if eq .values.migrations.source "imageVolume" }}
  subPath: {{ trimPrefix "/" .values.migrations.fromImage.path }}
  {{- end }}
{{- end }}
{{- if include "schemagate.redisPasswordFile" . }}
- name: schemagate-redis-password
  mountPath: /var/run/secrets/schemagate-redis
  readOnly: true
{{- end }}
{{- end }}

{{/* migrations.source=copy: an init container of the image that holds the
migrations (often the application's own) copies them into the emptyDir that
every schemagate container then reads; for sets over the 1 MiB ConfigMap limit.
The image needs cp. */}}
{{- define "schemagate.copyContainer" -}}
{{- include "schemagate.normalize" . -}}
{{- $f := .values.migrations.fromImage }}
name: schemagate-copy-migrations
image: {{ include "schemagate.imageRef" (dict "image" $f "default" "latest") }}
imagePullPolicy: {{ $f.pullPolicy }}
command: ["cp", "-R", "{{ trimSuffix "/" $f.path }}/.", "{{ trimSuffix "/" .values.migrations.mountPath }}/"]
volumeMounts:
  - name: schemagate-migrations
    mountPath: {{ .values.migrations.mountPath }}
resources:
  {{- toYaml .values.resources.migrate | nindent 2 }}
securityContext:
  {{- include "schemagate.containerSecurityContext" . | nindent 2 }}
{{- end }}

{{/* The `schemagate migrate` init container. */}}
{{- define "schemagate.migrateContainer" -}}
{{- include "schemagate.normalize" . -}}
name: schemagate-migrate
image: {{ include "schemagate.image" . }}
imagePullPolicy: {{ .values.image.pullPolicy }}
args:
  - migrate
  {{- include "schemagate.commonArgs" . | nindent 2 }}
  - --target={{ .values.migrations.target }}
  - --notify-channel={{ .values.migrations.notifyChannel }}
  - --lock-timeout={{ .values.lock.timeout }}
  - {{ ternary "--allow-drift" "--no-allow-drift" .values.migrations.allowDrift }}
  {{- if .values.leader.enabled }}
  - {{ ternary "--leader-required" "--no-leader-required" .values.leader.required }}
  - --lease-duration={{ .values.leader.leaseDuration }}
  - --renew-deadline={{ .values.leader.renewDeadline }}
  - --retry-period={{ .values.leader.retryPeriod }}
  - --redis-timeout={{ .values.leader.redisTimeout }}
  - --follower-poll={{ .values.leader.followerPoll }}
  - --follower-timeout={{ .values.leader.followerTimeout }}
  {{- end }}
env:
  {{- include "schemagate.databaseUrlEnv" (dict "sg" . "reader" false) | nindent 2 }}
  {{- include "schemagate.env" . | nindent 2 }}
  {{- include "schemagate.directUrlEnv" . | nindent 2 }}
  - name: SKIP_MIGRATIONS
    value: {{ .values.migrations.skip | toString | quote }}
  - name: MIGRATIONS_FAIL_FAST
    value: {{ .values.migrations.failFast | toString | quote }}
{{- with (include "schemagate.volumeMounts" . | trim) }}
volumeMounts:
  {{- . | nindent 2 }}
{{- end }}
resources:
  {{- toYaml .values.resources.migrate | nindent 2 }}
securityContext:
  {{- include "schemagate.containerSecurityContext" . | nindent 2 }}
{{- end }}

{{/* The `schemagate wait` init container (mode job: the Job migrates, pods wait). */}}
{{- define "schemagate.waitContainer" -}}
{{- include "schemagate.normalize" . -}}
name: schemagate-wait
image: {{ include "schemagate.image" . }}
imagePullPolicy: {{ .values.image.pullPolicy }}
args:
  - wait
  {{- include "schemagate.commonArgs" . | nindent 2 }}
  {{- with .values.requiredTables }}
  - --tables={{ join "," . }}
  {{- end }}
  - --version={{ .values.wait.version }}
  - --timeout={{ .values.wait.timeout }}
  - --interval={{ .values.wait.interval }}
env:
  {{- include "schemagate.databaseUrlEnv" (dict "sg" . "reader" true) | nindent 2 }}
  {{- include "schemagate.env" . | nindent 2 }}
{{- with (include "schemagate.volumeMounts" . | trim) }}
volumeMounts:
  {{- . | nindent 2 }}
{{- end }}
resources:
  {{- toYaml .values.resources.migrate | nindent 2 }}
securityContext:
  {{- include "schemagate.containerSecurityContext" . | nindent 2 }}
{{- end }}

{{/* The migrate or wait init container, by migrations.mode. */}}
{{- define "schemagate.initContainer" -}}
{{- include "schemagate.normalize" . -}}
{{- if eq .values.migrations.mode "job" }}
{{- include "schemagate.waitContainer" . }}
{{- else }}
{{- include "schemagate.migrateContainer" . }}
{{- end }}
{{- end }}

{{/* The `schemagate serve` readiness sidecar. */}}
{{- define "schemagate.sidecar" -}}
{{- include "schemagate.normalize" . -}}
name: schemagate
image: {{ include "schemagate.image" . }}
imagePullPolicy: {{ .values.image.pullPolicy }}
{{- if .values.sidecar.native }}
restartPolicy: Always
{{- end }}
args:
  - serve
  {{- include "schemagate.commonArgs" . | nindent 2 }}
  - --listen={{ include "schemagate.listen" . }}
  {{- with .values.requiredTables }}
  - --tables={{ join "," . }}
  {{- end }}
  - --expect-version={{ .values.sidecar.expectVersion }}
  - --check-interval={{ .values.sidecar.checkInterval }}
  - --max-connections={{ .values.sidecar.maxConnections }}
  - --request-timeout={{ .values.sidecar.requestTimeout }}
  - --drain-delay={{ .values.sidecar.drainDelay }}
  - --grace-period={{ .values.sidecar.gracePeriod }}
  {{- if .values.sidecar.admin.enabled }}
  - --admin-token-file={{ .values.sidecar.admin.mountPath }}/{{ (include "schemagate.credentialRef" (dict "sg" . "c" "adminToken") | fromYaml).key }}
  {{- end }}
env:
  {{- include "schemagate.databaseUrlEnv" (dict "sg" . "reader" true) | nindent 2 }}
  {{- include "schemagate.env" . | nindent 2 }}
ports:
  - name: schemagate
    containerPort: {{ include "schemagate.port" . }}
    protocol: TCP
startupProbe:
  httpGet:
    path: /healthz
    port: {{ include "schemagate.port" . }}
  periodSeconds: {{ .values.sidecar.startupProbe.periodSeconds }}
  failureThreshold: {{ .values.sidecar.startupProbe.failureThreshold }}
  timeoutSeconds: {{ .values.sidecar.startupProbe.timeoutSeconds }}
livenessProbe:
  httpGet:
    path: /livez
    port: {{ include "schemagate.port" . }}
  periodSeconds: {{ .values.sidecar.livenessProbe.periodSeconds }}
  failureThreshold: {{ .values.sidecar.livenessProbe.failureThreshold }}
  timeoutSeconds: {{ .values.sidecar.livenessProbe.timeoutSeconds }}
{{- if eq .values.sidecar.readinessProbeOn "sidecar" }}
readinessProbe:
  {{- include "schemagate.readinessProbe" . | nindent 2 }}
{{- end }}
{{- $mounts := include "schemagate.volumeMounts" . | trim }}
{{- if or $mounts .values.sidecar.admin.enabled }}
volumeMounts:
  {{- with $mounts }}{{ . | nindent 2 }}{{ end }}
  {{- if .values.sidecar.admin.enabled }}
  - name: schemagate-admin-token
    mountPath: {{ .values.sidecar.admin.mountPath }}
    readOnly: true
  {{- end }}
{{- end }}
resources:
  {{- toYaml .values.resources.sidecar | nindent 2 }}
securityContext:
  {{- include "schemagate.containerSecurityContext" . | nindent 2 }}
{{- end }}

{{/* initContainers list items: the copy of the migrations (source copy), the
native sidecar (so /health shows the migration as it runs), then migrate or
wait. */}}
{{- define "schemagate.initContainers" -}}
{{- include "schemagate.normalize" . -}}
{{- if eq .values.migrations.source "copy" }}
- {{ include "schemagate.copyContainer" . | nindent 2 | trim }}
{{- end }}
{{- if .values.sidecar.native }}
- {{ include "schemagate.sidecar" . | nindent 2 | trim }}
{{- end }}
- {{ include "schemagate.initContainer" . | nindent 2 | trim }}
{{- end }}

{{/* containers list item: the sidecar, unless it runs as a native sidecar. */}}
{{- define "schemagate.sidecars" -}}
{{- include "schemagate.normalize" . -}}
{{- if not .values.sidecar.native }}
- {{ include "schemagate.sidecar" . | nindent 2 | trim }}
{{- end }}
{{- end }}

{{/* The application container's readinessProbe: the sidecar's /readyz, by port number. */}}
{{- define "schemagate.readinessProbe" -}}
{{- include "schemagate.normalize" . -}}
httpGet:
  path: /readyz
  port: {{ include "schemagate.port" . }}
periodSeconds: {{ .values.sidecar.readinessProbe.periodSeconds }}
timeoutSeconds: {{ .values.sidecar.readinessProbe.timeoutSeconds }}
failureThreshold: {{ .values.sidecar.readinessProbe.failureThreshold }}
successThreshold: 1
{{- end }}

{{- define "schemagate.migrationsVolume" -}}
{{- include "schemagate.normalize" . -}}
{{- $m := .values.migrations }}
{{- if eq $m.source "configMap" }}
- name: schemagate-migrations
  configMap:
    name: {{ include "schemagate.configMapName" . }}
{{- else if eq $m.source "copy" }}
- name: schemagate-migrations
  emptyDir: {}
{{- else if eq $m.source "imageVolume" }}
- name: schemagate-migrations
  image:
    reference: {{ include "schemagate.imageRef" (dict "image" $m.fromImage "default" "latest") }}
    pullPolicy: {{ $m.fromImage.pullPolicy }}
{{- end }}
{{- with (include "schemagate.redisPasswordFile" .) }}
{{- $ref := $.values.secret.refs.redisPassword }}
- name: schemagate-redis-password
  secret:
    secretName: {{ $ref.name }}
    items:
      - key: {{ $ref.key }}
        path: {{ $ref.key }}
    defaultMode: 0440
{{- end }}
{{- end }}

{{- define "schemagate.volumes" -}}
{{- include "schemagate.normalize" . -}}
{{- include "schemagate.migrationsVolume" . }}
{{- if .values.sidecar.admin.enabled }}
{{- $ref := include "schemagate.credentialRef" (dict "sg" . "c" "adminToken") | fromYaml }}
- name: schemagate-admin-token
  secret:
    secretName: {{ $ref.name }}
    items:
      - key: {{ $ref.key }}
        path: {{ $ref.key }}
    defaultMode: 0440
{{- end }}
{{- end }}
