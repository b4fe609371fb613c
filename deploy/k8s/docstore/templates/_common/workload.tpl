{{/*
The objects every service has: Deployment, Service, HorizontalPodAutoscaler and
PodDisruptionBudget. Each service's folder calls these with its name and the settings
snippets it uses, so no manifest is copied per service.
Args: root, name, uses (list of: s3 ses typesense serviceUrls).
*/}}

{{- define "docstore.env" -}}
{{- $root := .root -}}
{{- $svc := index $root.Values.services .name -}}
- name: ENVIRONMENT
  value: {{ $root.Values.global.environment | quote }}
- name: REGION
  value: {{ required "global.region is required" $root.Values.global.region | quote }}
- name: HOST
  value: "0.0.0.0"
- name: PORT
  value: {{ $svc.port | quote }}
- name: METRICS_PORT
  value: {{ $root.Values.metrics.port | quote }}
{{ include "docstore.env.kafka" $root }}
{{ include "docstore.env.mongodb" . }}
{{ include "docstore.secretEnv" (dict "env" "INTERNAL_AUTH_KEYS" "ref" $root.Values.internalAuth.existingSecret "what" "internalAuth.existingSecret") }}
- name: INTERNAL_AUTH_KEY_ID
  value: {{ required "internalAuth.signingKeyId is required" $root.Values.internalAuth.signingKeyId | quote }}
{{ include "docstore.env.otel" . }}
{{- include "docstore.env.tls" . }}
{{- if eq .name "gateway" }}
# The only peers whose X-Forwarded-For names the client (services/gateway settings.py).
- name: GATEWAY_TRUSTED_PROXIES
  value: {{ join "," ($root.Values.ingress.trustedProxies | default list) | quote }}
{{- end }}
{{- range .uses }}
{{ include (printf "docstore.env.%s" .) $root }}
{{- end }}
{{- range $key, $value := $root.Values.global.env }}
- name: {{ $key }}
  value: {{ $value | quote }}
{{- end }}
{{- range $key, $value := $svc.env }}
- name: {{ $key }}
  value: {{ $value | quote }}
{{- end }}
{{- with $svc.secretEnv }}
{{- range $key, $ref := . }}
{{ include "docstore.secretEnv" (dict "env" $key "ref" $ref "what" (printf "services.%s.secretEnv.%s" $.name $key)) }}
{{- end }}
{{- end }}
{{- end -}}

{{- define "docstore.deployment" -}}
{{- $root := .root -}}
{{- $svc := index $root.Values.services .name -}}
{{- if $svc.enabled }}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "docstore.serviceName" . }}
  labels:
    {{- include "docstore.labels" . | nindent 4 }}
spec:
  {{- if not $svc.autoscaling.enabled }}
  replicas: {{ $svc.replicas }}
  {{- end }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- include "docstore.selectorLabels" . | nindent 6 }}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxUnavailable: 0
      maxSurge: 1
  template:
    metadata:
      labels:
        {{- include "docstore.labels" . | nindent 8 }}
      annotations:
        prometheus.io/scrape: "true"
        prometheus.io/port: {{ $root.Values.metrics.port | quote }}
        prometheus.io/path: /metrics
        {{- include "docstore.checksumAnnotations" . | nindent 8 }}
        {{- with $root.Values.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ include "docstore.serviceAccountName" $root }}
      automountServiceAccountToken: {{ $root.Values.serviceAccount.automountToken }}
      {{- with $root.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      terminationGracePeriodSeconds: 30
      securityContext:
        {{- toYaml $root.Values.podSecurityContext | nindent 8 }}
      topologySpreadConstraints:
        - maxSkew: 1
          topologyKey: topology.kubernetes.io/zone
          whenUnsatisfiable: ScheduleAnyway
          labelSelector:
            matchLabels:
              {{- include "docstore.selectorLabels" . | nindent 14 }}
      {{- with (default $root.Values.nodeSelector $svc.nodeSelector) }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with (default $root.Values.tolerations $svc.tolerations) }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      containers:
        - name: {{ .name }}
          image: {{ include "docstore.image" . | quote }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          {{- with include "docstore.tls.args" . }}{{ . | trim | nindent 10 }}{{ end }}
          ports:
            - name: http
              containerPort: {{ $svc.port }}
              protocol: TCP
            - name: metrics
              containerPort: {{ $root.Values.metrics.port }}
              protocol: TCP
          env:
            {{- include "docstore.env" . | nindent 12 }}
          startupProbe:
            httpGet:
              path: /healthz
              port: http
              scheme: {{ include "docstore.tls.probeScheme" . }}
            periodSeconds: 2
            failureThreshold: 60
          livenessProbe:
            httpGet:
              path: /healthz
              port: http
              scheme: {{ include "docstore.tls.probeScheme" . }}
            periodSeconds: 10
            timeoutSeconds: 3
            failureThreshold: 3
          readinessProbe:
            httpGet:
              path: /readyz
              port: http
              scheme: {{ include "docstore.tls.probeScheme" . }}
            periodSeconds: 5
            timeoutSeconds: 4
            failureThreshold: 3
          resources:
            {{- toYaml $svc.resources | nindent 12 }}
          securityContext:
            {{- toYaml $root.Values.containerSecurityContext | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            {{- with include "docstore.kafka.volumeMounts" $root }}{{ . | trim | nindent 12 }}{{ end }}
            {{- with include "docstore.mongodb.volumeMounts" $root }}{{ . | trim | nindent 12 }}{{ end }}
            {{- with include "docstore.tls.volumeMounts" . }}{{ . | trim | nindent 12 }}{{ end }}
      volumes:
        - name: tmp
          emptyDir:
            sizeLimit: {{ $svc.tmpSizeLimit | default "256Mi" }}
        {{- with include "docstore.kafka.volumes" $root }}{{ . | trim | nindent 8 }}{{ end }}
        {{- with include "docstore.mongodb.volumes" $root }}{{ . | trim | nindent 8 }}{{ end }}
        {{- with include "docstore.tls.volumes" . }}{{ . | trim | nindent 8 }}{{ end }}
{{- end }}
{{- end -}}

{{- define "docstore.service" -}}
{{- $svc := index .root.Values.services .name -}}
{{- if $svc.enabled }}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "docstore.serviceName" . }}
  labels:
    {{- include "docstore.labels" . | nindent 4 }}
spec:
  type: ClusterIP
  selector:
    {{- include "docstore.selectorLabels" . | nindent 4 }}
  ports:
    - name: http
      port: {{ $svc.port }}
      targetPort: http
      protocol: TCP
    # Prometheus only (ServiceMonitor / NetworkPolicy metricsFrom); no Ingress routes it.
    - name: metrics
      port: {{ .root.Values.metrics.port }}
      targetPort: metrics
      protocol: TCP
{{- end }}
{{- end -}}

{{/*
Checks of services.<name>.autoscaling that a JSON schema cannot express (it cannot compare
two values): minReplicas <= maxReplicas and, for a service that consumes Kafka
(services.<name>.consumer), maxReplicas <= kafka.partitions: replicas beyond the partition
count of its topics sit idle, as one partition is read by one member of the group.
Args: root, name.
*/}}
{{- define "docstore.validateAutoscaling" -}}
{{- $svc := index .root.Values.services .name -}}
{{- if gt (int $svc.autoscaling.minReplicas) (int $svc.autoscaling.maxReplicas) }}
{{- fail (printf "services.%s.autoscaling.minReplicas (%v) exceeds maxReplicas (%v)" .name $svc.autoscaling.minReplicas $svc.autoscaling.maxReplicas) }}
{{- end }}
{{- if and $svc.consumer (gt (int $svc.autoscaling.maxReplicas) (int .root.Values.kafka.partitions)) }}
{{- fail (printf "services.%s.autoscaling.maxReplicas (%v) exceeds kafka.partitions (%v): consumer replicas beyond the partition count sit idle" .name $svc.autoscaling.maxReplicas .root.Values.kafka.partitions) }}
{{- end }}
{{- end -}}

{{/* Whether KEDA scales this service on consumer lag (instead of the CPU HPA). Args: root, name. */}}
{{- define "docstore.kedaScaled" -}}
{{- $svc := index .root.Values.services .name -}}
{{- if and .root.Values.keda.enabled $svc.consumer $svc.enabled $svc.autoscaling.enabled }}true{{ end -}}
{{- end -}}

{{/*
HPA on CPU, for every service KEDA does not scale (keda.enabled scales the consumers on
lag: templates/keda-scaledobjects.yaml; two autoscalers on one Deployment would fight).
*/}}
{{- define "docstore.hpa" -}}
{{- $svc := index .root.Values.services .name -}}
{{- if and $svc.enabled $svc.autoscaling.enabled }}
{{- include "docstore.validateAutoscaling" . }}
{{- if not (include "docstore.kedaScaled" .) }}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "docstore.serviceName" . }}
  labels:
    {{- include "docstore.labels" . | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "docstore.serviceName" . }}
  minReplicas: {{ $svc.autoscaling.minReplicas }}
  maxReplicas: {{ $svc.autoscaling.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ $svc.autoscaling.targetCPUUtilizationPercentage }}
  behavior:
    scaleDown:
      # Every scale event of a consumer rebalances its group; scale down slowly.
      stabilizationWindowSeconds: 300
{{- end }}
{{- end }}
{{- end -}}

{{- define "docstore.pdb" -}}
{{- $svc := index .root.Values.services .name -}}
{{- if and $svc.enabled $svc.podDisruptionBudget.enabled }}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "docstore.serviceName" . }}
  labels:
    {{- include "docstore.labels" . | nindent 4 }}
spec:
  maxUnavailable: {{ $svc.podDisruptionBudget.maxUnavailable }}
  selector:
    matchLabels:
      {{- include "docstore.selectorLabels" . | nindent 6 }}
{{- end }}
{{- end -}}
