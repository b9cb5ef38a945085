#!/usr/bin/env bash
# Builds the images the local node runs besides kvflow's own: the pod sandbox (pause, from images/pause.c) and
# CoreDNS, then the infrastructure charts' images, from the binaries local-k8s/build-binaries.sh built (KEDA,
# prometheus-operator and its config reloader, Prometheus, Alertmanager, node-exporter, kube-state-metrics,
# nats-server and its config reloader, Valkey, Reloader, the sealed-secrets controller), each with the entrypoint
# its upstream image has, so the charts' commands and args run unchanged. An image already present is kept.
# --list prints their names and builds nothing. (kvflow's images are built and loaded by `task deploy ENV=local-k8s`.)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=local-k8s/lib.sh
source "$here/lib.sh"

if [ "${1:-}" = --list ]; then
  printf '%s\n' "$PAUSE_IMAGE" "$COREDNS_IMAGE" "$KEDA_OPERATOR_IMAGE" "$KEDA_ADAPTER_IMAGE" "$KEDA_WEBHOOKS_IMAGE" \
    "$PROMETHEUS_OPERATOR_IMAGE" "$PROMETHEUS_CONFIG_RELOADER_IMAGE" "$PROMETHEUS_IMAGE" "$ALERTMANAGER_IMAGE" \
    "$NODE_EXPORTER_IMAGE" "$KUBE_STATE_METRICS_IMAGE" "$NATS_IMAGE" "$NATS_CONFIG_RELOADER_IMAGE" "$VALKEY_IMAGE" \
    "$RELOADER_IMAGE" "$SEALED_SECRETS_IMAGE"
  exit 0
fi

work="$(mktemp -d)"
only="${1:-}" # "pause": the sandbox image alone (local-k8s.sh up --node-only)
trap 'rm -rf "$work"' EXIT

# image, Containerfile text, then files to copy into the build context
image() {
  local name="$1" containerfile="$2"; shift 2
  if podman image exists "$name"; then return; fi
  local ctx="$work/context-$(basename "${name%%:*}")"
  mkdir -p "$ctx"
  [ $# -eq 0 ] || cp "$@" "$ctx/"
  printf '%s\n' "$containerfile" >"$ctx/Containerfile"
  # shellcheck disable=SC2046
  step "building image $name" kv_podman build --quiet $(kv_ulimits) --network host -f "$ctx/Containerfile" -t "$name" "$ctx" >/dev/null
}

gcc -static -Os -o "$work/pause" "$here/images/pause.c" && strip "$work/pause"
image "$PAUSE_IMAGE" $'FROM scratch\nCOPY pause /pause\nUSER 65535:65535\nENTRYPOINT ["/pause"]' "$work/pause"
[ "$only" != pause ] || exit 0

podman image exists docker.io/library/debian:bookworm-slim || bash "$ROOT/scripts/make-base-images.sh"
for bin in coredns keda-operator keda-adapter keda-admission-webhooks prometheus-operator prometheus-config-reloader \
  prometheus alertmanager node_exporter kube-state-metrics nats-server nats-server-config-reloader valkey-server \
  valkey-cli reloader sealed-secrets-controller; do
  [ -x "$K8S_BIN/$bin" ] || die "$K8S_BIN/$bin missing: run local-k8s/build-binaries.sh first"
done

# image, binary (copied to path in the image), user, entrypoint (JSON), then extra Containerfile lines
slim() {
  local name="$1" bin="$2" path="$3" user="$4" entrypoint="$5"; shift 5
  local extra=""
  [ $# -eq 0 ] || extra="$(printf '%s\n' "$@")"
  image "$name" "FROM docker.io/library/debian:bookworm-slim
COPY $(basename "$bin") $path
${extra}
USER $user
ENTRYPOINT $entrypoint" "$bin"
}

image "$COREDNS_IMAGE" $'FROM scratch\nCOPY coredns /coredns\nEXPOSE 53 53/udp\nENTRYPOINT ["/coredns"]' "$K8S_BIN/coredns"
slim "$KEDA_OPERATOR_IMAGE" "$K8S_BIN/keda-operator" /keda 1000:1000 '["/keda"]'
slim "$KEDA_ADAPTER_IMAGE" "$K8S_BIN/keda-adapter" /keda-adapter 1000:1000 '["/keda-adapter"]'
slim "$KEDA_WEBHOOKS_IMAGE" "$K8S_BIN/keda-admission-webhooks" /keda-admission-webhooks 1000:1000 '["/keda-admission-webhooks"]'
slim "$PROMETHEUS_OPERATOR_IMAGE" "$K8S_BIN/prometheus-operator" /bin/operator 65534:65534 '["/bin/operator"]'
slim "$PROMETHEUS_CONFIG_RELOADER_IMAGE" "$K8S_BIN/prometheus-config-reloader" /bin/prometheus-config-reloader \
  65534:65534 '["/bin/prometheus-config-reloader"]'
slim "$PROMETHEUS_IMAGE" "$K8S_BIN/prometheus" /bin/prometheus 65534:65534 '["/bin/prometheus"]' \
  'WORKDIR /prometheus' 'EXPOSE 9090'
slim "$ALERTMANAGER_IMAGE" "$K8S_BIN/alertmanager" /bin/alertmanager 65534:65534 '["/bin/alertmanager"]' \
  'WORKDIR /alertmanager' 'EXPOSE 9093'
slim "$NODE_EXPORTER_IMAGE" "$K8S_BIN/node_exporter" /bin/node_exporter 65534:65534 '["/bin/node_exporter"]' 'EXPOSE 9100'
slim "$KUBE_STATE_METRICS_IMAGE" "$K8S_BIN/kube-state-metrics" /kube-state-metrics 65534:65534 \
  '["/kube-state-metrics", "--port=8080", "--telemetry-port=8081"]' 'EXPOSE 8080 8081'
# The chart's preStop runs `nats-server --signal ldm=…` and its reloader signals the server by pid file.
slim "$NATS_IMAGE" "$K8S_BIN/nats-server" /usr/local/bin/nats-server 0:0 '["nats-server"]' 'EXPOSE 4222 6222 8222'
slim "$NATS_CONFIG_RELOADER_IMAGE" "$K8S_BIN/nats-server-config-reloader" /usr/local/bin/nats-server-config-reloader \
  0:0 '["nats-server-config-reloader"]'
slim "$RELOADER_IMAGE" "$K8S_BIN/reloader" /manager 65534:65534 '["/manager"]'
slim "$SEALED_SECRETS_IMAGE" "$K8S_BIN/sealed-secrets-controller" /usr/local/bin/controller 1001:1001 '["controller"]' \
  'EXPOSE 8080 8081'
# Valkey's upstream image: valkey-server and valkey-cli on PATH, uid 1000, data in /data; the chart's init
# container runs its own /bin/sh script (tee, date, mkdir) in the same image.
image "$VALKEY_IMAGE" $'FROM docker.io/library/debian:bookworm-slim\nRUN groupadd -r -g 1000 valkey && useradd -r -u 1000 -g valkey -d /data valkey && mkdir /data && chown valkey:valkey /data\nCOPY valkey-server valkey-cli /usr/local/bin/\nWORKDIR /data\nUSER 1000:1000\nEXPOSE 6379\nENTRYPOINT ["valkey-server"]' \
  "$K8S_BIN/valkey-server" "$K8S_BIN/valkey-cli"
