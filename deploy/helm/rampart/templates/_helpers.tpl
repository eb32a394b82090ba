{{- define "rampart.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}{{ .Release.Name | trunc 63 | trimSuffix "-" }}{{- else -}}{{ printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}{{- end -}}
{{- end -}}

{{- define "rampart.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "rampart.selector" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "rampart.serviceAccount" -}}
{{- default (include "rampart.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{/* Namespaces whose StatefulSets Rampart scales. */}}
{{- define "rampart.workloadNamespaces" -}}
{{- if .Values.rbac.namespaces -}}{{ toJson .Values.rbac.namespaces }}{{- else -}}{{ toJson (list .Release.Namespace) }}{{- end -}}
{{- end -}}

{{/* Refuses combinations that cannot work, before anything is installed. */}}
{{- define "rampart.validate" -}}
{{- $coordination := (((.Values.config).controller).coordination).kind | default "embedded" -}}
{{- if and (gt (int .Values.replicaCount) 1) (ne $coordination "kubernetes") -}}
{{- fail (printf "replicaCount %d needs config.controller.coordination.kind: kubernetes (leadership on a Lease); with %q two replicas would both act" (int .Values.replicaCount) $coordination) -}}
{{- end -}}
{{- end -}}
