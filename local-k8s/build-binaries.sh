#!/usr/bin/env bash
# Builds the binaries the local node runs, from the Go module proxy at the versions pinned in local-k8s/build/* and
# local-k8s/lib.sh: Kubernetes (apiserver, controller-manager, scheduler, kubelet, proxy, kubectl) and CoreDNS, then
# what the infrastructure charts' images hold, at the versions those charts ship (lib.sh says where the proxy made
# it another): KEDA (operator, metrics adapter, webhooks), prometheus-operator (and its config reloader),
# Prometheus, Alertmanager, node_exporter, kube-state-metrics, nats-server and its config reloader (nack), Reloader,
# the sealed-secrets controller and kubeseal; and Valkey (C, from Debian's source package, SHA-256 pinned). One
# build at a time (2 cores). A binary already built with the same version stamp is kept.
# Usage: local-k8s/build-binaries.sh [kubernetes|keda|coredns|infra ...]   (default: all)
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
  work="$K8S_HOME/build/keda@$KEDA_VERSION"
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
  work="$K8S_HOME/build/prometheus-operator@$v"
  if [ ! -f "$work/go.mod" ]; then
    rm -rf "$work" && mkdir -p "$work" && cp -r "$src/." "$work/" && chmod -R u+w "$work"
    (cd "$work" && go mod edit -dropreplace="$m/pkg/client" -dropreplace="$m/pkg/apis/monitoring" &&
      GOFLAGS=-mod=mod go list ./cmd/operator ./cmd/prometheus-config-reloader >/dev/null)
  fi
  build_module "$work" "-s -w -X github.com/prometheus/common/version.Version=${v#v}" \
    prometheus-operator=./cmd/operator prometheus-config-reloader=./cmd/prometheus-config-reloader
}

# A Go module built as the main module, from a copy of its source (its own go.mod, go.sum and replace directives):
# module version ldflags, then "output=./package" pairs.
build_source() {
  local m="$1" v="$2" ld="$3" work
  shift 3
  work="$K8S_HOME/build/$(basename "${m%/v[0-9]*}")@$v"
  if [ ! -f "$work/go.mod" ]; then
    rm -rf "$work" && mkdir -p "$work" && cp -r "$(module_source "$m" "$v")/." "$work/" && chmod -R u+w "$work"
    # A go.work names nested modules a module download leaves out: the module builds alone.
    rm -f "$work/go.work" "$work/go.work.sum"
  fi
  build_module "$work" "$ld" "$@"
}

prom_version() { echo "-s -w -X github.com/prometheus/common/version.Version=${1#v} -X github.com/prometheus/common/version.Branch=HEAD"; }

build_prometheus() {
  build_source github.com/prometheus/prometheus "$PROMETHEUS_MODULE_VERSION" "$(prom_version "$PROMETHEUS_VERSION")" \
    prometheus=./cmd/prometheus
}

# What the infrastructure charts run besides KEDA and prometheus-operator.
build_infra() {
  build_prometheus
  # Alertmanager embeds its web UI (ui/app/dist), which its npm build makes and a module download leaves out: the
  # API and the operator's config reloads need none of it, so one page says so.
  local am="$K8S_HOME/build/alertmanager@$ALERTMANAGER_VERSION"
  if [ ! -d "$am/ui/app/dist" ]; then
    rm -rf "$am" && mkdir -p "$am" && cp -r "$(module_source github.com/prometheus/alertmanager "$ALERTMANAGER_VERSION")/." "$am/"
    chmod -R u+w "$am" && mkdir -p "$am/ui/app/dist"
    echo '<p>Alertmanager web UI not built on the local node (its API serves).</p>' >"$am/ui/app/dist/index.html"
  fi
  build_source github.com/prometheus/alertmanager "$ALERTMANAGER_VERSION" "$(prom_version "$ALERTMANAGER_VERSION")" \
    alertmanager=./cmd/alertmanager
  build_source github.com/prometheus/node_exporter "$NODE_EXPORTER_VERSION" "$(prom_version "$NODE_EXPORTER_VERSION")" \
    node_exporter=.
  build_source k8s.io/kube-state-metrics/v2 "$KUBE_STATE_METRICS_VERSION" \
    "-s -w -X github.com/prometheus/common/version.Version=$KUBE_STATE_METRICS_VERSION" kube-state-metrics=.
  build_source github.com/nats-io/nats-server/v2 "$NATS_NODE_VERSION" "-s -w" nats-server=.
  build_source github.com/nats-io/nack "$NATS_CONFIG_RELOADER_VERSION" \
    "-s -w -X main.Version=${NATS_CONFIG_RELOADER_VERSION#v}" nats-server-config-reloader=./cmd/nats-server-config-reloader
  build_reloader
  build_source github.com/bitnami-labs/sealed-secrets "$SEALED_SECRETS_VERSION" \
    "-s -w -X main.VERSION=${SEALED_SECRETS_VERSION#v}" \
    sealed-secrets-controller=./cmd/controller kubeseal=./cmd/kubeseal
  build_valkey
}

# Reloader v1.4.22 needs github.com/openshift/api at a pseudo-version the proxy refuses (403). It uses that module
# only for OpenShift's DeploymentConfigs, when the cluster serves them; the served v3.9.0+incompatible compiles with
# it (its go.sum entries added by -mod=mod), and Kubernetes Deployments never reach that code.
build_reloader() {
  local m=github.com/stakater/Reloader work="$K8S_HOME/build/Reloader@$RELOADER_VERSION"
  if ! grep -q 'github.com/openshift/api => github.com/openshift/api v3.9.0+incompatible' "$work/go.mod" 2>/dev/null; then
    rm -rf "$work" && mkdir -p "$work" && cp -r "$(module_source "$m" "$RELOADER_VERSION")/." "$work/" && chmod -R u+w "$work"
    (cd "$work" && go mod edit -replace github.com/openshift/api=github.com/openshift/api@v3.9.0+incompatible &&
      GOFLAGS=-mod=mod go list . >/dev/null)
  fi
  build_module "$work" "-s -w" reloader=.
}

# Valkey is C: built from Debian's source package (the upstream release tarball, its SHA-256 from Debian's Sources
# index), the way its Dockerfile builds it, without TLS or systemd.
build_valkey() {
  local v="$VALKEY_VERSION" tarball="$K8S_HOME/build/valkey_$VALKEY_VERSION.orig.tar.gz" dir="$K8S_HOME/build/valkey-$VALKEY_VERSION"
  if [ -x "$K8S_BIN/valkey-server" ] && "$K8S_BIN/valkey-server" --version | grep -qF "v=$v "; then
    say "valkey $v: binaries present"; return
  fi
  mkdir -p "$K8S_HOME/build"
  if ! echo "$VALKEY_SHA256  $tarball" | sha256sum -c --status 2>/dev/null; then
    step "downloading valkey $v (Debian source package)" curl -fsSL --retry 3 -o "$tarball" \
      "https://deb.debian.org/debian/pool/main/v/valkey/valkey_$v.orig.tar.gz"
    echo "$VALKEY_SHA256  $tarball" | sha256sum -c --status || die "valkey_$v.orig.tar.gz: SHA-256 mismatch"
  fi
  rm -rf "$dir" && mkdir -p "$dir" && tar -xzf "$tarball" -C "$dir" --strip-components=1
  step "building valkey $v" make -C "$dir" -j"$(nproc)" BUILD_TLS=no USE_SYSTEMD=no >"$K8S_HOME/build/valkey.log" 2>&1 ||
    die "valkey $v did not build; the last lines of $K8S_HOME/build/valkey.log: $(tail -20 "$K8S_HOME/build/valkey.log")"
  cp "$dir/src/valkey-server" "$dir/src/valkey-cli" "$K8S_BIN/"
  rm -rf "$dir"
}

build_coredns() {
  build_module "$here/build/coredns" "-s -w -X github.com/coredns/coredns/coremain.GitCommit=$COREDNS_VERSION" \
    coredns=github.com/coredns/coredns
}

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(kubernetes keda coredns prometheus-operator infra)
for t in "${targets[@]}"; do
  case "$t" in
    kubernetes) build_kubernetes ;;
    keda) build_keda ;;
    coredns) build_coredns ;;
    prometheus-operator) build_prometheus_operator ;;
    prometheus) build_prometheus ;;
    infra) build_infra ;;
    valkey) build_valkey ;;
    *) die "unknown target: $t (kubernetes, keda, coredns, prometheus-operator, prometheus, infra, valkey)" ;;
  esac
done
