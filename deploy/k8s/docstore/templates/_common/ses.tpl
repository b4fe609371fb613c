{{/*
SES settings for notify: the sender (a verified SES identity), the AWS region and
credentials, and an endpoint only for an SES stand-in (moto); empty means AWS SES.
*/}}
{{- define "docstore.env.ses" -}}
- name: MAIL_FROM
  value: {{ required "ses.mailFrom is required" .Values.ses.mailFrom | quote }}
{{- if .Values.ses.endpointUrl }}
- name: AWS_ENDPOINT_URL_SES
  value: {{ .Values.ses.endpointUrl | quote }}
{{- end }}
{{- if kindIs "bool" .Values.ses.verifySenderIdentity }}
- name: VERIFY_SENDER_IDENTITY
  value: {{ .Values.ses.verifySenderIdentity | quote }}
{{- end }}
{{ include "docstore.env.aws" . }}
{{- end -}}
