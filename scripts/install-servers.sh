#!/usr/bin/env bash
# Installs the servers kvflow runs against on one machine: redis-server (Debian/Ubuntu package) and nats-server
# (built with Go at a pinned version; Debian's package is too old for the JetStream features we use).
# Idempotent: anything already installed at the right version is left alone.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"

NATS_SERVER_VERSION="${NATS_SERVER_VERSION:-v2.15.2}"
BIN_DIR="${KVFLOW_BIN_DIR:-/usr/local/bin}"



apt_updated=""
apt_install() {
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found: install $* with your package manager"
  if [ -z "$apt_updated" ]; then say "apt-get update"; as_root apt-get update -qq; apt_updated=1; fi
  say "apt-get install $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

if command -v redis-server >/dev/null 2>&1; then
  say "redis-server present: $(redis-server --version | cut -d' ' -f3)"
else
  apt_install redis-server
  # The Debian package starts a system-wide service on :6379; kvflow starts its own servers.
  as_root systemctl disable --now redis-server >/dev/null 2>&1 || true
fi

go_install() { # module@version binary
  local module="$1" binary="$2"
  command -v go >/dev/null 2>&1 || die "go not found: install Go 1.26.6+ (https://go.dev/doc/install), then rerun"
  if [ -w "$BIN_DIR" ]; then step "go install ${module}" env GOBIN="$BIN_DIR" go install "$module"
  else step "go install ${module}" as_root env "PATH=$PATH" GOBIN="$BIN_DIR" GOPATH="$(go env GOPATH)" GOCACHE="$(go env GOCACHE)" go install "$module"; fi
  command -v "$binary" >/dev/null 2>&1 || die "$binary installed in $BIN_DIR, which is not on PATH"
}

if command -v nats-server >/dev/null 2>&1 && [ "$(nats-server --version | awk '{print $2}')" = "$NATS_SERVER_VERSION" ]; then
  say "nats-server present: ${NATS_SERVER_VERSION}"
else
  go_install "github.com/nats-io/nats-server/v2@${NATS_SERVER_VERSION}" nats-server
fi
