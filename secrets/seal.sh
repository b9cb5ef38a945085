#!/usr/bin/env bash
# Seals secrets/kvflow-credentials.plain.yaml (git-ignored) into secrets/kvflow-credentials.sealed.yaml, which is
# safe to commit: only the sealed-secrets controller in the cluster can decrypt it. Needs kubeseal and a cluster
# where the controller runs (helmfile installs it as "sealed-secrets-controller" in kube-system, kubeseal's default).
#   secrets/seal.sh [PLAIN [SEALED]]   other files than those two (PLAIN must be git-ignored too)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
abs() { case "$1" in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }

plain="$(abs "${1:-$here/kvflow-credentials.plain.yaml}")"
sealed="$(abs "${2:-$here/kvflow-credentials.sealed.yaml}")"
command -v kubeseal >/dev/null 2>&1 || { echo "kubeseal not found: https://github.com/bitnami-labs/sealed-secrets#kubeseal (on the local node: PATH=.kvflow/k8s/bin:\$PATH)" >&2; exit 1; }
if [ ! -f "$plain" ]; then
  echo "no $plain: copy secrets/kvflow-credentials.example.yaml to secrets/kvflow-credentials.plain.yaml and fill it in (it is git-ignored)" >&2
  exit 2
fi
(cd "$(dirname "$plain")" && git check-ignore -q "$plain") ||
  { echo "$plain is not git-ignored: refusing to continue" >&2; exit 1; }

kubeseal --controller-name sealed-secrets-controller --controller-namespace kube-system \
  --format yaml < "$plain" > "$sealed.tmp"
mv "$sealed.tmp" "$sealed"
echo "wrote $sealed: only the controller can decrypt it (safe to commit); task deploy applies it before the release"
