{{/*
Names, labels and the per-service settings every template shares.
*/}}

{{- define "psp.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Name of one service's object: (dict "root" $ "name" "occupants" "component" "api"). */}}
{{- define "psp.objectName" -}}
{{- $parts := list (include "psp.fullname" .root) .name -}}
{{- if .component -}}{{- $parts = append $parts .component -}}{{- end -}}
{{- join "-" $parts | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "psp.baseLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: psp
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}

{{/* Labels of release-wide objects. */}}
{{- define "psp.commonLabels" -}}
{{ include "psp.baseLabels" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Labels that select one service's component: (dict "root" $ "name" ... "component" ...). */}}
{{- define "psp.selectorLabels" -}}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/name: {{ .name }}
{{- if .component }}
app.kubernetes.io/component: {{ .component }}
{{- end }}
{{- end -}}

{{/* Labels of one service's objects: (dict "root" $ "name" ... "component" ...). */}}
{{- define "psp.labels" -}}
{{ include "psp.baseLabels" .root }}
{{ include "psp.selectorLabels" . }}
{{- end -}}

{{/*
Deep merge of two maps where the override wins key by key, zero values included
(sprig's merge functions skip 0, false and "", which would make replicas: 0 or
enabled: false impossible to set for one service). Returns JSON.
*/}}
{{- define "psp.merge" -}}
{{- $out := deepCopy (.base | default dict) -}}
{{- range $key, $value := (.over | default dict) -}}
{{- $current := get $out $key -}}
{{- if and (kindIs "map" $value) (kindIs "map" $current) -}}
{{- $_ := set $out $key (include "psp.merge" (dict "base" $current "over" $value) | fromJson) -}}
{{- else -}}
{{- $_ := set $out $key $value -}}
{{- end -}}
{{- end -}}
{{- toJson $out -}}
{{- end -}}

{{/*
One service's effective settings: defaults overlaid with services.<name>, plus its
name and its network policy overlaid on the global one. Returns JSON.
*/}}
{{- define "psp.service" -}}
{{- $root := .root -}}
{{- $own := get $root.Values.services .name | default dict -}}
{{- $s := include "psp.merge" (dict "base" $root.Values.defaults "over" $own) | fromJson -}}
{{- $_ := set $s "name" .name -}}
{{- $_ := set $s "logLevel" (get $own "logLevel" | default $root.Values.logLevel) -}}
{{- $_ := set $s "networkPolicy" (include "psp.merge" (dict "base" $root.Values.networkPolicy "over" $s.networkPolicy) | fromJson) -}}
{{- $_ := set $s.database "name" ($s.database.name | default .name) -}}
{{- toJson $s -}}
{{- end -}}

{{/* Names of the enabled services, sorted. Returns JSON. */}}
{{- define "psp.enabledServices" -}}
{{- $names := list -}}
{{- range $name, $own := .Values.services -}}
{{- if ne (toString (get ($own | default dict) "enabled")) "false" -}}
{{- $names = append $names $name -}}
{{- end -}}
{{- end -}}
{{- toJson (sortAlpha $names) -}}
{{- end -}}

{{- define "psp.image" -}}
{{- $image := .Values.image -}}
{{- if $image.digest -}}
{{- printf "%s@%s" $image.repository $image.digest -}}
{{- else -}}
{{- printf "%s:%s" $image.repository ($image.tag | default .Chart.AppVersion) -}}
{{- end -}}
{{- end -}}

{{- define "psp.rabbitmqClusterName" -}}
{{- .Values.rabbitmqCluster.name | default (printf "%s-rabbitmq" (include "psp.fullname" .)) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "psp.postgresClusterName" -}}
{{- include "psp.objectName" (dict "root" .root "name" .name "component" "db") -}}
{{- end -}}

{{/*
Settings that are not secret, as name: value. The ConfigMap carries them for the
Deployments; the migration Job, which runs before that ConfigMap exists, gets them inline.
*/}}
{{- define "psp.settings" -}}
{{- $root := .root -}}
{{- $s := .service -}}
{{- $tracing := $root.Values.tracing -}}
{{- $settings := dict
  "LOG_LEVEL" $s.logLevel
  "PSP_VAR_DIR" "/tmp/psp"
  "AUTH_JWT_AUDIENCE" $root.Values.auth.audience
  "OTEL_SERVICE_NAME" $s.name
  "OTEL_METRICS_EXPORTER" "none"
  "OTEL_LOGS_EXPORTER" "none"
-}}
{{- with $root.Values.auth.jwksUrl -}}
{{- $_ := set $settings "AUTH_JWKS_URL" . -}}
{{- end -}}
{{- with $root.Values.auth.issuer -}}
{{- $_ := set $settings "AUTH_JWT_ISSUER" . -}}
{{- end -}}
{{- if $tracing.enabled -}}
{{- $_ := set $settings "OTEL_TRACES_EXPORTER" "otlp" -}}
{{- $_ := set $settings "OTEL_EXPORTER_OTLP_ENDPOINT" $tracing.endpoint -}}
{{- $_ := set $settings "OTEL_EXPORTER_OTLP_PROTOCOL" "http/protobuf" -}}
{{- $_ := set $settings "OTEL_TRACES_SAMPLER" $tracing.sampler -}}
{{- $_ := set $settings "OTEL_TRACES_SAMPLER_ARG" (toString $tracing.samplerArg) -}}
{{- else -}}
{{- $_ := set $settings "OTEL_TRACES_EXPORTER" "none" -}}
{{- end -}}
{{- if $s.files.existingClaim -}}
{{- $_ := set $settings "FILE_STORE_DIR" "/var/lib/psp/files" -}}
{{- end -}}
{{- range $key, $value := $s.env -}}
{{- $_ := set $settings $key (toString $value) -}}
{{- end -}}
{{- toJson $settings -}}
{{- end -}}

{{/*
Environment taken from Secrets, as an env list: (dict "root" $ "service" $s "withAuth" true);
migrations verify no token, so their Job goes without the token key. Operator-made Secrets hold user and
password apart, so the URL is composed with Kubernetes' $(VAR) expansion, which needs
the parts listed first.
*/}}
{{- define "psp.secretEnv" -}}
{{- $root := .root -}}
{{- $s := .service -}}
{{- $urlVar := printf "%s_DATABASE_URL" (upper $s.name) -}}
{{- if $root.Values.cloudnativepg.enabled }}
{{- $cluster := include "psp.postgresClusterName" (dict "root" $root "name" $s.name) }}
- name: PSP_DATABASE_USERNAME
  valueFrom: {secretKeyRef: {name: {{ printf "%s-app" $cluster }}, key: username}}
- name: PSP_DATABASE_PASSWORD
  valueFrom: {secretKeyRef: {name: {{ printf "%s-app" $cluster }}, key: password}}
- name: {{ $urlVar }}
  value: {{ printf "postgresql+psycopg://$(PSP_DATABASE_USERNAME):$(PSP_DATABASE_PASSWORD)@%s-rw.%s.svc:5432/%s" $cluster $root.Release.Namespace $s.database.name | quote }}
{{- else }}
- name: {{ $urlVar }}
  valueFrom: {secretKeyRef: {name: {{ $s.database.existingSecret }}, key: {{ $s.database.urlKey }}}}
{{- end }}
{{- if $root.Values.rabbitmqCluster.enabled }}
{{- $rabbit := include "psp.rabbitmqClusterName" $root }}
- name: PSP_BUS_USERNAME
  valueFrom: {secretKeyRef: {name: {{ printf "%s-default-user" $rabbit }}, key: username}}
- name: PSP_BUS_PASSWORD
  valueFrom: {secretKeyRef: {name: {{ printf "%s-default-user" $rabbit }}, key: password}}
- name: BUS_URL
  value: {{ printf "amqp://$(PSP_BUS_USERNAME):$(PSP_BUS_PASSWORD)@%s.%s.svc:5672/%%2F" $rabbit $root.Release.Namespace | quote }}
{{- else }}
- name: BUS_URL
  valueFrom: {secretKeyRef: {name: {{ $root.Values.bus.existingSecret }}, key: {{ $root.Values.bus.urlKey }}}}
{{- end }}
{{- if and (eq $s.name "notifications") $root.Values.notificationChannels.existingSecret }}
{{- range $key := list "SMTP_URL" "MAIL_FROM" "SMS_GATEWAY_URL" "SMS_GATEWAY_SECRET" "SMS_CALLBACK_URL" "WEBHOOK_SECRET" }}
- name: {{ $key }}
  valueFrom: {secretKeyRef: {name: {{ $root.Values.notificationChannels.existingSecret }}, key: {{ $key }}, optional: true}}
{{- end }}
{{- end }}
{{- if eq $s.name "access" }}
- name: ACCESS_SYSTEM_SECRET_KEYS
  valueFrom: {secretKeyRef: {name: {{ $root.Values.accessSystems.existingSecret }}, key: {{ $root.Values.accessSystems.secretKeysKey }}}}
{{- end }}
{{- if .withAuth }}
{{- with $root.Values.auth }}
{{- if .jwtPublicKeyKey }}
- name: AUTH_JWT_PUBLIC_KEY
  valueFrom: {secretKeyRef: {name: {{ .existingSecret }}, key: {{ .jwtPublicKeyKey }}}}
{{- else if .jwtSecretKey }}
- name: AUTH_JWT_SECRET
  valueFrom: {secretKeyRef: {name: {{ .existingSecret }}, key: {{ .jwtSecretKey }}}}
{{- end }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Pod identity for traces: (dict "root" $ "component" "api"). */}}
{{- define "psp.identityEnv" -}}
- name: K8S_POD_NAME
  valueFrom: {fieldRef: {fieldPath: metadata.name}}
- name: K8S_NAMESPACE
  valueFrom: {fieldRef: {fieldPath: metadata.namespace}}
{{- $attributes := list "service.namespace=psp" "service.instance.id=$(K8S_POD_NAME)" "k8s.namespace.name=$(K8S_NAMESPACE)" "k8s.pod.name=$(K8S_POD_NAME)" (printf "psp.process=%s" .component) -}}
{{- range $key, $value := .root.Values.tracing.resourceAttributes -}}
{{- $attributes = append $attributes (printf "%s=%v" $key $value) -}}
{{- end }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ join "," $attributes | quote }}
{{- end -}}

{{/* Pod-level scheduling and security shared by Deployments and Jobs: (dict "root" $ "service" $s "serviceAccount" name). */}}
{{- define "psp.podSpecCommon" -}}
{{- $root := .root -}}
{{- $s := .service -}}
serviceAccountName: {{ .serviceAccount }}
automountServiceAccountToken: false
enableServiceLinks: false
securityContext:
  {{- toYaml $root.Values.podSecurityContext | nindent 2 }}
{{- with $root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $s.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with $s.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $s.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $s.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Probes on the component's port: (dict "probes" $c.probes). */}}
{{- define "psp.probes" -}}
{{- $p := .probes -}}
startupProbe:
  httpGet: {path: /livez, port: http}
  {{- toYaml $p.startup | nindent 2 }}
livenessProbe:
  httpGet: {path: /livez, port: http}
  {{- toYaml $p.liveness | nindent 2 }}
readinessProbe:
  httpGet: {path: /readyz, port: http}
  {{- toYaml $p.readiness | nindent 2 }}
{{- end -}}

{{/* The command of each process kind: (dict "name" "occupants" "component" "api"). */}}
{{- define "psp.command" -}}
{{- if eq .component "api" -}}
command: [gunicorn]
args: [-c, "python:shared.gunicorn_conf", {{ printf "services.%s.app:create_app()" .name | quote }}]
{{- else -}}
command: [python, -m, shared.cli]
args: [{{ .component }}, {{ .name }}]
{{- end -}}
{{- end -}}

{{/*
Hook annotations of the migration Job and its ServiceAccount: (dict "root" $ "weight" "-10").
Migrations (schema and bus topology) run before the new version starts; but a database or
broker that this release creates does not exist before install, so then the first run is
post-install.
*/}}
{{- define "psp.migrationsAfterInstall" -}}
{{- if or .Values.cloudnativepg.enabled .Values.rabbitmqCluster.enabled }}true{{ end -}}
{{- end -}}

{{- define "psp.migrationHookAnnotations" -}}
helm.sh/hook: {{ ternary "post-install,pre-upgrade" "pre-install,pre-upgrade" (eq (include "psp.migrationsAfterInstall" .root) "true") }}
helm.sh/hook-weight: {{ .weight | quote }}
helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
{{- end -}}
