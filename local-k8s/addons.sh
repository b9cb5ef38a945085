#!/usr/bin/env bash
# Installs the local node's infrastructure and waits until it works: CoreDNS and the node's volumes (the node's own),
# then the infra helmfile's releases in its local-k8s environment: kube-prometheus-stack (Grafana off), nats, valkey,
# keda, reloader and sealed-secrets from the packaged upstream charts (helmfiles/upstream-charts/), with the
# default environment's values and the node's overrides (helmfiles/values/local-k8s/). Their images are built here
# (local-k8s/build-images.sh) under the names the charts ask for. Idempotent. Run by `local-k8s.sh up`; also
# `task infra -- apply ENV=local-k8s`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=local-k8s/lib.sh
source "$here/lib.sh"
export KUBECONFIG="$K8S_HOME/kubeconfig" PATH="$K8S_BIN:$PATH"
VOLUMES="$K8S_HOME/volumes"

render() { # manifest file: fills in the @@NAME@@ placeholders from lib.sh
  sed -e "s|@@COREDNS_IMAGE@@|$COREDNS_IMAGE|g" -e "s|@@DNS_IP@@|$DNS_IP|g" -e "s|@@VOLUMES@@|$VOLUMES|g" "$1"
}
apply() { kubectl apply --server-side --force-conflicts --field-manager=local-k8s -f - >/dev/null; }
rollout() { # namespace kind/name
  kubectl -n "$1" rollout status "$2" --timeout=300s >/dev/null ||
    die "$2 in namespace $1 did not become ready; kubectl -n $1 describe $2 and kubectl -n $1 get events say why"
}

say "CoreDNS $COREDNS_VERSION and the node's volumes"
render "$here/manifests/coredns.yaml" | apply
# Valkey runs as uid 1000 and fsGroup does not apply to hostPath volumes: the folders are open to the pods.
for i in 0 1 2 3 4 5; do mkdir -p "$VOLUMES/$i" && chmod 0777 "$VOLUMES/$i"; done
render "$here/manifests/volumes.yaml" | apply
rollout kube-system deploy/coredns

say "the infrastructure charts (helmfile -e local-k8s -f helmfiles/00-infra.yaml.gotmpl sync)"
command -v helmfile >/dev/null && command -v helm >/dev/null ||
  die "helm and helmfile are needed: bash scripts/install-k8s-tools.sh"
step "installing kube-prometheus-stack, nats, valkey, keda, reloader, sealed-secrets" \
  helmfile -e local-k8s -f "$ROOT/helmfiles/00-infra.yaml.gotmpl" sync --skip-deps >"$K8S_HOME/logs/infra.log" 2>&1 ||
  die "helmfile sync of the infrastructure failed; the last lines of $K8S_HOME/logs/infra.log: $(tail -15 "$K8S_HOME/logs/infra.log")"

rollout redis deploy/valkey
rollout nats statefulset/nats
for d in keda-operator keda-operator-metrics-apiserver keda-admission-webhooks; do rollout keda "deploy/$d"; done
kubectl wait --for=condition=Available apiservice/v1beta1.external.metrics.k8s.io --timeout=120s >/dev/null ||
  die "KEDA's metrics API (apiservice v1beta1.external.metrics.k8s.io) is not Available: kubectl describe apiservice v1beta1.external.metrics.k8s.io"
for d in kube-prometheus-stack-operator kube-prometheus-stack-kube-state-metrics; do rollout monitoring "deploy/$d"; done
rollout monitoring daemonset/kube-prometheus-stack-prometheus-node-exporter
# The operator makes the StatefulSets once it has seen the Prometheus and Alertmanager objects.
for s in prometheus-kube-prometheus-stack-prometheus alertmanager-kube-prometheus-stack-alertmanager; do
  for _ in $(seq 1 90); do kubectl -n monitoring get statefulset "$s" >/dev/null 2>&1 && break; sleep 1; done
  rollout monitoring "statefulset/$s"
done
rollout reloader deploy/reloader-reloader
rollout kube-system deploy/sealed-secrets-controller
say "infrastructure ready"
