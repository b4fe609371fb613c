{{/*
Kafka settings (docstore_kit.settings.ServiceSettings): bootstrap servers, topic prefix,
fetch wait, and how every client connects (docstore_events.kafka_security):
kafka.security.protocol PLAINTEXT | SSL | SASL_PLAINTEXT | SASL_SSL; SASL credentials,
the password only from an existing Secret; the brokers' CA from an existing Secret,
mounted by docstore.kafka.volumes / docstore.kafka.volumeMounts. Topics are
`<prefix>docstore.<event type>`; consumer group = service name.
*/}}
{{- define "docstore.env.kafka" -}}
{{- $security := .Values.kafka.security -}}
- name: KAFKA_BOOTSTRAP_SERVERS
  value: {{ required "kafka.bootstrapServers is required" .Values.kafka.bootstrapServers | quote }}
- name: KAFKA_TOPIC_PREFIX
  value: {{ .Values.kafka.topicPrefix | quote }}
- name: KAFKA_FETCH_MAX_WAIT_MS
  value: {{ .Values.kafka.fetchMaxWaitMs | quote }}
{{- if ne $security.protocol "PLAINTEXT" }}
- name: KAFKA_SECURITY_PROTOCOL
  value: {{ $security.protocol | quote }}
{{- end }}
{{- if hasPrefix "SASL_" $security.protocol }}
- name: KAFKA_SASL_MECHANISM
  value: {{ $security.sasl.mechanism | quote }}
- name: KAFKA_SASL_USERNAME
  value: {{ required "kafka.security.sasl.username is required with a SASL_ protocol" $security.sasl.username | quote }}
{{ include "docstore.secretEnv" (dict "env" "KAFKA_SASL_PASSWORD" "ref" $security.sasl.passwordSecret "what" "kafka.security.sasl.passwordSecret") }}
{{- end }}
{{- if $security.caSecret.name }}
- name: KAFKA_SSL_CAFILE
  value: {{ include "docstore.kafka.caFile" . | quote }}
{{- end }}
{{- end -}}

{{- define "docstore.kafka.caFile" -}}
/etc/docstore/kafka-ca/ca.crt
{{- end -}}

{{/*
The brokers' CA bundle (kafka.security.caSecret), when set: a volume and its mount, for
every service container and the init Job. Empty otherwise. Call with the root context.
*/}}
{{- define "docstore.kafka.volumeMounts" -}}
{{- if .Values.kafka.security.caSecret.name }}
- name: kafka-ca
  mountPath: {{ include "docstore.kafka.caFile" . | dir }}
  readOnly: true
{{- end }}
{{- end -}}

{{- define "docstore.kafka.volumes" -}}
{{- with .Values.kafka.security.caSecret }}
{{- if .name }}
- name: kafka-ca
  secret:
    secretName: {{ .name | quote }}
    items:
      - key: {{ .key | quote }}
        path: ca.crt
{{- end }}
{{- end }}
{{- end -}}
