{{/* The prefix of every object name: `modelsync` unless fullnameOverride says otherwise. */}}
{{- define "modelsync.fullname" -}}
{{- default .Chart.Name .Values.fullnameOverride | trunc 50 | trimSuffix "-" -}}
{{- end -}}

{{/* The labels that select the operator pods (deploy/base's). */}}
{{- define "modelsync.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/component: operator
{{- end -}}

{{/*
The label every object carries (deploy/base's kustomization adds it). No helm.sh/chart or
app.kubernetes.io/managed-by labels here, so the default render equals deploy/base; `helm
install` itself adds app.kubernetes.io/managed-by: Helm and the meta.helm.sh/* annotations.
*/}}
{{- define "modelsync.partOf" -}}
app.kubernetes.io/part-of: {{ .Chart.Name }}
{{- end -}}

{{- define "modelsync.labels" -}}
{{ include "modelsync.selectorLabels" . }}
{{ include "modelsync.partOf" . }}
{{- end -}}

{{- define "modelsync.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end -}}

{{/* The operator's own default Lease name (modelsync.runtime.leader_loop.DEFAULT_LEASE_NAME). */}}
{{- define "modelsync.defaultLeaseName" -}}modelsync-leader{{- end -}}

{{/* The Lease names the leader-election Role may read and renew, as a YAML list. */}}
{{- define "modelsync.leaseNames" -}}
{{- if .Values.shards }}
{{- range .Values.shards }}
- {{ include "modelsync.fullname" $ }}-shard-{{ .name }}
{{- end }}
{{- else }}
- {{ .Values.leaderElection.leaseName }}
{{- end }}
{{- end -}}

{{/* The ServiceAccount as an RBAC subject. */}}
{{- define "modelsync.subject" -}}
- kind: ServiceAccount
  name: {{ include "modelsync.fullname" . }}
  namespace: {{ .Release.Namespace }}
{{- end -}}

{{/* The namespaced rules of the operator (deploy/overlays/namespaced/watched-namespace). */}}
{{- define "modelsync.namespacedRules" -}}
- apiGroups: [modelsync.dev]
  resources: [modelcatalogsyncs]
  verbs: [get, list, watch]
- apiGroups: [modelsync.dev]
  resources: [modelcatalogsyncs/status]
  verbs: [patch]
- apiGroups: [modelsync.dev]
  resources: [modelcatalogsyncs/finalizers]
  verbs: [update]
- apiGroups: [modelsync.dev]
  resources: [modelrefs]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [modelsync.dev]
  resources: [modelrefs/status]
  verbs: [patch]
- apiGroups: [""]
  resources: [secrets]
  verbs: [get]
- apiGroups: [""]
  resources: [events]
  verbs: [create]
{{- end -}}

{{/* The webhook's one rule (deploy/components/webhook/rbac.yaml). */}}
{{- define "modelsync.webhookRule" -}}
- apiGroups: [modelsync.dev]
  resources: [modelcatalogsyncs]
  verbs: [patch]
{{- end -}}
