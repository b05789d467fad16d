{{/*
_resources.tpl - whole manifests: the migrations ConfigMap, the demo Secret, the migrate Job.
Each renders nothing when the values do not ask for it, so a chart can include
all three unconditionally.
*/}}

{{/* In job mode the Job is a pre-install hook, which Helm creates before any
ordinary manifest: what the Job mounts must be a hook too, with a lower
weight, and stays after the hook succeeds (before-hook-creation only). */}}
{{- define "schemagate.preHookAnnotations" -}}
{{- include "schemagate.normalize" . -}}
{{- if eq .values.migrations.mode "job" }}
annotations:
  helm.sh/hook: pre-install,pre-upgrade
  helm.sh/hook-weight: "-10"
  helm.sh/hook-delete-policy: before-hook-creation
{{- end }}
{{- end }}

{{- define "schemagate.migrationsConfigMap" -}}
{{- include "schemagate.normalize" . -}}
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

{{/* The Secret from values (a demo convenience): only the credentials that
neither secret.existingSecret nor their own secret.refs.<c> provide. */}}
{{- define "schemagate.secret" -}}
{{- include "schemagate.normalize" . -}}
{{- $own := include "schemagate.ownCredentials" . | fromJsonArray }}
{{- $s := .values.secret }}
{{- if and (not $s.existingSecret) $own }}
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
  {{- if has "databaseUrl" $own }}
  {{ $s.databaseUrlKey }}: {{ required "secret.databaseUrl is required when neither secret.existingSecret nor secret.refs.databaseUrl.name is set" $s.databaseUrl | quote }}
  {{- end }}
  {{- if has "databaseDirectUrl" $own }}
  {{ $s.databaseDirectUrlKey }}: {{ $s.databaseDirectUrl | quote }}
  {{- end }}
  {{- if has "readerDatabaseUrl" $own }}
  {{ $s.readerDatabaseUrlKey }}: {{ required "secret.readerDatabaseUrl is required when secret.readerDatabaseUrlKey is set and neither secret.existingSecret nor secret.refs.readerDatabaseUrl.name is" $s.readerDatabaseUrl | quote }}
  {{- end }}
  {{- if has "redisUrl" $own }}
  {{ $s.redisUrlKey }}: {{ required "secret.redisUrl is required when leader.enabled and neither secret.existingSecret, secret.refs.redisUrl.name nor leader.redisUrl is set" $s.redisUrl | quote }}
  {{- end }}
  {{- if has "adminToken" $own }}
  {{ $s.adminTokenKey }}: {{ required "secret.adminToken is required when sidecar.admin.enabled and neither secret.existingSecret nor secret.refs.adminToken.name is set" $s.adminToken | quote }}
  {{- end }}
{{- end }}
{{- end }}

{{/* The pre-install/pre-upgrade Job of migrations.mode=job. Its pod takes the
same pod settings as the Deployment's, from the dict key "pod" (keys
serviceAccountName, imagePullSecrets, nodeSelector, tolerations, affinity,
priorityClassName, annotations, labels), plus migrations.job.podAnnotations
(e.g. to keep a service mesh from injecting a sidecar that never exits). */}}
{{- define "schemagate.migrateJob" -}}
{{- include "schemagate.normalize" . -}}
{{- if eq .values.migrations.mode "job" }}
{{- $pod := .pod | default dict }}
{{- $annotations := merge (dict) (.values.migrations.job.podAnnotations | default dict) ($pod.annotations | default dict) }}
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ printf "%s-migrate" .name | trunc 63 | trimSuffix "-" }}
  labels:
    {{- include "schemagate.labels" . | nindent 4 }}
    app.kubernetes.io/component: migrate
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
        {{- with $pod.labels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
        app.kubernetes.io/component: migrate
      {{- with $annotations }}
      annotations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    spec:
      restartPolicy: Never
      {{- with $pod.serviceAccountName }}
      serviceAccountName: {{ . }}
      {{- end }}
      automountServiceAccountToken: false
      {{- with $pod.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $pod.priorityClassName }}
      priorityClassName: {{ . }}
      {{- end }}
      securityContext:
        {{- include "schemagate.podSecurityContext" . | nindent 8 }}
      {{- if eq .values.migrations.source "copy" }}
      initContainers:
        - {{ include "schemagate.copyContainer" . | nindent 10 | trim }}
      {{- end }}
      containers:
        - {{ include "schemagate.migrateContainer" . | nindent 10 | trim }}
      {{- with (include "schemagate.migrationsVolume" . | trim) }}
      volumes:
        {{- . | nindent 8 }}
      {{- end }}
      {{- with $pod.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $pod.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $pod.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end }}
{{- end }}
