# Shared by the local-k8s scripts (sourced, not run): pinned versions and where things live.
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"

KUBERNETES_VERSION=v1.34.4
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
K8S_HOME="${KVFLOW_K8S_HOME:-$ROOT/.kvflow/k8s}"
K8S_BIN="$K8S_HOME/bin"

NODE_NAME=kvflow-node
# The node's address: an extra address on lo, because pods cannot reach 127.0.0.1 of the host, and the host has no
# other stable address of its own (this kernel has no dummy interface module).
NODE_IP=10.250.0.1
POD_CIDR=10.244.0.0/24
CLUSTER_CIDR=10.244.0.0/16
SERVICE_CIDR=10.96.0.0/24
SERVICE_IP=10.96.0.1
DNS_IP=10.96.0.10
BRIDGE=kvflow0
ETCD_PORT=12379
APISERVER_PORT=6443
# The KEDA version helmfiles/ pins (a test checks they agree).
KEDA_VERSION=v2.20.2
COREDNS_VERSION=v1.12.1
# What the infra helmfile's chart pins ship (helmfiles/00-infra.yaml.gotmpl), built here. Where the Go module proxy
# or Debian refused that version, the nearest it served; each difference is said here and in docs/kubernetes.md.
# kube-prometheus-stack 88.5.3: prometheus-operator v0.93.1 (not in the proxy's list, served by exact version).
PROMETHEUS_OPERATOR_VERSION=v0.93.1
# kube-prometheus-stack 88.5.3: Prometheus v3.14.0 (the Go module's v0.314.0), Alertmanager v0.34.0,
# node-exporter v1.12.1, kube-state-metrics v2.20.0.
PROMETHEUS_VERSION=v3.14.0
PROMETHEUS_MODULE_VERSION=v0.314.0
ALERTMANAGER_VERSION=v0.34.0
NODE_EXPORTER_VERSION=v1.12.1
KUBE_STATE_METRICS_VERSION=v2.20.0
# nats 2.14.2: nats-server 2.14.2 and its config reloader 0.23.0 (github.com/nats-io/nack).
NATS_NODE_VERSION=v2.14.2
NATS_CONFIG_RELOADER_VERSION=v0.23.0
# reloader 2.2.16 ships Reloader v1.4.21, which the proxy refuses (403): v1.4.22, with github.com/openshift/api at
# v3.9.0+incompatible (build-binaries.sh says why).
RELOADER_VERSION=v1.4.22
# sealed-secrets 2.19.1: controller and kubeseal 0.38.4 (module github.com/bitnami-labs/sealed-secrets).
SEALED_SECRETS_VERSION=v0.38.4
# valkey 0.11.0 ships Valkey 9.1.1; Debian's source package (sid) is 9.1.2, the only one its pool serves: 9.1.2.
VALKEY_VERSION=9.1.2
VALKEY_SHA256=8e8557da7426a51b4e0fb514a65ef6241dc7c85cb408243af389070abf379cec


# A module's source folder in the Go module cache (downloaded on first use): module version
module_source() {
  local dir
  dir="$(step "downloading $1@$2 from the Go module proxy" env GOFLAGS=-mod=mod go mod download -json "$1@$2" |
    sed -n 's/.*"Dir": "\(.*\)".*/\1/p')"
  [ -n "$dir" ] && [ -d "$dir" ] || die "could not download $1@$2 from the Go module proxy"
  echo "$dir"
}
# Images the node runs, made on this machine (nothing can be pulled here). CoreDNS and the pod sandbox are the
# node's own (localhost/ marks them as local); the infrastructure charts' images carry the names and tags those
# charts ask for (values/local-k8s/<release>.yaml sets the tag where the version built here differs).
PAUSE_IMAGE=localhost/local-k8s/pause:3.10
COREDNS_IMAGE=localhost/local-k8s/coredns:${COREDNS_VERSION#v}
KEDA_OPERATOR_IMAGE=ghcr.io/kedacore/keda:${KEDA_VERSION#v}
KEDA_ADAPTER_IMAGE=ghcr.io/kedacore/keda-metrics-apiserver:${KEDA_VERSION#v}
KEDA_WEBHOOKS_IMAGE=ghcr.io/kedacore/keda-admission-webhooks:${KEDA_VERSION#v}
PROMETHEUS_OPERATOR_IMAGE=quay.io/prometheus-operator/prometheus-operator:$PROMETHEUS_OPERATOR_VERSION
PROMETHEUS_CONFIG_RELOADER_IMAGE=quay.io/prometheus-operator/prometheus-config-reloader:$PROMETHEUS_OPERATOR_VERSION
# kube-prometheus-stack asks for the distroless variants; these are Debian slim images with the same entrypoints.
PROMETHEUS_IMAGE=quay.io/prometheus/prometheus:$PROMETHEUS_VERSION-distroless
ALERTMANAGER_IMAGE=quay.io/prometheus/alertmanager:$ALERTMANAGER_VERSION
NODE_EXPORTER_IMAGE=quay.io/prometheus/node-exporter:$NODE_EXPORTER_VERSION-distroless
KUBE_STATE_METRICS_IMAGE=registry.k8s.io/kube-state-metrics/kube-state-metrics:$KUBE_STATE_METRICS_VERSION
NATS_IMAGE=docker.io/library/nats:${NATS_NODE_VERSION#v}-alpine
NATS_CONFIG_RELOADER_IMAGE=docker.io/natsio/nats-server-config-reloader:${NATS_CONFIG_RELOADER_VERSION#v}
VALKEY_IMAGE=docker.io/valkey/valkey:$VALKEY_VERSION
RELOADER_IMAGE=ghcr.io/stakater/reloader:$RELOADER_VERSION
SEALED_SECRETS_IMAGE=docker.io/bitnami/sealed-secrets-controller:${SEALED_SECRETS_VERSION#v}
