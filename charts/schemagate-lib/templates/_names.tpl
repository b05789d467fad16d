{{/*
_names.tpl - names, labels and small strings shared by the schemagate templates.
Every template here takes the dict (name, values, root, and optionally labels,
valuesPath, pod) described in README.md.
*/}}

{{/* The labels of every object: the including chart's own (dict key "labels")
when it passes them, else the standard set with the chart's name. */}}
{{- define "schemagate.labels" -}}
{{- include "schemagate.normalize" . -}}
{{- if .labels }}
{{- toYaml .labels }}
{{- else }}
{{- $name := default .root.Chart.Name .root.Values.nameOverride }}
app.kubernetes.io/name: {{ $name | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/* The Secret the chart creates (or existingSecret): <name>-schemagate, or
<name> when the name already ends in schemagate. */}}
{{- define "schemagate.secretName" -}}
{{- include "schemagate.normalize" . -}}
{{- if .values.secret.existingSecret }}
{{- .values.secret.existingSecret }}
{{- else if hasSuffix "schemagate" .name }}
{{- .name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-schemagate" .name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/* secretKeyRef {name, key} of one credential (databaseUrl,
databaseDirectUrl, readerDatabaseUrl, redisUrl, redisPassword, adminToken): its own reference when secret.refs.<c>.name is
set, else the chart's Secret. Call with (dict "sg" $sg "c" "databaseUrl"). */}}
{{- define "schemagate.credentialRef" -}}
{{- $s := .sg.values.secret }}
{{- $ref := get $s.refs .c }}
{{- if $ref.name }}
name: {{ $ref.name }}
key: {{ $ref.key }}
{{- else }}
name: {{ include "schemagate.secretName" .sg }}
key: {{ get (dict "databaseUrl" $s.databaseUrlKey "databaseDirectUrl" $s.databaseDirectUrlKey "readerDatabaseUrl" $s.readerDatabaseUrlKey "redisUrl" $s.redisUrlKey "adminToken" $s.adminTokenKey "redisPassword" $ref.key) .c }}
{{- end }}
{{- end }}

{{/* Whether wait and serve, which only read, have a role of their own
(secret.refs.readerDatabaseUrl, or secret.readerDatabaseUrlKey of the Secret). */}}
{{- define "schemagate.hasReader" -}}
{{- include "schemagate.normalize" . -}}
{{- if or .values.secret.refs.readerDatabaseUrl.name .values.secret.readerDatabaseUrlKey }}true{{ end -}}
{{- end }}

{{/* The DATABASE_URL entry of one container: the migration role's for migrate
(dict key "reader" false), for wait and serve ("reader" true) the read-only
role's when there is one, else the migration role's. Call with
(dict "sg" $sg "reader" true). */}}
{{- define "schemagate.databaseUrlEnv" -}}
{{- $c := ternary "readerDatabaseUrl" "databaseUrl" (and .reader (include "schemagate.hasReader" .sg | eq "true")) }}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      {{- include "schemagate.credentialRef" (dict "sg" .sg "c" $c) | trim | nindent 6 }}
{{- end }}

{{/* The credentials that the chart's own Secret must hold, as a list. */}}
{{- define "schemagate.ownCredentials" -}}
{{- include "schemagate.normalize" . -}}
{{- $v := .values }}
{{- $r := $v.secret.refs }}
{{- $own := list }}
{{- if not $r.databaseUrl.name }}{{ $own = append $own "databaseUrl" }}{{ end }}
{{- /* Optional: only when a value is given. */}}
{{- if and $v.secret.databaseDirectUrl (not $r.databaseDirectUrl.name) }}{{ $own = append $own "databaseDirectUrl" }}{{ end }}
{{- if and $v.secret.readerDatabaseUrlKey (not $r.readerDatabaseUrl.name) }}{{ $own = append $own "readerDatabaseUrl" }}{{ end }}
{{- if and $v.leader.enabled (not $v.leader.redisUrl) (not $r.redisUrl.name) }}{{ $own = append $own "redisUrl" }}{{ end }}
{{- if and $v.sidecar.admin.enabled (not $r.adminToken.name) }}{{ $own = append $own "adminToken" }}{{ end }}
{{- toJson $own }}
{{- end }}

{{- define "schemagate.configMapName" -}}
{{- include "schemagate.normalize" . -}}
{{- .values.migrations.existingConfigMap | default (printf "%s-migrations" .name) -}}
{{- end }}

{{/* The sidecar's port, as a number: probes name it by number because a named
port resolves only inside the container that declares it. */}}
{{- define "schemagate.port" -}}
{{- include "schemagate.normalize" . -}}
{{- .values.sidecar.port | int -}}
{{- end }}

{{- define "schemagate.listen" -}}
{{- include "schemagate.normalize" . -}}
{{- printf "%s:%d" .values.sidecar.listenHost (.values.sidecar.port | int) -}}
{{- end }}

{{/* repository@digest, else repository:tag (tag defaults to .default). */}}
{{- define "schemagate.imageRef" -}}
{{- if .image.digest -}}
{{- printf "%s@%s" .image.repository .image.digest -}}
{{- else -}}
{{- printf "%s:%s" .image.repository (.image.tag | default .default | toString) -}}
{{- end -}}
{{- end }}

{{- define "schemagate.image" -}}
{{- include "schemagate.normalize" . -}}
{{- include "schemagate.imageRef" (dict "image" .values.image "default" .root.Chart.AppVersion) -}}
{{- end }}

{{- define "schemagate.tables" -}}
{{- include "schemagate.normalize" . -}}
{{- join "," .values.requiredTables -}}
{{- end }}

{{/* Whether the migrations come from the chart's ConfigMap (or existingConfigMap). */}}
{{- define "schemagate.usesConfigMap" -}}
{{- include "schemagate.normalize" . -}}
{{- if eq .values.migrations.source "configMap" }}true{{ end -}}
{{- end }}

{{/* Whether the pod has a schemagate-migrations volume (every source but image). */}}
{{- define "schemagate.hasMigrationsVolume" -}}
{{- include "schemagate.normalize" . -}}
{{- if ne .values.migrations.source "image" }}true{{ end -}}
{{- end }}

{{/* Whether the Redis password comes from its own Secret, as a file. */}}
{{- define "schemagate.redisPasswordFile" -}}
{{- include "schemagate.normalize" . -}}
{{- if and .values.leader.enabled .values.secret.refs.redisPassword.name }}/var/run/secrets/schemagate-redis/{{ .values.secret.refs.redisPassword.key }}{{ end -}}
{{- end }}

{{- define "schemagate.podSecurityContext" -}}
{{- include "schemagate.normalize" . -}}
runAsNonRoot: true
runAsUser: {{ .values.securityContext.runAsUser }}
runAsGroup: {{ .values.securityContext.runAsGroup }}
fsGroup: {{ .values.securityContext.runAsGroup }}
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "schemagate.containerSecurityContext" -}}
{{- include "schemagate.normalize" . -}}
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

{{/* Pod template annotations: a checksum of what the pods read at start that
is not in the pod template itself and is no secret (the migration files, the
existing ConfigMap as the cluster has it at upgrade time, migrations.revision),
so that changing only the migrations rolls the pods. Never the Secret's
values: anyone who can read pod specs could test guesses of the password or
the token against an unsalted hash of them. */}}
{{- define "schemagate.podAnnotations" -}}
{{- include "schemagate.normalize" . -}}
{{- $m := .values.migrations }}
{{- $existing := dict }}
{{- if and (eq $m.source "configMap") $m.existingConfigMap }}
{{- $existing = (lookup "v1" "ConfigMap" .root.Release.Namespace $m.existingConfigMap).data | default dict }}
{{- end }}
{{- $in := dict "files" $m.files "existingConfigMap" $m.existingConfigMap "existing" $existing "revision" $m.revision }}
checksum/schemagate: {{ toJson $in | sha256sum }}
{{- end }}
