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
{{- $strategy := .Values.updateStrategy }}
{{- if not (has $strategy.type (list "RollingUpdate" "Recreate")) }}
{{- fail "updateStrategy.type must be RollingUpdate or Recreate" }}
{{- end }}
{{- if and (eq $strategy.type "RollingUpdate") (has (toString (dig "rollingUpdate" "maxSurge" "" $strategy)) (list "0" "0%")) (has (toString (dig "rollingUpdate" "maxUnavailable" "" $strategy)) (list "0" "0%")) }}
{{- fail "updateStrategy.rollingUpdate: maxSurge and maxUnavailable cannot both be 0 (the defaults, 1 and 0, replace one pod at a time and drop no requests)" }}
{{- end }}
{{- include "trellis.apps.validate" . }}
{{- end }}

{{/*
Checks of the apps value. Each item is an Application manifest (an object), {manifest: <YAML
string>} or {configMap: NAME, key: KEY}; the messages name the item by its index.
*/}}
{{- define "trellis.apps.validate" -}}
{{- $forms := "an Application manifest (apiVersion, kind, metadata.name, spec), {manifest: <the manifest as a YAML string>} or {configMap: NAME, key: KEY} (key optional)" }}
{{- if not (or (kindIs "slice" .Values.apps) (kindIs "invalid" .Values.apps)) }}
{{- fail (printf "apps must be a list; each item is %s" $forms) }}
{{- end }}
{{- $names := dict }}
{{- $configMaps := dict }}
{{- range $i, $app := .Values.apps }}
{{- $at := printf "apps[%d]" $i }}
{{- if not (kindIs "map" $app) }}
{{- fail (printf "%s is a %s: each item of apps is %s" $at (kindOf $app) $forms) }}
{{- else if hasKey $app "configMap" }}
{{- with omit $app "configMap" "key" }}
{{- fail (printf "%s: an item with configMap takes only configMap and key, not %s" $at (keys . | sortAlpha | join ", ")) }}
{{- end }}
{{- $cm := $app.configMap }}
{{- if not (and (kindIs "string" $cm) (regexMatch "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$" $cm)) }}
{{- fail (printf "%s.configMap must be the name of a ConfigMap in the release namespace, not %v" $at $cm) }}
{{- end }}
{{- $seen := get $configMaps $cm }}
{{- if hasKey $app "key" }}
{{- $key := $app.key }}
{{- if not (and (kindIs "string" $key) (regexMatch "^[-._a-zA-Z0-9]+$" $key)) }}
{{- fail (printf "%s.key must be a key of ConfigMap %s, not %v" $at $cm $key) }}
{{- end }}
{{- if not (regexMatch "\\.(yaml|yml|json)$" $key) }}
{{- fail (printf "%s.key %s: the hosts read only files named *.yaml, *.yml or *.json; give the key such a name" $at $key) }}
{{- end }}
{{- if or (eq $seen "*") (has $key (splitList "," $seen)) }}
{{- fail (printf "%s: ConfigMap %s (key %s) is already in apps: list a ConfigMap once without key (all its keys), or once per key" $at $cm $key) }}
{{- end }}
{{- $_ := set $configMaps $cm (ternary $key (printf "%s,%s" $seen $key) (eq $seen "")) }}
{{- else }}
{{- if $seen }}
{{- fail (printf "%s: ConfigMap %s is already in apps: list a ConfigMap once without key (all its keys), or once per key" $at $cm) }}
{{- end }}
{{- $_ := set $configMaps $cm "*" }}
{{- end }}
{{- else if hasKey $app "manifest" }}
{{- with omit $app "manifest" }}
{{- fail (printf "%s: an item with manifest takes only manifest (the whole manifest as a string), not %s" $at (keys . | sortAlpha | join ", ")) }}
{{- end }}
{{- if not (and (kindIs "string" $app.manifest) (trim $app.manifest)) }}
{{- fail (printf "%s.manifest must be an Application manifest as a YAML string (manifest: |, then the manifest indented)" $at) }}
{{- end }}
{{- $m := fromYaml $app.manifest }}
{{- if hasKey $m "Error" }}
{{- fail (printf "%s.manifest is not a YAML object: %s" $at $m.Error) }}
{{- end }}
{{- include "trellis.apps.validateManifest" (dict "at" (printf "%s.manifest" $at) "m" $m "names" $names) }}
{{- else if or (hasKey $app "apiVersion") (hasKey $app "kind") (hasKey $app "metadata") (hasKey $app "spec") }}
{{- include "trellis.apps.validateManifest" (dict "at" $at "m" $app "names" $names) }}
{{- else }}
{{- fail (printf "%s (with %s) is none of the forms of an apps item: %s" $at (keys $app | sortAlpha | join ", ") $forms) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Checks of one manifest given in the values (an object, or read from a string); records its name
in .names, so that two items with one name are refused.
*/}}
{{- define "trellis.apps.validateManifest" -}}
{{- $at := .at }}
{{- $m := .m }}
{{- if or (ne (toString $m.apiVersion) "core.oam.dev/v1beta1") (ne (toString $m.kind) "Application") }}
{{- fail (printf "%s: an app manifest has apiVersion: core.oam.dev/v1beta1 and kind: Application (not %v and %v)" $at ($m.apiVersion | default "none") ($m.kind | default "none")) }}
{{- end }}
{{- $name := "" }}
{{- if kindIs "map" $m.metadata }}
{{- $name = $m.metadata.name }}
{{- end }}
{{- if not $name }}
{{- fail (printf "%s: the manifest has no metadata.name, the app's name" $at) }}
{{- end }}
{{- if not (and (kindIs "string" $name) (regexMatch "^[-_a-zA-Z0-9]+$" $name)) }}
{{- fail (printf "%s: metadata.name %v: an app name has only letters, digits, '-' and '_'" $at $name) }}
{{- end }}
{{- if hasKey .names $name }}
{{- fail (printf "%s: app %s is also %s: two items of apps cannot have one name" $at $name (get .names $name)) }}
{{- end }}
{{- $_ := set .names $name $at }}
{{- end }}

{{/*
The apps given in the values (objects and strings), as the YAML of the data of the ConfigMap
<fullname>-apps: one key <name>.yaml per app. Empty when there are none.
*/}}
{{- define "trellis.apps.data" -}}
{{- $data := dict }}
{{- range .Values.apps }}
{{- if hasKey . "manifest" }}
{{- $_ := set $data (printf "%s.yaml" (fromYaml .manifest).metadata.name) .manifest }}
{{- else if not (hasKey . "configMap") }}
{{- $_ := set $data (printf "%s.yaml" .metadata.name) (toYaml .) }}
{{- end }}
{{- end }}
{{- with $data }}
{{- toYaml . }}
{{- end }}
{{- end }}

{{/*
The ConfigMaps of the user's that apps names, in order, as JSON: {"refs": [{"name": …, "keys":
[…]}]}, keys empty for the whole ConfigMap.
*/}}
{{- define "trellis.apps.configMaps" -}}
{{- $refs := list }}
{{- $keys := dict }}
{{- range .Values.apps }}
{{- if hasKey . "configMap" }}
{{- if not (hasKey $keys .configMap) }}
{{- $refs = append $refs .configMap }}
{{- $_ := set $keys .configMap list }}
{{- end }}
{{- if .key }}
{{- $_ := set $keys .configMap (append (get $keys .configMap) .key) }}
{{- end }}
{{- end }}
{{- end }}
{{- $out := list }}
{{- range $refs }}
{{- $out = append $out (dict "name" . "keys" (get $keys .)) }}
{{- end }}
{{- toJson (dict "refs" $out) }}
{{- end }}

{{/*
The owner of the apps the hosts put from the values (TRELLIS_APP_OWNER).
*/}}
{{- define "trellis.apps.owner" -}}
{{- .Values.appsOwner | default (printf "helm/%s" .Release.Name) }}
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
