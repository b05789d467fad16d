{{/* _helpers.tpl - names for the application chart; the containers come from schemagate-lib. */}}

{{- define "schemagate-app.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "schemagate-app.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "schemagate-app.selectorLabels" -}}
app.kubernetes.io/name: {{ include "schemagate-app.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "schemagate-app.labels" -}}
{{ include "schemagate-app.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end }}

{{- define "schemagate-app.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "schemagate-app.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The schemagate block of these values (the keys schemagate-lib knows), as
YAML; the application's own settings stay out of it. */}}
{{- define "schemagate-app.block" -}}
{{- $block := dict }}
{{- range $k, $_ := (include "schemagate.defaults" . | fromYaml) }}
{{- if hasKey $.Values $k }}
{{- $_ := set $block $k (get $.Values $k) }}
{{- end }}
{{- end }}
{{- /* The schema gate moves to the sidecar when the app brings its own readinessProbe. */}}
{{- if .Values.app.readinessProbe }}
{{- $_ := set $block "sidecar" (merge (dict "readinessProbeOn" "sidecar") (deepCopy .Values.sidecar)) }}
{{- end }}
{{- /* copy / imageVolume: by default from the application's own image. */}}
{{- $m := deepCopy .Values.migrations }}
{{- if not $m.fromImage.repository }}
{{- $_ := set $m.fromImage "repository" .Values.app.image.repository }}
{{- $_ := set $m.fromImage "tag" (.Values.app.image.tag | toString) }}
{{- $_ := set $m.fromImage "digest" .Values.app.image.digest }}
{{- end }}
{{- $_ := set $block "migrations" $m }}
{{- /* The monitors are this chart's own (they select its Services). */}}
{{- $_ := set $block "metrics" (omit .Values.metrics "serviceMonitor" "podMonitor") }}
{{- toYaml $block }}
{{- end }}

{{/* The pod settings that the Deployment and the migrate Job share. */}}
{{- define "schemagate-app.podSettings" -}}
serviceAccountName: {{ include "schemagate-app.serviceAccountName" . }}
imagePullSecrets: {{ toYaml .Values.imagePullSecrets | nindent 2 }}
nodeSelector: {{ toYaml .Values.nodeSelector | nindent 2 }}
tolerations: {{ toYaml .Values.tolerations | nindent 2 }}
affinity: {{ toYaml .Values.affinity | nindent 2 }}
priorityClassName: {{ .Values.priorityClassName | quote }}
annotations: {{ toYaml .Values.podAnnotations | nindent 2 }}
labels: {{ toYaml .Values.podLabels | nindent 2 }}
{{- end }}

{{/* Pods of the application (the migrate Job's pod is component migrate). */}}
{{- define "schemagate-app.appSelectorLabels" -}}
{{ include "schemagate-app.selectorLabels" . }}
app.kubernetes.io/component: app
{{- end }}
