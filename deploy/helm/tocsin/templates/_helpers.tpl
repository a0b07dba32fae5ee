{{/* The release's base name: the release name, with the chart's name
appended unless it already holds it. */}}
{{- define "tocsin.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* The labels every pod of the release carries, and that selectors use. */}}
{{- define "tocsin.selectorLabels" -}}
app.kubernetes.io/name: tocsin
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "tocsin.labels" -}}
{{ include "tocsin.selectorLabels" . }}
app.kubernetes.io/part-of: tocsin
app.kubernetes.io/version: {{ include "tocsin.tag" . | replace "+" "_" | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "tocsin.tag" -}}
{{- .Values.image.tag | default .Chart.AppVersion -}}
{{- end -}}

{{- define "tocsin.image" -}}
{{- $ref := printf "%s:%s" .Values.image.repository (include "tocsin.tag" .) -}}
{{- if .Values.image.digest -}}{{- $ref = printf "%s@%s" $ref .Values.image.digest -}}{{- end -}}
{{- $ref -}}
{{- end -}}

{{/* The Deployments to make, as a YAML list: one per vantage, or one
without a vantage. A vantage's own scheduling fields replace the
top-level ones. */}}
{{- define "tocsin.deployments" -}}
{{- $full := include "tocsin.fullname" . -}}
{{- $out := list -}}
{{- if not .Values.vantages -}}
{{- $out = append $out (dict "name" $full "vantage" "" "replicas" .Values.replicas "nodeSelector" .Values.nodeSelector "tolerations" .Values.tolerations "affinity" .Values.affinity) -}}
{{- else -}}
{{- $seen := dict -}}
{{- range .Values.vantages -}}
{{- if hasKey $seen .name -}}{{- fail (printf "vantages: %q is named twice" .name) -}}{{- end -}}
{{- $_ := set $seen .name true -}}
{{- $name := printf "%s-%s" $full .name -}}
{{- if gt (len $name) 63 -}}{{- fail (printf "vantages: %q: the Deployment name %q is longer than 63 characters; shorten the vantage or the release name" .name $name) -}}{{- end -}}
{{- $out = append $out (dict "name" $name "vantage" .name "replicas" (.replicas | default $.Values.replicas) "nodeSelector" (.nodeSelector | default $.Values.nodeSelector) "tolerations" (.tolerations | default $.Values.tolerations) "affinity" (.affinity | default $.Values.affinity)) -}}
{{- end -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}

{{/* Whether to make an object of the Prometheus Operator: "auto" makes it
when the cluster serves the kind. */}}
{{- define "tocsin.operatorKind" -}}
{{- $enabled := toString (index . 0) -}}
{{- $kind := index . 1 -}}
{{- $caps := index . 2 -}}
{{- if or (eq $enabled "true") (and (eq $enabled "auto") ($caps.APIVersions.Has (printf "monitoring.coreos.com/v1/%s" $kind))) -}}true{{- end -}}
{{- end -}}

{{- define "tocsin.secretName" -}}
{{- if .Values.secrets.data -}}{{ include "tocsin.fullname" . }}{{- else -}}{{ required "secrets.existingSecret or secrets.data is required" .Values.secrets.existingSecret }}{{- end -}}
{{- end -}}

{{- define "tocsin.redisSecretName" -}}
{{- if .Values.redis.url -}}{{ include "tocsin.fullname" . }}-redis{{- else -}}{{ required "redis.existingSecret or redis.url is required" .Values.redis.existingSecret }}{{- end -}}
{{- end -}}
