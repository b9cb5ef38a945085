#!/usr/bin/env bash
# Makes the base images kvflow's Dockerfiles start from, where no registry can be pulled from (this project's CI
# machine): docker.io/library/debian:bookworm-slim (debootstrap, minbase) and docker.io/library/node:24-bookworm-slim
# (that, plus Node.js 24 and npm from the npm registry, user "node" uid 1000, as the official image has them).
# Tagged with the official names, so the Dockerfiles build unchanged. Images users build elsewhere start from the
# real ones.
#
# Local-only difference: the node base image carries this machine's CA bundle (/etc/ssl/certs/ca-certificates.crt)
# and NODE_EXTRA_CA_CERTS pointing at it, because this machine reaches the npm registry through a TLS proxy only
# that bundle trusts; without it `npm install` inside a build fails ("self-signed certificate in certificate chain").
#
# Idempotent: an image made from the same inputs (label kvflow.base-inputs) is kept. --force remakes both.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"
root="$(cd "$(dirname "$0")/.." && pwd)"

DEBIAN_SUITE=bookworm
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
DEBIAN_IMAGE=docker.io/library/debian:bookworm-slim
NODE_IMAGE=docker.io/library/node:24-bookworm-slim
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt

force=0
for arg in "$@"; do
  case $arg in
    --force) force=1 ;;
    *) die "unknown argument: $arg (usage: bash scripts/make-base-images.sh [--force])" ;;
  esac
done

[ "$(id -u)" -eq 0 ] || die "debootstrap and chroot need root: run as root"
for tool in podman debootstrap; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found: apt-get install podman debootstrap"
done
[ -f "$CA_BUNDLE" ] || die "no CA bundle at $CA_BUNDLE: apt-get install ca-certificates"

# The Node.js the project pins (scripts/install-node.sh), laid out like nodejs.org's tarball.
bash "$root/scripts/install-node.sh" --force >/dev/null
node_prefix="$root/.kvflow/node"
node_version="$("$node_prefix/bin/node" --version)"
npm_version="$(PATH="$node_prefix/bin:$PATH" npm --version)"

label_of() { podman image inspect --format '{{ index .Labels "kvflow.base-inputs" }}' "$1" 2>/dev/null || true; }
debian_inputs="debootstrap minbase $DEBIAN_SUITE"
node_inputs="$debian_inputs node $node_version npm $npm_version ca $(sha256sum "$CA_BUNDLE" | cut -c1-16)"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

if [ "$force" = 0 ] && [ "$(label_of "$DEBIAN_IMAGE")" = "$debian_inputs" ]; then
  say "$DEBIAN_IMAGE present"
else
  rootfs="$work/debian"
  step "making $DEBIAN_IMAGE with debootstrap ($DEBIAN_MIRROR)" \
    debootstrap --variant=minbase "$DEBIAN_SUITE" "$rootfs" "$DEBIAN_MIRROR" >"$work/debootstrap.log" 2>&1 ||
    { tail -20 "$work/debootstrap.log" >&2; die "debootstrap failed (log above)"; }
  # What the official slim image leaves out: package lists, docs, man pages, caches.
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb \
    "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/var/log/*.log
  tar -C "$rootfs" --numeric-owner -c . |
    podman import --change 'CMD ["bash"]' --change "LABEL kvflow.base-inputs=\"$debian_inputs\"" - "$DEBIAN_IMAGE" >/dev/null
  rm -rf "$rootfs"
fi

if [ "$force" = 0 ] && [ "$(label_of "$NODE_IMAGE")" = "$node_inputs" ]; then
  say "$NODE_IMAGE present"
else
  say "making $NODE_IMAGE (node $node_version, npm $npm_version)"
  ctx="$work/node"
  mkdir -p "$ctx/usr/local"
  cp -a "$node_prefix/bin" "$node_prefix/lib" "$ctx/usr/local/"
  [ -d "$node_prefix/include" ] && cp -a "$node_prefix/include" "$ctx/usr/local/"
  # install-node.sh points that npm at the machine's own npm config; the image has none.
  rm -f "$ctx/usr/local/lib/node_modules/npm/npmrc"
  mkdir -p "$ctx/etc/ssl/certs" && cp "$CA_BUNDLE" "$ctx/etc/ssl/certs/ca-certificates.crt"
  cat >"$work/Containerfile" <<CONTAINERFILE
FROM $DEBIAN_IMAGE
COPY node/ /
RUN groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node
ENV NODE_VERSION=${node_version#v} NODE_EXTRA_CA_CERTS=$CA_BUNDLE
LABEL kvflow.base-inputs="$node_inputs"
CMD ["node"]
CONTAINERFILE
  # shellcheck disable=SC2046
  kv_podman build --quiet $(kv_ulimits) --network host -f "$work/Containerfile" -t "$NODE_IMAGE" "$work" >/dev/null
fi
podman images --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep -E 'debian:bookworm-slim|node:24-bookworm-slim' >&2
