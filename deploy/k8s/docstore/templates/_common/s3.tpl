{{/*
S3 settings (docstore_kit.s3.S3Settings). The bucket defaults to docstore-<region>.
Endpoints are empty for AWS S3; set them for an S3-compatible store. Credentials come
from the pod's IAM role (IRSA / EKS Pod Identity via serviceAccount.annotations) or, if
s3.credentialsSecret.name is set, from that existing Secret.
*/}}
{{- define "docstore.env.s3" -}}
- name: S3_BUCKET
  value: {{ default (printf "docstore-%s" .Values.global.region) .Values.s3.bucket | quote }}
{{- if .Values.s3.endpointUrl }}
- name: S3_ENDPOINT_URL
  value: {{ .Values.s3.endpointUrl | quote }}
{{- end }}
{{- if .Values.s3.publicEndpointUrl }}
- name: S3_PUBLIC_ENDPOINT_URL
  value: {{ .Values.s3.publicEndpointUrl | quote }}
{{- end }}
{{ include "docstore.env.s3encryption" . }}
{{- include "docstore.env.s3ca" . }}
{{ include "docstore.env.aws" . }}
{{- end -}}

{{/* Encryption at rest every write asks S3 for (S3Settings.server_side_encryption): every
pod with S3 settings gets it, so each validates the same values at start. */}}
{{- define "docstore.env.s3encryption" -}}
{{- if and .Values.s3.sseKmsKeyId (ne .Values.s3.serverSideEncryption "aws:kms") }}
{{- fail "s3.sseKmsKeyId is only used with s3.serverSideEncryption: aws:kms" }}
{{- end -}}
- name: S3_SERVER_SIDE_ENCRYPTION
  value: {{ .Values.s3.serverSideEncryption | default "AES256" | quote }}
- name: S3_SSE_KMS_KEY_ID
  value: {{ .Values.s3.sseKmsKeyId | default "" | quote }}
{{- end -}}

{{/* AWS region and, optionally, static credentials from an existing Secret. */}}
{{- define "docstore.env.aws" -}}
- name: AWS_DEFAULT_REGION
  value: {{ default .Values.global.region .Values.aws.region | quote }}
{{- with .Values.aws.credentialsSecret }}
{{- if .name }}
{{ include "docstore.secretEnv" (dict "env" "AWS_ACCESS_KEY_ID" "ref" (dict "name" .name "key" .accessKeyIdKey) "what" "aws.credentialsSecret") }}
{{ include "docstore.secretEnv" (dict "env" "AWS_SECRET_ACCESS_KEY" "ref" (dict "name" .name "key" .secretAccessKeyKey) "what" "aws.credentialsSecret") }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Where browsers reach S3, without any credential: the gateway names it in its
Content-Security-Policy (connect-src, form-action). */}}
{{- define "docstore.env.s3origin" -}}
- name: S3_BUCKET
  value: {{ default (printf "docstore-%s" .Values.global.region) .Values.s3.bucket | quote }}
- name: AWS_DEFAULT_REGION
  value: {{ default .Values.global.region .Values.aws.region | quote }}
{{- if .Values.s3.endpointUrl }}
- name: S3_ENDPOINT_URL
  value: {{ .Values.s3.endpointUrl | quote }}
{{- end }}
{{- if .Values.s3.publicEndpointUrl }}
- name: S3_PUBLIC_ENDPOINT_URL
  value: {{ .Values.s3.publicEndpointUrl | quote }}
{{- end }}
{{ include "docstore.env.s3encryption" . }}
{{- end -}}
