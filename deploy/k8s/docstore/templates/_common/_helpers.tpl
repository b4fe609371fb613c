{{/*
Names, labels and images shared by every DocStore template.
*/}}

{{- define "docstore.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* The Kubernetes name of one service: <fullname>-<service>. Args: root, name. */}}
{{- define "docstore.serviceName" -}}
{{- printf "%s-%s" (include "docstore.fullname" .root) .name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "docstore.chartLabel" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Selector labels of one service. Args: root, name. */}}
{{- define "docstore.selectorLabels" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end -}}

{{/* All labels of one service's objects. Args: root, name. */}}
{{- define "docstore.labels" -}}
{{ include "docstore.selectorLabels" . }}
app.kubernetes.io/part-of: docstore
app.kubernetes.io/component: {{ .name }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ include "docstore.chartLabel" .root }}
docstore.example/region: {{ .root.Values.global.region }}
{{- end -}}

{{/*
The image of one service. Each service has its own image, so each has its own digest:
services.<name>.image.repository (default <image.repository>-<name>), .tag (default
image.tag, then the chart's appVersion) and .digest (sha256:..., pins the image:
<repository>:<tag>@<digest>). There is no shared digest. Args: root, name.
*/}}
{{- define "docstore.image" -}}
{{- $svc := index .root.Values.services .name -}}
{{- $img := default dict $svc.image -}}
{{- $repo := default (printf "%s-%s" .root.Values.image.repository .name) $img.repository -}}
{{- $tag := default (default .root.Chart.AppVersion .root.Values.image.tag) $img.tag -}}
{{- if $img.digest -}}
{{- printf "%s:%s@%s" $repo $tag $img.digest -}}
{{- else -}}
{{- printf "%s:%s" $repo $tag -}}
{{- end -}}
{{- end -}}

{{/* The ServiceAccount of the services (a regular resource of the release). */}}
{{- define "docstore.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "docstore.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Base URL of a service inside the cluster. Args: root, name. */}}
{{- define "docstore.serviceUrl" -}}
{{- $svc := index .root.Values.services .name -}}
{{- printf "http://%s:%v" (include "docstore.serviceName" .) $svc.port -}}
{{- end -}}

{{/* A secretKeyRef env entry. Args: env (variable name), ref (dict name/key), what (for the error). */}}
{{- define "docstore.secretEnv" -}}
- name: {{ .env }}
  valueFrom:
    secretKeyRef:
      name: {{ required (printf "%s: the name of an existing Secret is required" .what) .ref.name | quote }}
      key: {{ required (printf "%s: the key in Secret %s is required" .what .ref.name) .ref.key | quote }}
{{- end -}}

{{/*
The ServiceAccount of the init hook Job. A pre-install hook runs before Helm creates the
release's regular resources, so the hook cannot use the chart's ServiceAccount: it gets
its own, created as a hook of lower weight (templates/init/serviceaccount.yaml). With
serviceAccount.create=false the existing named ServiceAccount is used, which exists
before the install.
*/}}
{{- define "docstore.initServiceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- printf "%s-init" (include "docstore.fullname" .) -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/*
Pod annotations that change when a Secret or ConfigMap the pod reads changes, so that
`helm upgrade` rolls the pods (a pod reads env from a Secret only when it starts). The
Secrets are the ones the service's env names (secretKeyRef / configMapKeyRef, whatever
snippet added them) and the CA bundles it mounts (Kafka, MongoDB); their data is read from the cluster with `lookup` at install/upgrade
time and only its SHA-256 lands in the annotation. `helm template` and --dry-run cannot
read the cluster: there the checksum is of the names alone. Args: root, name, uses.
*/}}
{{- define "docstore.checksumAnnotations" -}}
{{- $root := .root -}}
{{- $refs := dict "Secret" dict "ConfigMap" dict -}}
{{- range (include "docstore.env" . | fromYamlArray) }}
{{- with .valueFrom }}
{{- with .secretKeyRef }}{{ $_ := set $refs.Secret .name true }}{{ end }}
{{- with .configMapKeyRef }}{{ $_ := set $refs.ConfigMap .name true }}{{ end }}
{{- end }}
{{- end }}
{{- /* Mounted CA bundles: read when a process starts, like env. */ -}}
{{- range (concat (include "docstore.kafka.volumes" $root | fromYamlArray) (include "docstore.mongodb.volumes" $root | fromYamlArray)) }}
{{- with .secret }}{{ $_ := set $refs.Secret .secretName true }}{{ end }}
{{- with .configMap }}{{ $_ := set $refs.ConfigMap .name true }}{{ end }}
{{- end }}
{{- range $kind := list "Secret" "ConfigMap" }}
{{- $data := list }}
{{- range $name := keys (get $refs $kind) | sortAlpha }}
{{- $obj := lookup "v1" $kind $root.Release.Namespace $name }}
{{- $data = append $data (dict "name" $name "data" (get $obj "data") "binaryData" (get $obj "binaryData")) }}
{{- end }}
{{- if $data }}
checksum/{{ lower $kind }}s: {{ $data | toJson | sha256sum | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{/*
Origins allowed to call the bucket from a browser (S3 CORS, set by the init hook):
s3.corsOrigins, else the gateway's public URL (the web app's origin). "*" would let any
site's scripts use a signed URL a user leaked to it: refused outside development.
*/}}
{{- define "docstore.corsOrigins" -}}
{{- $origins := .Values.s3.corsOrigins | default (list (include "docstore.publicUrl" .)) -}}
{{- if and (has "*" $origins) (ne .Values.global.environment "development") -}}
{{- fail (printf "s3.corsOrigins: \"*\" is refused in environment %q; name the web app's origins" .Values.global.environment) -}}
{{- end -}}
{{- join " " $origins -}}
{{- end -}}

{{/* A Kubernetes memory quantity (e.g. 4608Mi, 4.5Gi, 5G, bytes) in whole MiB. */}}
{{- define "docstore.memoryMi" -}}
{{- $q := toString . -}}
{{- $number := regexFind "^[0-9]+(\\.[0-9]+)?" $q -}}
{{- $unit := trimPrefix $number $q -}}
{{- $perUnit := dict "" 0.00000095367431640625 "k" 0.0009765625 "Ki" 0.0009765625 "M" 0.95367431640625 "Mi" 1.0 "G" 953.67431640625 "Gi" 1024.0 "T" 976562.5 "Ti" 1048576.0 -}}
{{- if or (not $number) (not (hasKey $perUnit $unit)) -}}
{{- fail (printf "%q is not a memory quantity this chart understands" $q) -}}
{{- end -}}
{{- mulf (float64 $number) (get $perUnit $unit) | floor | int -}}
{{- end -}}
