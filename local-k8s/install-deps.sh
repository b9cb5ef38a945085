#!/usr/bin/env bash
# Installs what the local node needs from Debian's packages: containerd, runc, the CNI plugins, etcd, podman (builds
# the images), debootstrap (makes the base images), iptables, conntrack, and gcc for the pause program. Idempotent.
# containerd and etcd are not started as system services: local-k8s.sh runs its own, with its own state.
set -euo pipefail
# shellcheck source=local-k8s/lib.sh
source "$(dirname "$0")/lib.sh"

packages=(containerd runc containernetworking-plugins etcd-server podman debootstrap iptables conntrack gcc libc6-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  say "local node packages present"
  exit 0
fi
command -v apt-get >/dev/null 2>&1 || die "apt-get not found: install ${missing[*]} with your package manager"
say "apt-get install ${missing[*]}"
as_root apt-get update -qq
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
# Debian's packages start system-wide services where systemd runs; the node runs its own.
as_root systemctl disable --now containerd etcd >/dev/null 2>&1 || true
