#!/usr/bin/env bash
# Builds the Kubernetes tooling the chart checks use, with Go, at pinned versions: helm, helm-unittest, helmfile,
# task and helm-docs. (Prebuilt downloads are not used: everything comes through the Go module proxy.) Idempotent: a tool
# already at its pinned version is left alone. Set KVFLOW_BIN_DIR to install elsewhere than /usr/local/bin.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"

HELM_VERSION=v3.22.0
HELM_UNITTEST_VERSION=v1.1.2
# v1.8.0, not v1.4.4: v1.4.4 needs github.com/helmfile/vals v0.43.8, which the Go module proxy refuses (403);
# v1.8.0's vals v0.46.1 is served. The helmfile.yaml here uses nothing newer than v1.x syntax.
HELMFILE_VERSION=v1.8.0
TASK_VERSION=v3.54.0
# Generates charts/kvflow/README.md (scripts/chart-readme.mjs); the README's footer names this version.
HELM_DOCS_VERSION=v1.14.2
BIN_DIR="${KVFLOW_BIN_DIR:-/usr/local/bin}"

command -v go >/dev/null 2>&1 || die "go not found: install Go 1.26.6+ (https://go.dev/doc/install), then rerun"
mkdir -p "$BIN_DIR" 2>/dev/null || true
[ -w "$BIN_DIR" ] || die "$BIN_DIR is not writable: run as root or set KVFLOW_BIN_DIR"

# name, version, module path, command that prints the installed version[, ldflags]
install_tool() {
  local name="$1" version="$2" module="$3" version_cmd="$4" ldflags="${5:-}"
  if [ -x "$BIN_DIR/$name" ] && $version_cmd 2>/dev/null | grep -q -- "${version#v}"; then
    say "$name present: $version"
    return
  fi
  step "building $name $version (go install ${module}@${version})" \
    env GOBIN="$BIN_DIR" go install -ldflags "$ldflags" "${module}@${version}"
}

# helm links in, as its release builds do (its Makefile: `make build` at a tag), its version, git commit and tree
# state, and the Kubernetes version it assumes without a cluster (`helm template`, `helm lint`), derived from the
# k8s.io/client-go it is built with: major + 1, same minor (client-go v0.37.0 -> Kubernetes v1.37.0). `go install`
# alone links none of it, and such a helm assumes Kubernetes v1.20.0, so `helm template` of a chart with
# kubeVersion: ">=1.27.0-0" fails offline. Sets HELM_LDFLAGS and HELM_KUBE_VERSION.
helm_release_ldflags() {
  local version="$1" info gomod client_go commit
  info=$(go mod download -json "helm.sh/helm/v3@${version}") || die "could not download helm.sh/helm/v3@${version}"
  gomod=$(sed -n 's/.*"GoMod": "\(.*\)".*/\1/p' <<<"$info")
  # The `Makefile`'s `go list -m k8s.io/client-go` is the version go.mod requires (a tidy go.mod lists every module).
  client_go=$(awk '{ for (i = 1; i < NF; i++) if ($i == "k8s.io/client-go") print $(i + 1) }' "$gomod" | head -1)
  [[ "$client_go" =~ ^v([0-9]+)\.([0-9]+)\. ]] || die "no k8s.io/client-go version in $gomod (got '$client_go')"
  local k8s_major=$((BASH_REMATCH[1] + 1)) k8s_minor="${BASH_REMATCH[2]}"
  HELM_KUBE_VERSION="v${k8s_major}.${k8s_minor}.0"
  # The tag's commit, when the module proxy reports the origin (proxy.golang.org's .info does not always): else
  # `helm version` shows an empty GitCommit, as with any `go install`.
  commit=$(sed -n 's/.*"Hash": "\([0-9a-f]\{40\}\)".*/\1/p' <<<"$info" | head -1)
  local v=helm.sh/helm/v3/internal/version
  HELM_LDFLAGS="-w -s -X $v.version=${version} -X $v.metadata="
  [ -z "$commit" ] || HELM_LDFLAGS+=" -X $v.gitCommit=${commit}"
  HELM_LDFLAGS+=" -X $v.gitTreeState=clean"
  local pkg
  for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
    HELM_LDFLAGS+=" -X $pkg.k8sVersionMajor=${k8s_major} -X $pkg.k8sVersionMinor=${k8s_minor}"
  done
}

# The Kubernetes version a helm assumes offline, from a throwaway chart that needs kubeVersion >= 1.27 (the
# chart's own floor) and prints .Capabilities.KubeVersion; empty if that chart does not render.
helm_default_kube_version() {
  local chart
  chart=$(mktemp -d)
  mkdir "$chart/templates"
  printf 'apiVersion: v2\nname: kube-version-probe\nversion: 0.1.0\nkubeVersion: ">=1.27.0-0"\n' >"$chart/Chart.yaml"
  printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: probe\ndata:\n  kube: {{ .Capabilities.KubeVersion.Version | quote }}\n' \
    >"$chart/templates/probe.yaml"
  "$1" template probe "$chart" 2>/dev/null | sed -n 's/^ *kube: "\(.*\)"$/\1/p'
  rm -rf "$chart"
}

install_helm() {
  local version="$1" bin="$BIN_DIR/helm" kube
  helm_release_ldflags "$version"
  if [ -x "$bin" ] && "$bin" version --short 2>/dev/null | grep -q -- "^${version}"; then
    kube=$(helm_default_kube_version "$bin")
    if [ "$kube" = "$HELM_KUBE_VERSION" ]; then
      say "helm present: $version (default Kubernetes $kube)"
      return
    fi
    # A helm from a bare `go install` assumes v1.20.0: the probe chart does not render, so kube is empty.
    say "helm $version present but built without its release link flags (default Kubernetes ${kube:-below 1.27}, not $HELM_KUBE_VERSION): rebuilding"
  fi
  step "building helm $version (go install with helm's release ldflags)" \
    env CGO_ENABLED=0 GOBIN="$BIN_DIR" go install -trimpath -ldflags "$HELM_LDFLAGS" "helm.sh/helm/v3/cmd/helm@${version}"
  kube=$(helm_default_kube_version "$bin")
  [ "$kube" = "$HELM_KUBE_VERSION" ] || die "rebuilt helm assumes Kubernetes '${kube}', not $HELM_KUBE_VERSION"
  say "helm $version built: default Kubernetes $kube"
}

install_helm "$HELM_VERSION"
build_from_source helm-unittest "$HELM_UNITTEST_VERSION" github.com/helm-unittest/helm-unittest ./cmd/helm-unittest \
  "-X github.com/helm-unittest/helm-unittest/internal/build.version=${HELM_UNITTEST_VERSION#v}"
build_from_source helmfile "$HELMFILE_VERSION" github.com/helmfile/helmfile . \
  "-X go.szostok.io/version.version=${HELMFILE_VERSION}"
install_tool task "$TASK_VERSION" github.com/go-task/task/v3/cmd/task "$BIN_DIR/task --version"
# helm-docs has no version flag; its releases (goreleaser) link main.version, which the README footer prints.
helm_docs_version() { go version -m "$BIN_DIR/helm-docs" 2>/dev/null | sed -n 's/.*-X main\.version=\([^ ]*\).*/\1/p'; }
install_tool helm-docs "$HELM_DOCS_VERSION" github.com/norwoodj/helm-docs/cmd/helm-docs helm_docs_version \
  "-X main.version=${HELM_DOCS_VERSION#v}"
