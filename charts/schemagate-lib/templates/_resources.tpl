{{/*
_resources.tpl - whole manifests: the migrations ConfigMap, the demo Secret, the migrate Job.
Each renders nothing when the values do not ask for it, so a chart can include
all three unconditionally.
*/}}

{{/* In job mode the Job is a pre-install hook, which Helm creates before any
ordinary manifest: what the Job mounts must be a hook too, with a lower
weight, and stays after the hook succeeds (before-hook-creation only). */}}
{{- define "schemagate.preHookAnnotations" -}}
{{- if eq .values.migrations.mode "job" }}
annotations:
  helm.sh/hook: pre-install,pre-upgrade
  helm.sh/hook-weight: "-10"
  helm.sh/hook-delete-policy: before-hook-creation
{{- end }}
{{- end }}

{{- define "schemagate.migrationsConfigMap" -}}
{{- if and (include "schemagate.usesConfigMap" .) (not .values.migrations.existingConfigMap) }}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "schemagate.configMapName" . }}
  labels:
    {{- include "schemagate.labels" . | nindent 4 }}
  {{- with (include "schemagate.preHookAnnotations" . | trim) }}
  {{- . | nindent 2 }}
  {{- end }}
data:
  {{- range $file, $sql := .values.migrations.files }}
  {{ $file | quote }}: {{ $sql | quote }}
  {{- end }}
{{- end }}
{{- end }}

{{- define "schemagate.secret" -}}
{{- if not .values.secret.existingSecret }}
apiVersion: v1
kind: Secret
metadata:
  name: {{ include "schemagate.secretName" . }}
  labels:
    {{- include "schemagate.labels" . | nindent 4 }}
  {{- with (include "schemagate.preHookAnnotations" . | trim) }}
  {{- . | nindent 2 }}
  {{- end }}
type: Opaque
stringData:
  {{ .values.secret.databaseUrlKey }}: {{ required "secret.databaseUrl is required when secret.existingSecret is empty" .values.secret.databaseUrl | quote }}
  {{- if .values.leader.enabled }}
  {{ .values.secret.redisUrlKey }}: {{ required "secret.redisUrl is required when leader.enabled and secret.existingSecret is empty" .values.secret.redisUrl | quote }}
  {{- end }}
  {{- if .values.sidecar.admin.enabled }}
  {{ .values.secret.adminTokenKey }}: {{ required "secret.adminToken is required when sidecar.admin.enabled and secret.existingSecret is empty" .values.secret.adminToken | quote }}
  {{- end }}
{{- end }}
{{- end }}

{{- define "schemagate.migrateJob" -}}
{{- if eq .values.migrations.mode "job" }}
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ printf "%s-migrate" .name | trunc 63 | trimSuffix "-" }}
  labels:
    {{- include "schemagate.labels" . | nindent 4 }}
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
    helm.sh/hook-weight: "0"
    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
spec:
  backoffLimit: {{ .values.migrations.job.backoffLimit }}
  activeDeadlineSeconds: {{ .values.migrations.job.activeDeadlineSeconds }}
  {{- with .values.migrations.job.ttlSecondsAfterFinished }}
  ttlSecondsAfterFinished: {{ . }}
  {{- end }}
  template:
    metadata:
      labels:
        {{- include "schemagate.labels" . | nindent 8 }}
        app.kubernetes.io/component: migrate
    spec:
      restartPolicy: Never
      automountServiceAccountToken: false
      securityContext:
        {{- include "schemagate.podSecurityContext" . | nindent 8 }}
      containers:
        - {{ include "schemagate.migrateContainer" . | nindent 10 | trim }}
      {{- with (include "schemagate.migrationsVolume" . | trim) }}
      volumes:
        {{- . | nindent 8 }}
      {{- end }}
{{- end }}
{{- end }}
