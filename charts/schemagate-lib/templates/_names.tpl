{{/*
_names.tpl - names, labels and small strings shared by the schemagate templates.
Every template here takes the dict (name, values, root) described in README.md.
*/}}

{{- define "schemagate.labels" -}}
app.kubernetes.io/name: {{ .name | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "schemagate.secretName" -}}
{{- .values.secret.existingSecret | default (printf "%s-schemagate" .name) -}}
{{- end }}

{{- define "schemagate.configMapName" -}}
{{- .values.migrations.existingConfigMap | default (printf "%s-migrations" .name) -}}
{{- end }}

{{/* The sidecar's port, as a number: probes name it by number because a named
port resolves only inside the container that declares it. */}}
{{- define "schemagate.port" -}}
{{- .values.sidecar.port | int -}}
{{- end }}

{{- define "schemagate.listen" -}}
{{- printf "%s:%d" .values.sidecar.listenHost (.values.sidecar.port | int) -}}
{{- end }}

{{- define "schemagate.image" -}}
{{- $tag := .values.image.tag | default .root.Chart.AppVersion -}}
{{- if .values.image.digest -}}
{{- printf "%s@%s" .values.image.repository .values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .values.image.repository $tag -}}
{{- end -}}
{{- end }}

{{- define "schemagate.tables" -}}
{{- join "," .values.requiredTables -}}
{{- end }}

{{/* Whether the migrations come from the chart's ConfigMap (else: baked into the image). */}}
{{- define "schemagate.usesConfigMap" -}}
{{- if eq .values.migrations.source "configMap" }}true{{ end -}}
{{- end }}

{{- define "schemagate.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .values.securityContext.runAsUser }}
runAsGroup: {{ .values.securityContext.runAsGroup }}
fsGroup: {{ .values.securityContext.runAsGroup }}
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "schemagate.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .values.securityContext.runAsUser }}
runAsGroup: {{ .values.securityContext.runAsGroup }}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end }}
