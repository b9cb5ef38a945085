{{- define "kvflow.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "kvflow.producerName" -}}{{ include "kvflow.fullname" . | trunc 54 }}-producer{{- end -}}
{{- define "kvflow.consumerName" -}}{{ include "kvflow.fullname" . | trunc 54 }}-consumer{{- end -}}
{{- define "kvflow.configName" -}}{{ include "kvflow.fullname" . | trunc 56 }}-config{{- end -}}
{{- /* The producer has its own ServiceAccount when it reads its rate ConfigMap from the API; nothing else does. */}}
{{- define "kvflow.producerServiceAccount" -}}
{{- if .Values.producer.followRateConfigMap }}{{ include "kvflow.producerName" . }}{{ else }}{{ include "kvflow.fullname" . }}{{ end -}}
{{- end -}}
{{- define "kvflow.rateConfigName" -}}{{ include "kvflow.fullname" . | trunc 51 }}-producer-rate{{- end -}}

{{- define "kvflow.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "kvflow.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "kvflow.image" -}}
{{ .root.Values.image.repository }}/kvflow-{{ .name }}:{{ .root.Values.image.tag | default .root.Chart.AppVersion }}
{{- end -}}

{{/* Credentials: every key optional, so a cluster without auth needs no Secret keys at all. */}}
{{- define "kvflow.secretEnv" -}}
{{- range $key := .keys }}
- name: {{ $key }}
  valueFrom:
    secretKeyRef:
      name: {{ $.root.Values.existingSecret }}
      key: {{ $key }}
      optional: true
{{- end }}
{{- end -}}

{{- define "kvflow.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 1000
runAsGroup: 1000
fsGroup: 1000
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "kvflow.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
runAsUser: 1000
capabilities:
  drop: ["ALL"]
{{- end -}}
