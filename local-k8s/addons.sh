#!/usr/bin/env bash
# Installs the local node's add-ons and waits until each works: CoreDNS, NATS (3 nodes, JetStream), Redis, KEDA
# (operator, metrics API server, admission webhooks) at the version helmfiles/ pins, and prometheus-operator with one
# Prometheus that honours the chart's PodMonitors. Idempotent (server-side apply). Run by `local-k8s.sh up`; also
# `task infra -- apply ENV=local-k8s`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=local-k8s/lib.sh
source "$here/lib.sh"
kubectl_() { "$K8S_BIN/kubectl" --kubeconfig "$K8S_HOME/kubeconfig" "$@"; }

render() { # manifest file: fills in the @@NAME@@ placeholders from lib.sh
  sed -e "s|@@COREDNS_IMAGE@@|$COREDNS_IMAGE|g" -e "s|@@DNS_IP@@|$DNS_IP|g" \
    -e "s|@@NATS_IMAGE@@|$NATS_IMAGE|g" -e "s|@@REDIS_IMAGE@@|$REDIS_IMAGE|g" \
    -e "s|@@KEDA_OPERATOR_REPO@@|${KEDA_OPERATOR_IMAGE%:*}|g" -e "s|@@KEDA_ADAPTER_REPO@@|${KEDA_ADAPTER_IMAGE%:*}|g" \
    -e "s|@@KEDA_WEBHOOKS_REPO@@|${KEDA_WEBHOOKS_IMAGE%:*}|g" -e "s|@@KEDA_TAG@@|${KEDA_VERSION#v}|g" \
    -e "s|@@PROMETHEUS_OPERATOR_REPO@@|${PROMETHEUS_OPERATOR_IMAGE%:*}|g" \
    -e "s|@@PROMETHEUS_OPERATOR_TAG@@|${PROMETHEUS_OPERATOR_VERSION#v}|g" \
    -e "s|@@PROMETHEUS_CONFIG_RELOADER_IMAGE@@|$PROMETHEUS_CONFIG_RELOADER_IMAGE|g" \
    -e "s|@@PROMETHEUS_IMAGE@@|$PROMETHEUS_IMAGE|g" -e "s|@@PROMETHEUS_VERSION@@|$PROMETHEUS_VERSION|g" "$1"
}
apply() { kubectl_ apply --server-side --force-conflicts --field-manager=local-k8s -f - >/dev/null; }
rollout() { # namespace kind/name
  kubectl_ -n "$1" rollout status "$2" --timeout=180s >/dev/null ||
    die "$2 in namespace $1 did not become ready; kubectl -n $1 describe $2 and kubectl -n $1 get events say why"
}

say "CoreDNS $COREDNS_VERSION"
render "$here/manifests/coredns.yaml" | apply
say "NATS $NATS_SERVER_VERSION (3 nodes) and Redis"
render "$here/manifests/nats.yaml" | apply
render "$here/manifests/redis.yaml" | apply

say "KEDA $KEDA_VERSION from the manifests in its Go module"
keda="$K8S_HOME/keda-manifests"
rm -rf "$keda" && mkdir -p "$keda"
cp -r "$(module_source github.com/kedacore/keda/v2 "$KEDA_VERSION")/config" "$keda/" && chmod -R u+w "$keda"
render "$here/manifests/keda-kustomization.yaml" >"$keda/kustomization.yaml"
kubectl_ kustomize "$keda" | apply

say "prometheus-operator $PROMETHEUS_OPERATOR_VERSION (CRDs, operator) and a Prometheus selecting the chart's PodMonitors"
po="$K8S_HOME/prometheus-manifests"
po_src="$(module_source github.com/prometheus-operator/prometheus-operator "$PROMETHEUS_OPERATOR_VERSION")"
rm -rf "$po" && mkdir -p "$po/example"
cp -r "$po_src/example/rbac" "$po/example/" && chmod -R u+w "$po"
render "$here/manifests/prometheus-kustomization.yaml" >"$po/kustomization.yaml"
render "$here/manifests/prometheus.yaml" >"$po/prometheus.yaml"
kubectl_ create namespace monitoring --dry-run=client -o yaml | apply
cat "$po_src"/example/prometheus-operator-crd/*.yaml | apply
kubectl_ wait --for=condition=Established crd --all --timeout=60s >/dev/null
kubectl_ kustomize "$po" | apply

rollout kube-system deploy/coredns
rollout redis deploy/redis
rollout nats statefulset/nats
for d in keda-operator keda-metrics-apiserver keda-admission; do rollout keda "deploy/$d"; done
kubectl_ wait --for=condition=Available apiservice/v1beta1.external.metrics.k8s.io --timeout=120s >/dev/null ||
  die "KEDA's metrics API (apiservice v1beta1.external.metrics.k8s.io) is not Available: kubectl describe apiservice v1beta1.external.metrics.k8s.io"
rollout monitoring deploy/prometheus-operator
# The operator makes the StatefulSet once it has seen the Prometheus object.
for _ in $(seq 1 60); do kubectl_ -n monitoring get statefulset prometheus-kube-prometheus-stack-prometheus >/dev/null 2>&1 && break; sleep 1; done
rollout monitoring statefulset/prometheus-kube-prometheus-stack-prometheus
say "add-ons ready"
