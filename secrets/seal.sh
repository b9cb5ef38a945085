#!/usr/bin/env bash
# Seals secrets/kvflow-credentials.plain.yaml (git-ignored) into secrets/kvflow-credentials.sealed.yaml, which is
# safe to commit: only the sealed-secrets controller in the cluster can decrypt it. Needs kubeseal and a cluster
# where the controller runs (helmfile installs it as "sealed-secrets-controller" in kube-system, kubeseal's default).
set -euo pipefail
cd "$(dirname "$0")"

plain=kvflow-credentials.plain.yaml
sealed=kvflow-credentials.sealed.yaml
command -v kubeseal >/dev/null 2>&1 || { echo "kubeseal not found: https://github.com/bitnami-labs/sealed-secrets#kubeseal" >&2; exit 1; }
if [ ! -f "$plain" ]; then
  echo "no $plain: copy kvflow-credentials.example.yaml to $plain and fill it in (it is git-ignored)" >&2
  exit 2
fi
git check-ignore -q "$plain" || { echo "$plain is not git-ignored: refusing to continue" >&2; exit 1; }

kubeseal --controller-name sealed-secrets-controller --controller-namespace kube-system \
  --format yaml < "$plain" > "$sealed.tmp"
mv "$sealed.tmp" "$sealed"
echo "wrote secrets/$sealed: commit it; task deploy applies it before the release"
