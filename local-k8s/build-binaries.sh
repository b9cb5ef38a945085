#!/usr/bin/env bash
# Builds the Go binaries the local node runs, from the Go module proxy at the versions pinned in local-k8s/build/*:
# Kubernetes (apiserver, controller-manager, scheduler, kubelet, proxy, kubectl), KEDA (operator, metrics adapter,
# webhooks), CoreDNS, prometheus-operator (and its config reloader), Prometheus. One build at a time (2 cores). A binary already built with the same version stamp is kept.
# Usage: local-k8s/build-binaries.sh [kubernetes|keda|coredns ...]   (default: all)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=local-k8s/lib.sh
source "$here/lib.sh"

command -v go >/dev/null 2>&1 || die "go not found: install Go 1.26.6+ (https://go.dev/doc/install), then rerun"
mkdir -p "$K8S_BIN"
export CGO_ENABLED=0

# module folder, ldflags, then "output=package" pairs
build_module() {
  local dir="$1" ldflags="$2"; shift 2
  local pair out pkg todo=() stamp
  # What a binary was built from (-trimpath keeps the link flags out of Go's build info, so a stamp file says it).
  stamp="$(cat "$dir/go.mod" "$dir/go.sum" | sha256sum | cut -c1-16) $ldflags"
  mkdir -p "$K8S_BIN/.stamps"
  for pair in "$@"; do
    out="${pair%%=*}"
    if [ -x "$K8S_BIN/$out" ] && [ "$(cat "$K8S_BIN/.stamps/$out" 2>/dev/null)" = "$pair $stamp" ]; then
      continue
    fi
    todo+=("$pair")
  done
  if [ ${#todo[@]} -eq 0 ]; then say "$(basename "$dir"): binaries present"; return; fi
  for pair in "${todo[@]}"; do
    out="${pair%%=*}"; pkg="${pair#*=}"
    local start=$SECONDS
    step "building $out ($pkg)" go -C "$dir" build -trimpath -ldflags "$ldflags" -o "$K8S_BIN/$out" "$pkg"
    echo "$pair $stamp" >"$K8S_BIN/.stamps/$out"
    say "$out built in $((SECONDS - start)) s"
  done
}

build_kubernetes() {
  local v="$KUBERNETES_VERSION" minor
  minor="$(echo "$v" | cut -d. -f2)"
  local ld=""
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $p.gitVersion=$v -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
  done
  build_module "$here/build/kubernetes" "-s -w$ld" \
    kube-apiserver=k8s.io/kubernetes/cmd/kube-apiserver \
    kube-controller-manager=k8s.io/kubernetes/cmd/kube-controller-manager \
    kube-scheduler=k8s.io/kubernetes/cmd/kube-scheduler \
    kubelet=k8s.io/kubernetes/cmd/kubelet \
    kube-proxy=k8s.io/kubernetes/cmd/kube-proxy \
    kubectl=k8s.io/kubernetes/cmd/kubectl
}

# KEDA's go.mod carries replace directives, which `go install module@version` refuses: build from a copy of the
# module source as the main module. The source also holds the manifests (config/) the node installs KEDA from.
build_keda() {
  local src work ld="-s -w -X github.com/kedacore/keda/v2/version.Version=${KEDA_VERSION#v} -X github.com/kedacore/keda/v2/version.GitCommit=$KEDA_VERSION"
  src="$(module_source github.com/kedacore/keda/v2 "$KEDA_VERSION")"
  work="$K8S_HOME/build/keda"
  if [ ! -f "$work/go.mod" ]; then
    rm -rf "$work" && mkdir -p "$work" && cp -r "$src/." "$work/" && chmod -R u+w "$work"
  fi
  build_module "$work" "$ld" \
    keda-operator=./cmd/operator keda-adapter=./cmd/adapter keda-admission-webhooks=./cmd/webhooks
}

# prometheus-operator's go.mod replaces two of its nested modules (pkg/apis/monitoring, pkg/client) with folders of
# its repository, which a module download leaves out: build from a copy of the module source with those two taken
# from the proxy at the same version instead. Its CRDs come from the same source (example/prometheus-operator-crd).
build_prometheus_operator() {
  local src work v="$PROMETHEUS_OPERATOR_VERSION" m=github.com/prometheus-operator/prometheus-operator
  src="$(module_source "$m" "$v")"
  work="$K8S_HOME/build/prometheus-operator"
  if [ ! -f "$work/go.mod" ]; then
    rm -rf "$work" && mkdir -p "$work" && cp -r "$src/." "$work/" && chmod -R u+w "$work"
    (cd "$work" && go mod edit -dropreplace="$m/pkg/client" -dropreplace="$m/pkg/apis/monitoring" &&
      GOFLAGS=-mod=mod go list ./cmd/operator ./cmd/prometheus-config-reloader >/dev/null)
  fi
  build_module "$work" "-s -w -X github.com/prometheus/common/version.Version=${v#v}" \
    prometheus-operator=./cmd/operator prometheus-config-reloader=./cmd/prometheus-config-reloader
}

build_prometheus() {
  build_module "$here/build/prometheus" "-s -w -X github.com/prometheus/common/version.Version=${PROMETHEUS_VERSION#v} -X github.com/prometheus/common/version.Branch=HEAD" \
    prometheus=github.com/prometheus/prometheus/cmd/prometheus
}

build_coredns() {
  build_module "$here/build/coredns" "-s -w -X github.com/coredns/coredns/coremain.GitCommit=$COREDNS_VERSION" \
    coredns=github.com/coredns/coredns
}

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(kubernetes keda coredns prometheus-operator prometheus)
for t in "${targets[@]}"; do
  case "$t" in
    kubernetes) build_kubernetes ;;
    keda) build_keda ;;
    coredns) build_coredns ;;
    prometheus-operator) build_prometheus_operator ;;
    prometheus) build_prometheus ;;
    *) die "unknown target: $t (kubernetes, keda, coredns, prometheus-operator, prometheus)" ;;
  esac
done
