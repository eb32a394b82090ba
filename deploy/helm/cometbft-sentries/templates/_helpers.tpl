{{- define "sentries.name" -}}
{{- default .Release.Name .Values.nameOverride | trunc 52 | trimSuffix "-" -}}
{{- end -}}

{{- define "sentries.labels" -}}
app.kubernetes.io/name: cometbft-sentry
app.kubernetes.io/instance: {{ include "sentries.name" . }}
{{- end -}}
