#!/usr/bin/env bash
# Builds the images the local node runs besides kvflow's own: the pod sandbox (pause, from images/pause.c), CoreDNS,
# KEDA's operator, metrics API server and admission webhooks, prometheus-operator and its config reloader,
# Prometheus, nats-server (the binaries local-k8s/build-binaries.sh and scripts/install-servers.sh built), and Redis
# (Debian's redis-server). An image already present is kept.
# --list prints their names and builds nothing. (kvflow's images are built and loaded by `task deploy ENV=local-k8s`.)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=local-k8s/lib.sh
source "$here/lib.sh"

if [ "${1:-}" = --list ]; then
  printf '%s\n' "$PAUSE_IMAGE" "$COREDNS_IMAGE" "$KEDA_OPERATOR_IMAGE" "$KEDA_ADAPTER_IMAGE" "$KEDA_WEBHOOKS_IMAGE" \
    "$NATS_IMAGE" "$REDIS_IMAGE" "$PROMETHEUS_OPERATOR_IMAGE" "$PROMETHEUS_CONFIG_RELOADER_IMAGE" "$PROMETHEUS_IMAGE"
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
  prometheus; do
  [ -x "$K8S_BIN/$bin" ] || die "$K8S_BIN/$bin missing: run local-k8s/build-binaries.sh first"
done
nats_server="$(command -v nats-server || true)"
[ -n "$nats_server" ] && "$nats_server" --version | grep -qF "${NATS_SERVER_VERSION}" ||
  die "nats-server $NATS_SERVER_VERSION not found on PATH: run bash scripts/install-servers.sh"

image "$COREDNS_IMAGE" $'FROM scratch\nCOPY coredns /coredns\nEXPOSE 53 53/udp\nENTRYPOINT ["/coredns"]' "$K8S_BIN/coredns"
image "$KEDA_OPERATOR_IMAGE" $'FROM docker.io/library/debian:bookworm-slim\nCOPY keda-operator /keda\nUSER 1000:1000\nENTRYPOINT ["/keda"]' "$K8S_BIN/keda-operator"
image "$KEDA_ADAPTER_IMAGE" $'FROM docker.io/library/debian:bookworm-slim\nCOPY keda-adapter /keda-adapter\nUSER 1000:1000\nENTRYPOINT ["/keda-adapter"]' "$K8S_BIN/keda-adapter"
image "$KEDA_WEBHOOKS_IMAGE" $'FROM docker.io/library/debian:bookworm-slim\nCOPY keda-admission-webhooks /keda-admission-webhooks\nUSER 1000:1000\nENTRYPOINT ["/keda-admission-webhooks"]' "$K8S_BIN/keda-admission-webhooks"
image "$NATS_IMAGE" $'FROM docker.io/library/debian:bookworm-slim\nCOPY nats-server /nats-server\nEXPOSE 4222 6222 8222\nENTRYPOINT ["/nats-server"]' "$nats_server"
image "$REDIS_IMAGE" $'FROM docker.io/library/debian:bookworm-slim\nRUN apt-get update -qq && apt-get install -y -qq --no-install-recommends redis-server >/dev/null && rm -rf /var/lib/apt/lists/*\nUSER redis\nEXPOSE 6379\nENTRYPOINT ["redis-server"]'
image "$PROMETHEUS_OPERATOR_IMAGE" $'FROM docker.io/library/debian:bookworm-slim\nCOPY prometheus-operator /bin/operator\nUSER 65534:65534\nENTRYPOINT ["/bin/operator"]' "$K8S_BIN/prometheus-operator"
image "$PROMETHEUS_CONFIG_RELOADER_IMAGE" $'FROM docker.io/library/debian:bookworm-slim\nCOPY prometheus-config-reloader /bin/prometheus-config-reloader\nUSER 65534:65534\nENTRYPOINT ["/bin/prometheus-config-reloader"]' "$K8S_BIN/prometheus-config-reloader"
image "$PROMETHEUS_IMAGE" $'FROM docker.io/library/debian:bookworm-slim\nCOPY prometheus /bin/prometheus\nUSER 65534:65534\nEXPOSE 9090\nENTRYPOINT ["/bin/prometheus"]' "$K8S_BIN/prometheus"
