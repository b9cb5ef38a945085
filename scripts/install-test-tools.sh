#!/usr/bin/env bash
# Installs what the test suite needs beyond the servers: Debian's Chromium (the scaling report is checked in a
# headless browser), Debian's Prometheus (dashboard queries are run against it), and the Go-built chart tools
# (scripts/install-k8s-tools.sh). Idempotent.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"


missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
if [ ${#missing[@]} -eq 0 ]; then
  say "chromium and prometheus present"
else
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found: install ${missing[*]} with your package manager"
  say "apt-get install ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  # The Debian package may start a system-wide Prometheus on :9090; the tests start their own.
  as_root systemctl disable --now prometheus prometheus-node-exporter >/dev/null 2>&1 || true
fi

bash "$(dirname "$0")/install-k8s-tools.sh"

bash "$(dirname "$0")/install-jaeger.sh"
