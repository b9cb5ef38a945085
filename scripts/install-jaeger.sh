#!/usr/bin/env bash
# Builds Jaeger (v2, the all-in-one: an OpenTelemetry collector with in-memory storage and the query API) for the
# tracing tests, the benchmark's tracing phase and `npm run demo -- --tracing`. Its go.mod has replace directives, so
# it is built from the module source. The UI's assets are not in the Go module: the binary serves the query API
# (/api/traces, /api/v3/traces) and a placeholder page. Idempotent. Set KVFLOW_BIN_DIR to install elsewhere.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"

JAEGER_VERSION=v1.75.0
BIN_DIR="${KVFLOW_BIN_DIR:-/usr/local/bin}"
command -v go >/dev/null 2>&1 || die "go not found: install Go 1.26.6+ (https://go.dev/doc/install), then rerun"
mkdir -p "$BIN_DIR" 2>/dev/null || true
[ -w "$BIN_DIR" ] || die "$BIN_DIR is not writable: run as root or set KVFLOW_BIN_DIR"
build_from_source jaeger "$JAEGER_VERSION" github.com/jaegertracing/jaeger ./cmd/jaeger \
  "-X github.com/jaegertracing/jaeger/internal/version.latestVersion=${JAEGER_VERSION}"
