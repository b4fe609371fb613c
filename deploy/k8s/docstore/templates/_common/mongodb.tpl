{{/*
MongoDB settings. The connection string (with credentials) only ever comes from an
existing Secret, e.g. the one the MongoDB Community Operator writes for a user
(`<resource>-<db>-<user>`, key `connectionString.standard`). The database defaults to
`docstore_<service>_<region>`; set services.<name>.mongodbDatabase to override.
Args: root, name.
*/}}
{{- define "docstore.env.mongodb" -}}
{{- $svc := index .root.Values.services .name -}}
{{ include "docstore.secretEnv" (dict "env" "MONGODB_URL" "ref" .root.Values.mongodb.existingSecret "what" "mongodb.existingSecret") }}
{{- if $svc.mongodbDatabase }}
- name: MONGODB_DATABASE
  value: {{ $svc.mongodbDatabase | quote }}
{{- end }}
{{- end -}}
