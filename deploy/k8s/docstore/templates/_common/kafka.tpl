{{/*
Kafka settings (docstore_kit.settings.ServiceSettings): bootstrap servers, topic prefix,
fetch wait. Topics are `<prefix>docstore.<event type>`; consumer group = service name.
*/}}
{{- define "docstore.env.kafka" -}}
- name: KAFKA_BOOTSTRAP_SERVERS
  value: {{ required "kafka.bootstrapServers is required" .Values.kafka.bootstrapServers | quote }}
- name: KAFKA_TOPIC_PREFIX
  value: {{ .Values.kafka.topicPrefix | quote }}
- name: KAFKA_FETCH_MAX_WAIT_MS
  value: {{ .Values.kafka.fetchMaxWaitMs | quote }}
{{- end -}}
