{{/*
Name of the chart, or nameOverride.
*/}}
{{- define "trellis.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name: fullnameOverride, else <release>-<name> (just <release> when it already contains the name).
Truncated to 58 characters so that "-nats" still fits in 63.
*/}}
{{- define "trellis.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 58 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 58 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 58 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "trellis.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels of every object.
*/}}
{{- define "trellis.labels" -}}
helm.sh/chart: {{ include "trellis.chart" . }}
app.kubernetes.io/name: {{ include "trellis.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
Selector labels of the host pods.
*/}}
{{- define "trellis.selectorLabels" -}}
app.kubernetes.io/name: {{ include "trellis.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: host
{{- end }}

{{/*
Selector labels of the NATS pod.
*/}}
{{- define "trellis.nats.selectorLabels" -}}
app.kubernetes.io/name: {{ include "trellis.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: nats
{{- end }}

{{- define "trellis.nats.fullname" -}}
{{- printf "%s-nats" (include "trellis.fullname" .) }}
{{- end }}

{{/*
Whether the chart creates a ServiceAccount.
*/}}
{{- define "trellis.createServiceAccount" -}}
{{- if or .Values.enableApplierSupport .Values.serviceAccount.create }}true{{ end }}
{{- end }}

{{- define "trellis.serviceAccountName" -}}
{{- if include "trellis.createServiceAccount" . }}
{{- default (include "trellis.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The Secret holding the cluster seed and issuers: the user's, else the chart's.
*/}}
{{- define "trellis.clusterSecretName" -}}
{{- if .Values.cluster.existingSecret }}
{{- .Values.cluster.existingSecret }}
{{- else }}
{{- printf "%s-cluster" (include "trellis.fullname" .) }}
{{- end }}
{{- end }}

{{/*
The Secret holding the registry user name and password, or "".
*/}}
{{- define "trellis.registrySecretName" -}}
{{- if .Values.registry.existingSecret }}
{{- .Values.registry.existingSecret }}
{{- else if or .Values.registry.username .Values.registry.password }}
{{- printf "%s-registry" (include "trellis.fullname" .) }}
{{- end }}
{{- end }}

{{/*
NATS URL the hosts connect to when it is not taken from a Secret.
*/}}
{{- define "trellis.natsURL" -}}
{{- if .Values.nats.enabled }}
{{- printf "nats://%s:%v" (include "trellis.nats.fullname" .) .Values.nats.port }}
{{- else }}
{{- .Values.nats.external.url }}
{{- end }}
{{- end }}

{{/*
Checks of combinations of values; each failure says what to change.
*/}}
{{- define "trellis.validate" -}}
{{- if and .Values.nats.enabled (or .Values.nats.external.url .Values.nats.external.urlSecret .Values.nats.external.credentialsSecret) }}
{{- fail "nats.external.* is set but nats.enabled is true: set nats.enabled=false to use an external NATS server" }}
{{- end }}
{{- if and (not .Values.nats.enabled) (not .Values.nats.external.url) (not .Values.nats.external.urlSecret) }}
{{- fail "nats.enabled is false: give the external server as nats.external.url or nats.external.urlSecret" }}
{{- end }}
{{- if and .Values.nats.external.url .Values.nats.external.urlSecret }}
{{- fail "give nats.external.url or nats.external.urlSecret, not both" }}
{{- end }}
{{- if and .Values.cluster.existingSecret (or .Values.cluster.seed .Values.cluster.issuers) }}
{{- fail "cluster.existingSecret is set: put the seed and issuers in that Secret and leave cluster.seed and cluster.issuers empty" }}
{{- end }}
{{- if and .Values.cluster.seed (not (hasPrefix "SC" .Values.cluster.seed)) (not (hasPrefix "-----BEGIN PRIVATE KEY-----" .Values.cluster.seed)) }}
{{- fail "cluster.seed must be a cluster seed (SC…, from `trellis keys gen cluster`) or a PEM ed25519 private key; leave it empty and the chart makes one" }}
{{- end }}
{{- range .Values.cluster.issuers }}
{{- if not (hasPrefix "C" .) }}
{{- fail (printf "cluster.issuers: %q is not a cluster public key (C…)" .) }}
{{- end }}
{{- end }}
{{- if and .Values.registry.existingSecret (or .Values.registry.username .Values.registry.password) }}
{{- fail "registry.existingSecret is set: leave registry.username and registry.password empty" }}
{{- end }}
{{- if and (include "trellis.registrySecretName" .) (not .Values.registry.url) }}
{{- fail "registry credentials are set: give registry.url, the registry (host:port) they are for" }}
{{- end }}
{{- if not (has .Values.host.logFormat (list "json" "text")) }}
{{- fail "host.logFormat must be json or text" }}
{{- end }}
{{- if not (has .Values.host.logLevel (list "debug" "info" "warn" "error" "disabled")) }}
{{- fail "host.logLevel must be debug, info, warn, error or disabled" }}
{{- end }}
{{- end }}

{{/*
The NATS server configuration (nats.conf).
*/}}
{{- define "trellis.nats.conf" -}}
listen: 0.0.0.0:4222
http: 0.0.0.0:8222
server_name: {{ include "trellis.nats.fullname" . }}
jetstream {
  store_dir: /data
  max_memory_store: {{ .Values.nats.jetstream.maxMemoryStore }}
  max_file_store: {{ .Values.nats.jetstream.maxFileStore }}
  {{- with .Values.nats.jetstream.domain }}
  domain: {{ . }}
  {{- end }}
}
{{- with .Values.nats.extraConfig }}
{{ . }}
{{- end }}
{{- end }}

{{/*
imagePullSecrets of a pod spec: names, or {name: …} objects.
*/}}
{{- define "trellis.imagePullSecrets" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
{{- range . }}
  - name: {{ if kindIs "string" . }}{{ . }}{{ else }}{{ .name }}{{ end }}
{{- end }}
{{- end }}
{{- end }}
