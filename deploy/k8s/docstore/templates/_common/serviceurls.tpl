{{/*
<NAME>_URL of every service, for the gateway (routing) and upload (asks quota and
metadata), and GATEWAY_URL: where browsers reach the gateway (S3 redirects them there).
*/}}
{{- define "docstore.env.serviceUrls" -}}
{{- $root := . -}}
{{- range $name := list "metadata" "upload" "quota" "indexer" "notify" "analytics" "accounts" "webdav" "links" }}
- name: {{ printf "%s_URL" (upper $name) }}
  value: {{ include "docstore.serviceUrl" (dict "root" $root "name" $name) | quote }}
{{- end }}
- name: GATEWAY_URL
  value: {{ include "docstore.publicUrl" . | quote }}
{{- end -}}

{{/* The gateway's public URL: global.publicUrl, else from the ingress host. */}}
{{- define "docstore.publicUrl" -}}
{{- if .Values.global.publicUrl -}}
{{- .Values.global.publicUrl -}}
{{- else -}}
{{- printf "%s://%s" (ternary "https" "http" (ne .Values.ingress.tls.secretName "")) (required "global.publicUrl or ingress.host is required" .Values.ingress.host) -}}
{{- end -}}
{{- end -}}
