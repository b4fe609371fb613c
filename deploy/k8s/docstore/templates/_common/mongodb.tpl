{{/*
MongoDB settings. The connection string (with credentials) only ever comes from an
existing Secret, e.g. the one the MongoDB Community Operator writes for a user
(`<resource>-<db>-<user>`, key `connectionString.standard`). The database defaults to
`docstore_<service>_<region>`; set services.<name>.mongodbDatabase to override.
With mongodb.tls.caSecret set, the servers' CA is mounted and MONGODB_TLS_CA_FILE points at
it (the client then connects with TLS; PyMongo's tlsCAFile).
Args: root, name.
*/}}
{{- define "docstore.env.mongodb" -}}
{{- $svc := index .root.Values.services .name -}}
{{ include "docstore.secretEnv" (dict "env" "MONGODB_URL" "ref" .root.Values.mongodb.existingSecret "what" "mongodb.existingSecret") }}
{{- if $svc.mongodbDatabase }}
- name: MONGODB_DATABASE
  value: {{ $svc.mongodbDatabase | quote }}
{{- end }}
{{- include "docstore.env.mongodbTls" .root }}
{{- end -}}

{{/* MONGODB_TLS_CA_FILE when mongodb.tls.caSecret is set (root context; the init Job too). */}}
{{- define "docstore.env.mongodbTls" -}}
{{- if .Values.mongodb.tls.caSecret.name }}
- name: MONGODB_TLS_CA_FILE
  value: {{ include "docstore.mongodb.caFile" . | quote }}
{{- end }}
{{- end -}}

{{- define "docstore.mongodb.caFile" -}}
/etc/docstore/mongodb-ca/ca.crt
{{- end -}}

{{/* The MongoDB CA's volume and mount, when mongodb.tls.caSecret is set (root context). */}}
{{- define "docstore.mongodb.volumeMounts" -}}
{{- if .Values.mongodb.tls.caSecret.name }}
- name: mongodb-ca
  mountPath: {{ include "docstore.mongodb.caFile" . | dir }}
  readOnly: true
{{- end }}
{{- end -}}

{{- define "docstore.mongodb.volumes" -}}
{{- with .Values.mongodb.tls.caSecret }}
{{- if .name }}
- name: mongodb-ca
  secret:
    secretName: {{ .name | quote }}
    items:
      - key: {{ .key | quote }}
        path: ca.crt
{{- end }}
{{- end }}
{{- end -}}
