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
Whether the chart runs a NATS cluster (nats.cluster.enabled with the chart's NATS), "true" or "".
*/}}
{{- define "trellis.nats.clustered" -}}
{{- if and .Values.nats.enabled .Values.nats.cluster.enabled }}true{{ end }}
{{- end }}

{{/*
The headless Service of the NATS cluster: it gives each pod the DNS name
<fullname>-nats-<i>.<fullname>-nats-headless, which the routes and the hosts' URLs use.
*/}}
{{- define "trellis.nats.headless" -}}
{{- printf "%s-nats-headless" (include "trellis.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The DNS names of the NATS pods of the cluster, as a comma-joined list.
*/}}
{{- define "trellis.nats.podHosts" -}}
{{- $hosts := list }}
{{- range $i := until (int .Values.nats.cluster.replicas) }}
{{- $hosts = append $hosts (printf "%s-%d.%s" (include "trellis.nats.fullname" $) $i (include "trellis.nats.headless" $)) }}
{{- end }}
{{- join "," $hosts }}
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
The Secret holding the dashboard token (key token), or "" without a token.
*/}}
{{- define "trellis.dashboardSecretName" -}}
{{- if .Values.dashboard.token.enabled }}
{{- .Values.dashboard.token.existingSecret | default (printf "%s-dashboard" (include "trellis.fullname" .)) }}
{{- end }}
{{- end }}

{{/*
NATS URL the hosts connect to when it is not taken from a Secret.
*/}}
{{- define "trellis.natsURL" -}}
{{- $scheme := ternary "tls" "nats" .Values.nats.tls.enabled }}
{{- if include "trellis.nats.clustered" . }}
{{- /* Every server of the cluster, so a client whose server goes connects to another. */}}
{{- $urls := list }}
{{- range splitList "," (include "trellis.nats.podHosts" .) }}
{{- $urls = append $urls (printf "%s://%s:4222" $scheme .) }}
{{- end }}
{{- join "," $urls }}
{{- else if .Values.nats.enabled }}
{{- printf "%s://%s:%v" $scheme (include "trellis.nats.fullname" .) .Values.nats.port }}
{{- else }}
{{- .Values.nats.external.url }}
{{- end }}
{{- end }}

{{/*
Checks of combinations of values; each failure says what to change.
*/}}
{{- define "trellis.validate" -}}
{{- if and .Values.metrics.enabled (eq (toString .Values.metrics.port) (toString .Values.dashboard.port)) }}
{{- fail "metrics.port and dashboard.port must differ: the metrics listener and the dashboard are two servers" }}
{{- end }}
{{- if and .Values.metrics.serviceMonitor.enabled (not .Values.metrics.enabled) }}
{{- fail "metrics.serviceMonitor.enabled is true but metrics.enabled is false: a ServiceMonitor needs the metrics port" }}
{{- end }}
{{- if .Values.autoscaling.enabled }}
{{- if lt (int .Values.autoscaling.maxReplicas) (int .Values.autoscaling.minReplicas) }}
{{- fail "autoscaling.maxReplicas must not be below autoscaling.minReplicas" }}
{{- end }}
{{- if and (not (int .Values.autoscaling.targetCPUUtilizationPercentage)) (not .Values.autoscaling.inFlight.enabled) }}
{{- fail "autoscaling.enabled is true with neither a CPU target (autoscaling.targetCPUUtilizationPercentage) nor autoscaling.inFlight.enabled: give the HPA something to scale on" }}
{{- end }}
{{- if and .Values.autoscaling.inFlight.enabled (not .Values.metrics.enabled) }}
{{- fail "autoscaling.inFlight.enabled is true but metrics.enabled is false: the in-flight metric is served on the metrics port" }}
{{- end }}
{{- end }}
{{- if and .Values.nats.enabled (or .Values.nats.external.url .Values.nats.external.urlSecret .Values.nats.external.credentialsSecret) }}
{{- fail "nats.external.* is set but nats.enabled is true: set nats.enabled=false to use an external NATS server" }}
{{- end }}
{{- if and (not .Values.nats.enabled) (not .Values.nats.external.url) (not .Values.nats.external.urlSecret) }}
{{- fail "nats.enabled is false: give the external server as nats.external.url or nats.external.urlSecret" }}
{{- end }}
{{- if and .Values.nats.external.url .Values.nats.external.urlSecret }}
{{- fail "give nats.external.url or nats.external.urlSecret, not both" }}
{{- end }}
{{- if and (not .Values.nats.enabled) (or .Values.nats.tls.enabled .Values.nats.tls.secretName) }}
{{- fail "nats.tls.* is for the chart's NATS server (nats.enabled=true); for an external server, give a tls:// URL in nats.external and its CA with host.extraEnv (TRELLIS_NATS_TLS_CA)" }}
{{- end }}
{{- if and .Values.nats.tls.enabled (not .Values.nats.tls.secretName) }}
{{- fail "nats.tls.enabled is true: give nats.tls.secretName, a Secret with tls.crt and tls.key (and the CA in ca.crt), such as one cert-manager makes" }}
{{- end }}
{{- if and .Values.nats.tls.secretName (not .Values.nats.tls.enabled) }}
{{- fail "nats.tls.secretName is set but nats.tls.enabled is false: set nats.tls.enabled=true to serve TLS" }}
{{- end }}
{{- include "trellis.nats.cluster.validate" . }}
{{- if .Values.nats.auth.enabled }}
{{- if eq (toString .Values.nats.auth.host.user) (toString .Values.nats.auth.operator.user) }}
{{- fail "nats.auth.host.user and nats.auth.operator.user must differ (and neither be empty)" }}
{{- end }}
{{- range $who := list "host" "operator" }}
{{- $u := get $.Values.nats.auth $who }}
{{- if not (regexMatch "^[A-Za-z0-9][-_.A-Za-z0-9]*$" (toString $u.user)) }}
{{- fail (printf "nats.auth.%s.user %q: a user name has letters, digits, '-', '_' and '.' only" $who (toString $u.user)) }}
{{- end }}
{{- if and $u.password (lt (len (toString $u.password)) 16) }}
{{- fail (printf "nats.auth.%s.password is shorter than 16 characters: give a longer one, or leave it empty and the chart makes one" $who) }}
{{- end }}
{{- end }}
{{- else if or .Values.nats.auth.host.password .Values.nats.auth.operator.password }}
{{- fail "nats.auth.enabled is false: the passwords in nats.auth would not be used; remove them or enable auth" }}
{{- end }}
{{- if and .Values.dashboard.token.value .Values.dashboard.token.existingSecret }}
{{- fail "give dashboard.token.value or dashboard.token.existingSecret, not both" }}
{{- end }}
{{- if and .Values.dashboard.token.value (lt (len (toString .Values.dashboard.token.value)) 16) }}
{{- fail "dashboard.token.value is shorter than 16 characters: give a longer one, or leave it empty and the chart makes one" }}
{{- end }}
{{- range .Values.host.providerIssuers }}
{{- if not (regexMatch "^A[A-Z2-7]{55}$" (toString .)) }}
{{- fail (printf "host.providerIssuers: %q is not an account public key (A… of 56 characters, from `trellis keys gen account`)" (toString .)) }}
{{- end }}
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
Checks of nats.cluster and nats.leafnode.
*/}}
{{- define "trellis.nats.cluster.validate" -}}
{{- $c := .Values.nats.cluster }}
{{- if and $c.enabled (not .Values.nats.enabled) }}
{{- fail "nats.cluster.enabled is true but nats.enabled is false: nats.cluster is for the chart's NATS servers; an external cluster is given as a list of URLs in nats.external.url" }}
{{- end }}
{{- if $c.enabled }}
{{- if not (and (regexMatch "^[0-9]+$" (toString $c.replicas)) (ge (int $c.replicas) 3)) }}
{{- fail (printf "nats.cluster.replicas %v: a NATS cluster needs 3 servers or more (JetStream needs a majority of them up: with 3, one may go)" $c.replicas) }}
{{- end }}
{{- if not (has (toString $c.antiAffinity) (list "preferred" "required" "none")) }}
{{- fail (printf "nats.cluster.antiAffinity %q: give preferred (spread over nodes where possible), required (one NATS pod per node) or none" (toString $c.antiAffinity)) }}
{{- end }}
{{- if not (and (regexMatch "^[0-9]+$" (toString $c.maxUnavailable)) (ge (int $c.maxUnavailable) 1) (lt (int $c.maxUnavailable) (int $c.replicas))) }}
{{- fail (printf "nats.cluster.maxUnavailable %v: give a number of pods from 1 to replicas-1 (with more down, JetStream loses its majority)" $c.maxUnavailable) }}
{{- end }}
{{- end }}
{{- with $c.routePassword }}
{{- if not (regexMatch "^[-._~A-Za-z0-9]{16,}$" (toString .)) }}
{{- fail "nats.cluster.routePassword: give 16 characters or more of letters, digits, '-', '.', '_' and '~' (it is written into the routes' URLs), or leave it empty and the chart makes one" }}
{{- end }}
{{- if not $.Values.nats.auth.enabled }}
{{- fail "nats.cluster.routePassword is set but nats.auth.enabled is false: the routes log in only with auth on; remove it or enable auth" }}
{{- end }}
{{- end }}
{{- $remotes := .Values.nats.leafnode.remotes }}
{{- if not (or (kindIs "slice" $remotes) (kindIs "invalid" $remotes)) }}
{{- fail "nats.leafnode.remotes must be a list of {url: URL, credentialsSecret: NAME}" }}
{{- end }}
{{- if $remotes }}
{{- if not .Values.nats.enabled }}
{{- fail "nats.leafnode.remotes is set but nats.enabled is false: the leaf node is the chart's NATS server" }}
{{- end }}
{{- if not .Values.nats.jetstream.domain }}
{{- fail "nats.leafnode.remotes is set: give nats.jetstream.domain, a JetStream domain of the leaf's own (other than the hub's), so the leaf's JetStream and the hub's stay apart" }}
{{- end }}
{{- if not .Values.host.jsDomain }}
{{- fail "nats.leafnode.remotes is set: give host.jsDomain, the hub's JetStream domain, so the hosts keep the lattice's links and claims in the hub's JetStream, shared with the hub's hosts (a leaf connection does not carry the plain $JS.API)" }}
{{- end }}
{{- if eq (toString .Values.host.jsDomain) (toString .Values.nats.jetstream.domain) }}
{{- fail (printf "nats.leafnode.remotes is set: host.jsDomain %q is the leaf's own domain (nats.jetstream.domain); give it the hub's, so the hosts share the hub's lattice data" (toString .Values.host.jsDomain)) }}
{{- end }}
{{- end }}
{{- range $i, $r := $remotes }}
{{- $at := printf "nats.leafnode.remotes[%d]" $i }}
{{- if not (kindIs "map" $r) }}
{{- fail (printf "%s is a %s: each remote is {url: URL, credentialsSecret: NAME, credentialsKey: KEY}" $at (kindOf $r)) }}
{{- end }}
{{- with omit $r "url" "urls" "credentialsSecret" "credentialsKey" }}
{{- fail (printf "%s: a remote takes url (or urls), credentialsSecret and credentialsKey, not %s" $at (keys . | sortAlpha | join ", ")) }}
{{- end }}
{{- if eq (len (pick $r "url" "urls")) 2 }}
{{- fail (printf "%s: give url or urls, not both" $at) }}
{{- end }}
{{- $urls := ternary (list $r.url) $r.urls (hasKey $r "url") }}
{{- if not (and (kindIs "slice" $urls) $urls) }}
{{- fail (printf "%s: give url, the hub's leaf node URL (such as tls://hub.example:7422), or urls, a list of them" $at) }}
{{- end }}
{{- range $urls }}
{{- if not (regexMatch `^(nats-leaf|nats|tls|ws|wss)://[^\s/"@]+$` (toString .)) }}
{{- fail (printf "%s: %q is not a leaf node URL: give SCHEME://HOST:PORT with scheme nats-leaf, nats, tls, ws or wss (and the credentials in credentialsSecret, not in the URL)" $at (toString .)) }}
{{- end }}
{{- if contains "@" (toString .) }}
{{- fail (printf "%s: %q holds credentials: put them in a Secret and name it in credentialsSecret (a .creds file)" $at (toString .)) }}
{{- end }}
{{- end }}
{{- if and (hasKey $r "credentialsSecret") (not (regexMatch "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$" (toString $r.credentialsSecret))) }}
{{- fail (printf "%s.credentialsSecret must be the name of a Secret in the release namespace, not %v" $at $r.credentialsSecret) }}
{{- end }}
{{- if and (hasKey $r "credentialsKey") (not (regexMatch "^[-._a-zA-Z0-9]+$" (toString $r.credentialsKey))) }}
{{- fail (printf "%s.credentialsKey must be a key of Secret %v, not %v" $at $r.credentialsSecret $r.credentialsKey) }}
{{- end }}
{{- if and (hasKey $r "credentialsKey") (not $r.credentialsSecret) }}
{{- fail (printf "%s.credentialsKey is set without credentialsSecret, the Secret it is a key of" $at) }}
{{- end }}
{{- end }}
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
The NATS server configuration (nats.conf). Called with (dict "root" . "auth" AUTH "route" ROUTE),
AUTH being what "trellis.nats.auth" computed (the users' names and bcrypt hashes), or empty
without auth, and ROUTE what "trellis.nats.routeAuth" computed, or empty.
*/}}
{{- define "trellis.nats.conf" -}}
{{- $v := .root.Values -}}
{{- $clustered := include "trellis.nats.clustered" .root -}}
listen: 0.0.0.0:4222
http: 0.0.0.0:8222
{{- if $clustered }}
# Each server's name is its pod's (SERVER_NAME, from the pod's name): JetStream tells its
# servers apart by name.
server_name: $SERVER_NAME
{{- else }}
server_name: {{ include "trellis.nats.fullname" .root }}
{{- end }}
jetstream {
  store_dir: /data
  max_memory_store: {{ $v.nats.jetstream.maxMemoryStore }}
  max_file_store: {{ $v.nats.jetstream.maxFileStore }}
  {{- with $v.nats.jetstream.domain }}
  domain: {{ . }}
  {{- end }}
}
{{- if $v.nats.tls.enabled }}
# TLS on the client port (the monitoring port of the probes stays plain HTTP, inside the pod).
tls {
  cert_file: /etc/nats/tls/tls.crt
  key_file: /etc/nats/tls/tls.key
  timeout: 5
}
{{- end }}
{{- if $clustered }}
# The routes between the servers of the cluster: every server dials every pod of the StatefulSet
# through the headless Service (its own name too, which it recognizes and drops). Plain TCP inside
# the namespace: the NetworkPolicy lets only the NATS pods reach this port{{ if .route }}, and a route
# logs in with the route user{{ end }}. The servers do not advertise their pod IPs to clients:
# the hosts know every server's name, and clients through a port-forward cannot reach pod IPs.
cluster {
  name: {{ $v.nats.cluster.name | default (include "trellis.nats.fullname" .root) | quote }}
  listen: 0.0.0.0:6222
  no_advertise: true
  {{- with .route }}
  authorization {
    user: {{ .user | quote }}
    password: {{ .password | quote }}
    timeout: 5
  }
  {{- end }}
  routes: [
    {{- $route := .route }}
    {{- range splitList "," (include "trellis.nats.podHosts" .root) }}
    {{- if $route }}
    {{ printf "nats://%s:%s@%s:6222" $route.user $route.password . | quote }}
    {{- else }}
    {{ printf "nats://%s:6222" . | quote }}
    {{- end }}
    {{- end }}
  ]
}
{{- end }}
{{- with $v.nats.leafnode.remotes }}
# A leaf node of the remote hub(s) below: the lattice's subjects flow between this server and the
# hub; JetStream stays apart, in its own domain (nats.jetstream.domain).
leafnodes {
  remotes: [
    {{- range $i, $r := . }}
    {
      urls: [
        {{- range (ternary (list $r.url) $r.urls (hasKey $r "url")) }}
        {{ . | quote }}
        {{- end }}
      ]
      {{- if $r.credentialsSecret }}
      credentials: "/etc/nats/leafnode/{{ $i }}/{{ $r.credentialsKey | default "nats.creds" }}"
      {{- end }}
    }
    {{- end }}
  ]
}
{{- end }}
{{- with .auth }}
# Every client logs in with a user and password: anonymous connections are refused.
authorization {
  users: [
    {
      # The hosts, and the providers they start (which connect with the host's credentials).
      user: {{ .host.user | quote }}
      password: {{ .host.hash | quote }}
      permissions: {{ include "trellis.nats.permissions" $.root | nindent 6 | trim }}
    }
    {
      # The operator credential, for `trellis ctl` and `trellis app`.
      user: {{ .operator.user | quote }}
      password: {{ .operator.hash | quote }}
      permissions: {{ include "trellis.nats.permissions" $.root | nindent 6 | trim }}
    }
  ]
}
{{- end }}
{{- with $v.nats.extraConfig }}
{{ . }}
{{- end }}
{{- end }}

{{/*
The subjects of the lattice host.lattice that its users may publish and subscribe to
(docs/kubernetes.md, "Who may use NATS"):
  - wasmbus.rpc.{L}.>: invocations of actors and providers, links pushed to providers, their
    health checks and shutdown;
  - wasmbus.evt.{L}: the lattice's events (hosts publish, dashboards and `app wait` read);
  - wasmbus.ctl.{L}.>: the control interface: hosts answer it, and the reconciler and the dashboard
    inside every host send commands on it, as `trellis ctl` does;
  - the JetStream API of the lattice's streams only: KV_LATTICEDATA_{L} (links, claims, refmaps),
    KV_TRELLIS_APPS_{L} (apps), KV_TRELLIS_LEASE_{L} (the reconciler's lease) and OBJ_{L} (payloads
    over 900 KiB): $JS.API.INFO, STREAM.<verb> (info, create, update, delete, purge),
    CONSUMER.<verb>.<stream>.… (the ordered consumers of watches and object reads), DIRECT.GET
    (reads), the flow control replies $JS.FC.<stream>.…, and their data subjects $KV.… and
    $O.{L}.…; with a JetStream domain, under both $JS.API and $JS.{domain}.API (the reconciler
    uses the former). No acks ($JS.ACK: no consumer acks), no STREAM.MSG (the buckets allow direct
    gets);
  - _INBOX.>: replies to requests.
Nothing else: not another lattice's subjects, not $SYS, not other streams.
*/}}
{{- define "trellis.nats.permissions" -}}
{{- $l := .Values.host.lattice }}
{{- $apis := list "$JS.API" }}
{{- with .Values.host.jsDomain }}
{{- $apis = append $apis (printf "$JS.%s.API" .) }}
{{- end }}
{{- $streams := list (printf "KV_LATTICEDATA_%s" $l) (printf "KV_TRELLIS_APPS_%s" $l) (printf "KV_TRELLIS_LEASE_%s" $l) (printf "OBJ_%s" $l) }}
{{- $pub := list (printf "wasmbus.rpc.%s.>" $l) (printf "wasmbus.evt.%s" $l) (printf "wasmbus.ctl.%s.>" $l) }}
{{- range $apis }}
{{- $api := . }}
{{- $pub = append $pub (printf "%s.INFO" $api) }}
{{- range $streams }}
{{- $pub = concat $pub (list (printf "%s.STREAM.*.%s" $api .) (printf "%s.CONSUMER.*.%s.>" $api .) (printf "%s.DIRECT.GET.%s" $api .) (printf "%s.DIRECT.GET.%s.>" $api .)) }}
{{- end }}
{{- end }}
{{- range $streams }}
{{- $pub = append $pub (printf "$JS.FC.%s.>" .) }}
{{- end }}
{{- $pub = concat $pub (list (printf "$KV.LATTICEDATA_%s.>" $l) (printf "$KV.TRELLIS_APPS_%s.>" $l) (printf "$KV.TRELLIS_LEASE_%s.>" $l) (printf "$O.%s.>" $l) "_INBOX.>") }}
{{- $sub := list (printf "wasmbus.rpc.%s.>" $l) (printf "wasmbus.evt.%s" $l) (printf "wasmbus.ctl.%s.>" $l) "_INBOX.>" }}
{
  publish: {
    allow: [
      {{- range $pub }}
      {{ . | quote }}
      {{- end }}
    ]
  }
  subscribe: {
    allow: [
      {{- range $sub }}
      {{ . | quote }}
      {{- end }}
    ]
  }
}
{{- end }}

{{/*
The NATS users (nats.auth.enabled): for each of host and operator its user name, password (the
value's, else the one the release's Secret already holds, else 32 new letters and digits) and
the password's bcrypt hash (the Secret's when the password is the one it holds, so an upgrade
changes neither the Secret nor the server configuration). As JSON; computed once per render by
templates/nats.yaml, which makes both the Secrets and the configuration from it.
*/}}
{{- define "trellis.nats.auth" -}}
{{- $out := dict }}
{{- range $who := list "host" "operator" }}
{{- $cfg := get $.Values.nats.auth $who }}
{{- $kept := (lookup "v1" "Secret" $.Release.Namespace (printf "%s-nats-%s" (include "trellis.fullname" $) $who)).data | default dict }}
{{- $keptPassword := get $kept "password" | b64dec }}
{{- $password := $cfg.password | default $keptPassword | default (randAlphaNum 32) }}
{{- $hash := ternary (get $kept "password.bcrypt" | b64dec) (bcrypt $password) (and (eq $password $keptPassword) (ne (get $kept "password.bcrypt") "")) }}
{{- $_ := set $out $who (dict "user" $cfg.user "password" $password "hash" $hash) }}
{{- end }}
{{- toJson $out }}
{{- end }}

{{/*
The user the servers of a NATS cluster log in to each other's route port with (clustered, with
nats.auth.enabled): its name, and its password (nats.cluster.routePassword, else the one Secret
<fullname>-nats-route already holds, else 32 new letters and digits), as JSON; empty otherwise.
The password stands in plain in the configuration, whose routes dial with it (the configuration
is a Secret mounted only in the NATS pods).
*/}}
{{- define "trellis.nats.routeAuth" -}}
{{- if and (include "trellis.nats.clustered" .) .Values.nats.auth.enabled }}
{{- $kept := (lookup "v1" "Secret" .Release.Namespace (printf "%s-nats-route" (include "trellis.fullname" .))).data | default dict }}
{{- $password := .Values.nats.cluster.routePassword | default (get $kept "password" | b64dec) | default (randAlphaNum 32) }}
{{- toJson (dict "user" "trellis-route" "password" $password) }}
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

{{/*
The account keys whose provider archives the hosts run (TRELLIS_PROVIDER_ISSUERS), comma-joined;
empty: every signed archive runs.
*/}}
{{- define "trellis.providerIssuers" -}}
{{- join "," (.Values.host.providerIssuers | default list | uniq) }}
{{- end }}
