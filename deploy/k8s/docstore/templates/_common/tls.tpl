{{/*
TLS in transit beyond Kafka and MongoDB (kafka.tpl, mongodb.tpl):

* s3.caSecret: the CA bundle of a private S3-compatible store, mounted at
  /etc/docstore/s3-ca/ca.crt in every pod with S3 settings (and the init Job); AWS_CA_BUNDLE
  points at it, so botocore verifies the store with it (and only it: the bundle must also hold
  the CAs of any other AWS endpoint those pods call).
* gatewayTls.secretName: a kubernetes.io/tls Secret (e.g. a cert-manager Certificate for the
  gateway Service's DNS names). The gateway then serves HTTPS itself (TLS_CERT_FILE,
  TLS_KEY_FILE; `python -m docstore_gateway`), its probes use HTTPS, and the Ingress tells
  ingress-nginx to speak HTTPS to it: traffic stays encrypted past the ingress controller.
*/}}

{{- define "docstore.s3.caFile" -}}
/etc/docstore/s3-ca/ca.crt
{{- end -}}

{{- define "docstore.gatewayTls.dir" -}}
/etc/docstore/gateway-tls
{{- end -}}

{{/* AWS_CA_BUNDLE when s3.caSecret is set (root context; part of docstore.env.s3). */}}
{{- define "docstore.env.s3ca" -}}
{{- if .Values.s3.caSecret.name }}
- name: AWS_CA_BUNDLE
  value: {{ include "docstore.s3.caFile" . | quote }}
{{- end }}
{{- end -}}

{{/* Whether this pod serves HTTPS itself. Args: root, name. */}}
{{- define "docstore.servesTls" -}}
{{- if and (eq .name "gateway") .root.Values.gatewayTls.secretName }}true{{ end -}}
{{- end -}}

{{/* The gateway's TLS settings. Args: root, name. */}}
{{- define "docstore.env.tls" -}}
{{- if include "docstore.servesTls" . }}
- name: TLS_CERT_FILE
  value: {{ printf "%s/tls.crt" (include "docstore.gatewayTls.dir" .root) | quote }}
- name: TLS_KEY_FILE
  value: {{ printf "%s/tls.key" (include "docstore.gatewayTls.dir" .root) | quote }}
{{- end }}
{{- end -}}

{{/* The container's args: the gateway's own entry point when it serves TLS (it reads the
certificate from its settings); otherwise the image's uvicorn command. Args: root, name. */}}
{{- define "docstore.tls.args" -}}
{{- if include "docstore.servesTls" . }}
args: ["python", "-m", "docstore_gateway"]
{{- end }}
{{- end -}}

{{- define "docstore.tls.probeScheme" -}}
{{- if include "docstore.servesTls" . }}HTTPS{{ else }}HTTP{{ end -}}
{{- end -}}

{{/* Mounts of the S3 CA (pods with S3 settings) and the gateway's certificate. Args: root, name, uses. */}}
{{- define "docstore.tls.volumeMounts" -}}
{{- if and .root.Values.s3.caSecret.name (has "s3" .uses) }}
{{ include "docstore.s3.caVolumeMount" .root }}
{{- end }}
{{- if include "docstore.servesTls" . }}
- name: gateway-tls
  mountPath: {{ include "docstore.gatewayTls.dir" .root }}
  readOnly: true
{{- end }}
{{- end -}}

{{- define "docstore.tls.volumes" -}}
{{- if and .root.Values.s3.caSecret.name (has "s3" .uses) }}
{{ include "docstore.s3.caVolume" .root }}
{{- end }}
{{- if include "docstore.servesTls" . }}
- name: gateway-tls
  secret:
    secretName: {{ .root.Values.gatewayTls.secretName | quote }}
    items:
      - key: tls.crt
        path: tls.crt
      - key: tls.key
        path: tls.key
{{- end }}
{{- end -}}

{{/* The S3 CA's volume (root context; the init Job too). */}}
{{- define "docstore.s3.caVolume" -}}
- name: s3-ca
  secret:
    secretName: {{ .Values.s3.caSecret.name | quote }}
    items:
      - key: {{ .Values.s3.caSecret.key | quote }}
        path: ca.crt
{{- end -}}

{{- define "docstore.s3.caVolumeMount" -}}
- name: s3-ca
  mountPath: {{ include "docstore.s3.caFile" . | dir }}
  readOnly: true
{{- end -}}
