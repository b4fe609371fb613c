{{/*
Temporary upload credentials (uploadCredentials; services/upload/README.md): UPLOAD_CREDENTIALS
and its settings, for the upload pods (uses "uploadCredentials"). "sts" needs the role to assume.
*/}}
{{- define "docstore.env.uploadCredentials" -}}
{{- $c := .Values.uploadCredentials -}}
{{- if and (eq $c.mode "sts") (not $c.roleArn) }}
{{- fail "uploadCredentials.mode=sts needs uploadCredentials.roleArn (the role upload's pods assume)" }}
{{- end -}}
- name: UPLOAD_CREDENTIALS
  value: {{ $c.mode | quote }}
- name: UPLOAD_CREDENTIALS_MINUTES
  value: {{ $c.minutes | quote }}
- name: UPLOAD_CREDENTIALS_ROLE_ARN
  value: {{ $c.roleArn | default "" | quote }}
- name: UPLOAD_CREDENTIALS_EXTERNAL_ID
  value: {{ $c.externalId | default "" | quote }}
- name: UPLOAD_CREDENTIALS_MAX_LIVE
  value: {{ $c.maxLivePerAccount | default 5 | quote }}
{{- end -}}
