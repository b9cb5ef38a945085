#!/usr/bin/env bash
# Builds the kvflow-producer and kvflow-consumer images from the Dockerfile (one target each), unchanged, with podman (or docker
# when podman is absent). Where the base image cannot be pulled (no registry reachable), it is made locally first
# (scripts/make-base-images.sh).
# Usage: scripts/build-images.sh REPOSITORY TAG      e.g. scripts/build-images.sh localhost/kvflow dev
# Prints each image's name and size. --push pushes them after the build (registry mode).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"
root="$(cd "$(dirname "$0")/.." && pwd)"

push=0 args=()
for arg in "$@"; do
  case $arg in
    --push) push=1 ;;
    -*) die "unknown option: $arg (usage: scripts/build-images.sh REPOSITORY TAG [--push])" ;;
    *) args+=("$arg") ;;
  esac
done
[ ${#args[@]} -eq 2 ] || die "usage: scripts/build-images.sh REPOSITORY TAG [--push]   e.g. localhost/kvflow dev"
repo="${args[0]%/}" tag="${args[1]}"
[[ $tag =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || die "TAG '$tag' is not a valid image tag (letters, digits, _ . -)"

if command -v podman >/dev/null 2>&1; then
  engine=podman
  base=docker.io/library/node:24-bookworm-slim
  if ! podman image exists "$base" && ! kv_podman pull -q "$base" >/dev/null 2>&1; then
    say "$base cannot be pulled here: making it locally"
    bash "$root/scripts/make-base-images.sh"
  fi
  # shellcheck disable=SC2046
  build() { kv_podman build $(kv_ulimits) --network host "$@"; }
elif command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
  engine=docker
  build() { docker build "$@"; }
else
  die "neither podman nor a running docker found: install podman (apt-get install podman runc) or docker"
fi

for component in producer consumer; do
  image="$repo/kvflow-$component:$tag"
  say "building $image with $engine"
  start=$SECONDS
  build -f "$root/Dockerfile" --target "$component" --build-arg "SERVICE=$component" -t "$image" "$root"
  size="$($engine image inspect --format '{{.Size}}' "$image")"
  say "$image built in $((SECONDS - start)) s, $((size / 1000000)) MB"
  if [ "$push" = 1 ]; then $engine push "$image"; fi
done
