{{/* Names and labels. */}}
{{- define "strand.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "strand.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "strand.headless" -}}
{{- printf "%s-headless" (include "strand.fullname" .) -}}
{{- end -}}

{{- define "strand.selectorLabels" -}}
app.kubernetes.io/name: {{ include "strand.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "strand.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "strand.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: {{ .Values.roles | replace "," "-" }}
{{- end -}}

{{- define "strand.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "strand.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "strand.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* DNS name of pod N under the headless Service. */}}
{{- define "strand.podHost" -}}
{{- $ := index . 0 -}}
{{- printf "%s-%d.%s.%s.svc.%s" (include "strand.fullname" $) (index . 1) (include "strand.headless" $) $.Release.Namespace $.Values.clusterDomain -}}
{{- end -}}

{{- define "strand.isController" -}}
{{- if has "controller" (splitList "," (.Values.roles | nospace)) -}}true{{- end -}}
{{- end -}}

{{/* controller.quorum.voters: generated from replicaCount with the controller role. */}}
{{- define "strand.voters" -}}
{{- if include "strand.isController" . -}}
{{- if not (has (int .Values.replicaCount) (list 1 3 5)) -}}
{{- fail (printf "replicaCount must be 1, 3 or 5 with the controller role (a quorum of an odd size), got %v; add brokers with a second, broker-only release" .Values.replicaCount) -}}
{{- end -}}
{{- if lt (int .Values.nodeIdOffset) 1 -}}
{{- fail "nodeIdOffset must be 1 or more with the controller role: Raft voter ids start at 1" -}}
{{- end -}}
{{- if .Values.controller.quorumVoters -}}
{{- fail "controller.quorumVoters is generated from replicaCount with the controller role; set it only for roles: broker" -}}
{{- end -}}
{{- $voters := list -}}
{{- range $i := until (int .Values.replicaCount) -}}
{{- $voters = append $voters (printf "%d@%s:%d" (add $.Values.nodeIdOffset $i) (include "strand.podHost" (list $ $i)) (int $.Values.ports.internal)) -}}
{{- end -}}
{{- join "," $voters -}}
{{- else -}}
{{- required "controller.quorumVoters is required for roles: broker (the controller set's id@host:port,...)" .Values.controller.quorumVoters -}}
{{- end -}}
{{- end -}}

{{/* The cluster id: given, or 22 hex characters (valid base64url) of the release's identity. */}}
{{- define "strand.clusterId" -}}
{{- if .Values.clusterId -}}
{{- .Values.clusterId -}}
{{- else -}}
{{- printf "strand/%s/%s" .Release.Namespace .Release.Name | sha256sum | trunc 22 -}}
{{- end -}}
{{- end -}}

{{/* "true" when pods start with --bootstrap: see values.yaml bootstrap.mode. */}}
{{- define "strand.bootstrap" -}}
{{- if eq .Values.bootstrap.mode "always" -}}true
{{- else if eq .Values.bootstrap.mode "auto" -}}
{{- if include "strand.isController" . -}}
{{- $existing := lookup "apps/v1" "StatefulSet" .Release.Namespace (include "strand.fullname" .) -}}
{{- if not $existing -}}true{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* A client command's --brokers: the client Service. */}}
{{- define "strand.bootstrapServer" -}}
{{- printf "%s.%s.svc.%s:%d" (include "strand.fullname" .) .Release.Namespace .Values.clusterDomain (int .Values.ports.client) -}}
{{- end -}}

{{/* Settings the chart owns; config: may not set them (the schema refuses them too). */}}
{{- define "strand.ownedSettings" -}}
{{- list "node.id" "node.id.from.hostname" "node.id.offset" "process.roles" "data.dir" "listeners.client" "listeners.internal" "listeners.admin" "advertised.client" "advertised.internal" "controller.quorum.voters" "cluster.id" "shutdown.timeout.ms" "shutdown.drain.timeout.ms" "listeners.client.tls.cert.file" "listeners.client.tls.key.file" "listeners.client.tls.ca.file" "listeners.internal.tls.cert.file" "listeners.internal.tls.key.file" "listeners.internal.tls.ca.file" "listeners.admin.tls.cert.file" "listeners.admin.tls.key.file" "listeners.admin.tls.ca.file" "listeners.client.tls.client.auth" "listeners.admin.tls.client.auth" "authorizer" "super.users" | toJson -}}
{{- end -}}

{{/* A strand CLI container: the image's entrypoint is `strand`. */}}
{{- define "strand.cliContainer" -}}
{{- $ := index . 0 -}}
name: {{ index . 1 }}
image: {{ include "strand.image" $ }}
imagePullPolicy: {{ $.Values.image.pullPolicy }}
args: {{ index . 2 | toJson }}
env:
  - name: STRAND_BROKERS
    value: {{ include "strand.bootstrapServer" $ | quote }}
  {{- if include "strand.clientTls" $ }}
  - name: STRAND_TLS_CA
    value: /etc/strand/tls/ca.crt
  - name: STRAND_TLS_CERT
    value: /etc/strand/tls/admin.crt
  - name: STRAND_TLS_KEY
    value: /etc/strand/tls/admin.key
  {{- end }}
securityContext: {{ toYaml $.Values.securityContext | nindent 2 }}
resources: {{ toYaml (index . 3) | nindent 2 }}
volumeMounts:
  - name: tmp
    mountPath: /tmp
  {{- if include "strand.clientTls" $ }}
  - name: tls
    mountPath: /etc/strand/tls
    readOnly: true
  {{- end }}
{{- end -}}

{{/* "true" when the client listener serves TLS (the CLI pods then need the client certificate). */}}
{{- define "strand.clientTls" -}}
{{- if and .Values.tls.enabled .Values.tls.client.enabled -}}true{{- end -}}
{{- end -}}

{{/* The node ids of this release: nodeIdOffset .. nodeIdOffset + replicaCount - 1. */}}
{{- define "strand.nodeIds" -}}
{{- $ids := list -}}
{{- range $i := until (int .Values.replicaCount) -}}
{{- $ids = append $ids (add $.Values.nodeIdOffset $i) -}}
{{- end -}}
{{- $ids | toJson -}}
{{- end -}}

{{/* Checks the tls values that the schema cannot (which fields a source needs). */}}
{{- define "strand.tlsCheck" -}}
{{- if .Values.tls.enabled -}}
{{- if and (eq .Values.tls.source "secret") (not .Values.tls.secretName) -}}
{{- fail "tls.secretName is required with tls.source secret: a Secret with ca.crt, node-<id>.crt/.key per node and admin.crt/.key" -}}
{{- end -}}
{{- if and (eq .Values.tls.source "certManager") (not .Values.tls.certManager.issuerRef.name) -}}
{{- fail "tls.certManager.issuerRef.name is required with tls.source certManager" -}}
{{- end -}}
{{- end -}}
{{- if and .Values.authorization.enabled (not (and .Values.tls.enabled .Values.tls.client.enabled)) -}}
{{- fail "authorization.enabled needs tls.enabled and tls.client.enabled: without TLS every client is User:ANONYMOUS" -}}
{{- end -}}
{{- end -}}

{{/* super.users with authorization on: the chart's own client (User:admin) and the extra ones. */}}
{{- define "strand.superUsers" -}}
{{- prepend .Values.authorization.superUsers "User:admin" | uniq | join ";" -}}
{{- end -}}

{{/* Secret of node `id`'s certificate made by cert-manager. Call with (list $ id). */}}
{{- define "strand.nodeCertSecret" -}}
{{- printf "%s-node-%v" (include "strand.fullname" (index . 0)) (index . 1) -}}
{{- end -}}

{{/* The node pods' TLS volume: ca.crt and every node's node-<id>.crt/.key (a pod picks its
own by node.id at start: the {node.id} in the file settings). */}}
{{- define "strand.tlsNodeVolume" -}}
- name: tls
{{- if eq .Values.tls.source "secret" }}
  secret:
    secretName: {{ .Values.tls.secretName }}
    defaultMode: 0440
    items:
      - key: ca.crt
        path: ca.crt
      {{- range $id := include "strand.nodeIds" . | fromJsonArray }}
      - key: node-{{ int $id }}.crt
        path: node-{{ int $id }}.crt
      - key: node-{{ int $id }}.key
        path: node-{{ int $id }}.key
      {{- end }}
{{- else }}
  projected:
    defaultMode: 0440
    sources:
      {{- range $k, $id := include "strand.nodeIds" . | fromJsonArray }}
      - secret:
          name: {{ include "strand.nodeCertSecret" (list $ (int $id)) }}
          items:
            {{- if eq $k 0 }}
            - key: ca.crt
              path: ca.crt
            {{- end }}
            - key: tls.crt
              path: node-{{ int $id }}.crt
            - key: tls.key
              path: node-{{ int $id }}.key
      {{- end }}
{{- end }}
{{- end -}}

{{/* The CLI pods' TLS volume: ca.crt and the client certificate admin.crt/.key only. */}}
{{- define "strand.tlsClientVolume" -}}
{{- if include "strand.clientTls" . -}}
- name: tls
  secret:
    secretName: {{ eq .Values.tls.source "secret" | ternary .Values.tls.secretName (printf "%s-admin" (include "strand.fullname" .)) }}
    defaultMode: 0440
    items:
      - key: ca.crt
        path: ca.crt
      - key: {{ eq .Values.tls.source "secret" | ternary "admin.crt" "tls.crt" }}
        path: admin.crt
      - key: {{ eq .Values.tls.source "secret" | ternary "admin.key" "tls.key" }}
        path: admin.key
{{- end }}
{{- end -}}

{{/* Labels of client pods (provisioning Job, helm test): never matched by the StatefulSet's
selector, its Services or its PDB; allowed by the NetworkPolicy. */}}
{{- define "strand.clientPodLabels" -}}
app.kubernetes.io/name: {{ include "strand.name" . }}-client
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{ include "strand.fullname" . }}-client: "true"
{{- end -}}

{{/* Scrape settings of a Service/PodMonitor endpoint when the admin listener serves HTTPS:
verify against the cluster CA, by a name every node certificate carries (pods are scraped by
IP). */}}
{{- define "strand.scrapeTls" -}}
{{- if and .Values.tls.enabled .Values.tls.admin.enabled -}}
scheme: https
tlsConfig:
  serverName: {{ printf "%s.%s.svc" (include "strand.fullname" .) .Release.Namespace }}
  ca:
    secret:
      name: {{ eq .Values.tls.source "secret" | ternary .Values.tls.secretName (include "strand.nodeCertSecret" (list . (int .Values.nodeIdOffset))) }}
      key: ca.crt
{{- end }}
{{- end -}}
