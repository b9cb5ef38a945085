#!/usr/bin/env bash
# Installs what `npm run bench` measures kvflow against: natscli (`nats bench`), built with Go at a pinned version.
# Idempotent: a natscli already at the pinned version is left alone. Set KVFLOW_BIN_DIR to install elsewhere.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"

# The benchmark's tracing phase exports to a real Jaeger.
bash "$(dirname "$0")/install-jaeger.sh"

NATSCLI_VERSION="${NATSCLI_VERSION:-v0.5.1}"
BIN_DIR="${KVFLOW_BIN_DIR:-/usr/local/bin}"

if [ -x "$BIN_DIR/nats" ] && [ "$("$BIN_DIR/nats" --version 2>/dev/null)" = "${NATSCLI_VERSION}" ]; then
  say "natscli present: ${NATSCLI_VERSION}"
  exit 0
fi
command -v go >/dev/null 2>&1 || die "go not found: install Go 1.26.6+ (https://go.dev/doc/install), then rerun"
mkdir -p "$BIN_DIR" 2>/dev/null || true
[ -w "$BIN_DIR" ] || die "$BIN_DIR is not writable: run as root or set KVFLOW_BIN_DIR"
step "building natscli ${NATSCLI_VERSION} (go install github.com/nats-io/natscli/nats)" \
  env GOBIN="$BIN_DIR" go install "github.com/nats-io/natscli/nats@${NATSCLI_VERSION}"
