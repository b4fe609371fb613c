{{/*
OpenTelemetry and logging. Traces go to an OTLP/HTTP endpoint (a collector); empty
disables export. Resource attributes carry region, environment and the pod.
Args: root, name.
*/}}
{{- define "docstore.env.otel" -}}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ .root.Values.otel.endpoint | quote }}
- name: OTEL_SERVICE_NAME
  value: {{ .name | quote }}
- name: K8S_POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ printf "service.namespace=docstore,deployment.environment=%s,cloud.region=%s,k8s.pod.name=$(K8S_POD_NAME)" .root.Values.global.environment .root.Values.global.region | quote }}
{{- with .root.Values.otel.tracesSampler }}
- name: OTEL_TRACES_SAMPLER
  value: {{ . | quote }}
{{- end }}
{{- with .root.Values.otel.tracesSamplerArg }}
- name: OTEL_TRACES_SAMPLER_ARG
  value: {{ . | quote }}
{{- end }}
- name: LOG_FORMAT
  value: "json"
- name: LOG_LEVEL
  value: {{ .root.Values.logLevel | quote }}
{{- end -}}
