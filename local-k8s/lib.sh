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
# The newest prometheus-operator the Go module proxy served when pinned (kube-prometheus-stack 88.5.3, the infra
# helmfile's pin, ships v0.93.1; the proxy listed only v0.85.0).
PROMETHEUS_OPERATOR_VERSION=v0.85.0


# A module's source folder in the Go module cache (downloaded on first use): module version
module_source() {
  local dir
  dir="$(step "downloading $1@$2 from the Go module proxy" env GOFLAGS=-mod=mod go mod download -json "$1@$2" |
    sed -n 's/.*"Dir": "\(.*\)".*/\1/p')"
  [ -n "$dir" ] && [ -d "$dir" ] || die "could not download $1@$2 from the Go module proxy"
  echo "$dir"
}
NATS_SERVER_VERSION=v2.15.2

# Images the node runs, made on this machine (nothing can be pulled here); localhost/ marks them as local.
PAUSE_IMAGE=localhost/local-k8s/pause:3.10
COREDNS_IMAGE=localhost/local-k8s/coredns:${COREDNS_VERSION#v}
KEDA_OPERATOR_IMAGE=localhost/local-k8s/keda:${KEDA_VERSION#v}
KEDA_ADAPTER_IMAGE=localhost/local-k8s/keda-metrics-apiserver:${KEDA_VERSION#v}
KEDA_WEBHOOKS_IMAGE=localhost/local-k8s/keda-admission-webhooks:${KEDA_VERSION#v}
NATS_IMAGE=localhost/local-k8s/nats:${NATS_SERVER_VERSION#v}
REDIS_IMAGE=localhost/local-k8s/redis:7.0-bookworm
PROMETHEUS_OPERATOR_IMAGE=localhost/local-k8s/prometheus-operator:${PROMETHEUS_OPERATOR_VERSION#v}
PROMETHEUS_CONFIG_RELOADER_IMAGE=localhost/local-k8s/prometheus-config-reloader:${PROMETHEUS_OPERATOR_VERSION#v}
# Built from the Go module github.com/prometheus/prometheus v0.316.0 (= Prometheus 3.16.0; local-k8s/build/prometheus).
PROMETHEUS_VERSION=v3.16.0
PROMETHEUS_IMAGE=localhost/local-k8s/prometheus:${PROMETHEUS_VERSION#v}
