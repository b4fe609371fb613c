{{/* Typesense settings for the indexer; the API key only from an existing Secret. */}}
{{- define "docstore.env.typesense" -}}
- name: TYPESENSE_URL
  value: {{ required "typesense.url is required" .Values.typesense.url | quote }}
{{ include "docstore.secretEnv" (dict "env" "TYPESENSE_API_KEY" "ref" .Values.typesense.existingSecret "what" "typesense.existingSecret") }}
{{- end -}}
