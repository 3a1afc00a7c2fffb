{{/* Shared names, labels, probes and the render-time guards of the tacos-service chart. */}}

{{- define "tacos-service.name" -}}
{{- default .Release.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "tacos-service.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- include "tacos-service.name" . -}}
{{- end -}}
{{- end -}}

{{- define "tacos-service.serviceAccountName" -}}
{{- default (include "tacos-service.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{- define "tacos-service.roleArn" -}}
{{- default (printf "arn:aws:iam::%s:role/traffic-tacos-%s-sa-role" .Values.aws.accountId (include "tacos-service.name" .)) .Values.serviceAccount.roleArn -}}
{{- end -}}

{{- define "tacos-service.image" -}}
{{- if or (not .Values.image.tag) (eq (lower (toString .Values.image.tag)) "latest") -}}
{{- fail "image.tag must be a pinned release tag (never empty or latest)" -}}
{{- end -}}
{{- printf "%s/%s:%s" .Values.image.registry .Values.image.repository (toString .Values.image.tag) -}}
{{- end -}}

{{/* Selector labels: stable for the lifetime of the Deployment. */}}
{{- define "tacos-service.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tacos-service.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Labels on every object and pod template. */}}
{{- define "tacos-service.labels" -}}
{{ include "tacos-service.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | toString | quote }}
app.kubernetes.io/component: {{ .Values.component }}
app.kubernetes.io/part-of: {{ .Values.labels.partOf }}
team: {{ .Values.labels.team }}
cost-center: {{ .Values.labels.costCenter }}
environment: {{ .Values.labels.environment }}
{{- end -}}

{{/* Resolve a port name from .Values.ports to its number (grpc probes need a number). */}}
{{- define "tacos-service.portNumber" -}}
{{- $want := .port -}}
{{- $found := "" -}}
{{- if kindIs "string" $want -}}
{{- range .root.Values.ports -}}
{{- if eq .name $want -}}{{- $found = toString .containerPort -}}{{- end -}}
{{- end -}}
{{- if not $found -}}{{- fail (printf "port %q is not declared in .Values.ports" $want) -}}{{- end -}}
{{- else -}}
{{- $found = toString (int $want) -}}
{{- end -}}
{{- $found -}}
{{- end -}}

{{/* Render one probe from {type, path, port, ...timings}. */}}
{{- define "tacos-service.probe" -}}
{{- $p := .probe -}}
{{- if eq $p.type "http" }}
httpGet:
  path: {{ required "http probes need a path" $p.path }}
  port: {{ $p.port }}
  scheme: HTTP
{{- else if eq $p.type "grpc" }}
grpc:
  port: {{ include "tacos-service.portNumber" (dict "port" $p.port "root" .root) }}
  {{- with $p.service }}
  service: {{ . }}
  {{- end }}
{{- else if eq $p.type "tcp" }}
tcpSocket:
  port: {{ $p.port }}
{{- else }}
{{- fail (printf "probe type %q must be http, grpc or tcp" $p.type) }}
{{- end }}
{{- range $k := list "initialDelaySeconds" "periodSeconds" "timeoutSeconds" "successThreshold" "failureThreshold" }}
{{- if hasKey $p $k }}
{{ $k }}: {{ index $p $k }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Render-time guards: capacity, autoscaling bounds and PDB. */}}
{{- define "tacos-service.validate" -}}
{{- $a := .Values.autoscaling -}}
{{- $c := .Values.capacity -}}
{{- if not (has $a.mode (list "hpa" "keda")) -}}
{{- fail "autoscaling.mode must be hpa or keda: every long-running workload autoscales" -}}
{{- end -}}
{{- if lt (int $a.minReplicas) 3 -}}
{{- fail "autoscaling.minReplicas must be >= 3 (one pod per availability zone)" -}}
{{- end -}}
{{- if gt (int $a.minReplicas) (int $a.maxReplicas) -}}
{{- fail "autoscaling.minReplicas must be <= autoscaling.maxReplicas" -}}
{{- end -}}
{{- $capacity := mul (int $a.maxReplicas) (int $c.rpsPerPod) 100 -}}
{{- $needed := mul (int $c.peakRps) (int $c.headroomPercent) -}}
{{- if lt $capacity $needed -}}
{{- fail (printf "capacity: maxReplicas %d x rpsPerPod %d = %d < peakRps %d x %d%% headroom" (int $a.maxReplicas) (int $c.rpsPerPod) (mul (int $a.maxReplicas) (int $c.rpsPerPod)) (int $c.peakRps) (int $c.headroomPercent)) -}}
{{- end -}}
{{- $pdb := .Values.pdb -}}
{{- if and (not (kindIs "invalid" $pdb.minAvailable)) (not (kindIs "invalid" $pdb.maxUnavailable)) -}}
{{- fail "pdb: set only one of minAvailable and maxUnavailable" -}}
{{- end -}}
{{- $min := int $a.minReplicas -}}
{{- if not (kindIs "invalid" $pdb.minAvailable) -}}
{{- $v := toString $pdb.minAvailable -}}
{{- $keep := 0 -}}
{{- if hasSuffix "%" $v -}}
{{- $pct := int (trimSuffix "%" $v) -}}
{{- $keep = div (add (mul $min $pct) 99) 100 -}}
{{- else -}}
{{- $keep = int $v -}}
{{- end -}}
{{- if ge $keep $min -}}
{{- fail (printf "pdb.minAvailable %s keeps %d of %d pods at minReplicas: no eviction would be allowed" $v $keep $min) -}}
{{- end -}}
{{- else -}}
{{- $v := toString (ternary $pdb.maxUnavailable 1 (hasKey $pdb "maxUnavailable")) -}}
{{- if or (eq $v "0") (eq $v "0%") -}}
{{- fail "pdb.maxUnavailable must allow at least one eviction" -}}
{{- end -}}
{{- end -}}
{{- end -}}
