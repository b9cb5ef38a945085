#!/usr/bin/env bash
# Builds the Kubernetes tooling the chart checks use, with Go, at pinned versions: helm, helm-unittest, helmfile
# and task. (Prebuilt downloads are not used: everything comes through the Go module proxy.) Idempotent: a tool
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
BIN_DIR="${KVFLOW_BIN_DIR:-/usr/local/bin}"

command -v go >/dev/null 2>&1 || die "go not found: install Go 1.26.6+ (https://go.dev/doc/install), then rerun"
mkdir -p "$BIN_DIR" 2>/dev/null || true
[ -w "$BIN_DIR" ] || die "$BIN_DIR is not writable: run as root or set KVFLOW_BIN_DIR"

# name, version, module path, command that prints the installed version
install_tool() {
  local name="$1" version="$2" module="$3" version_cmd="$4"
  if [ -x "$BIN_DIR/$name" ] && $version_cmd 2>/dev/null | grep -q -- "${version#v}"; then
    say "$name present: $version"
    return
  fi
  say "building $name $version (go install ${module}@${version}); the first build takes a few minutes"
  local ldflags=""
  # helm reports its version from link-time variables.
  [ "$name" = helm ] && ldflags="-X helm.sh/helm/v3/internal/version.version=${version}"
  GOBIN="$BIN_DIR" go install -ldflags "$ldflags" "${module}@${version}"
}

# Modules whose go.mod carries replace directives, which `go install module@version` refuses: build them from the
# downloaded module source as the main module instead.
# name, version, module, package inside the module, ldflags
build_from_source() {
  local name="$1" version="$2" module="$3" pkg="$4" ldflags="$5"
  # Not every tool prints its version (helm-unittest has no flag for it): read the link flags Go recorded.
  if [ -x "$BIN_DIR/$name" ] && go version -m "$BIN_DIR/$name" 2>/dev/null | grep -- '-ldflags=' | grep -qF -- "$ldflags"; then
    say "$name present: $version"
    return
  fi
  say "building $name $version from its module source; the first build takes a few minutes"
  local src work
  src=$(GONOSUMDB="$module" go mod download -json "${module}@${version}" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  [ -n "$src" ] || die "could not download ${module}@${version}"
  work=$(mktemp -d)
  cp -r "$src/." "$work/" && chmod -R u+w "$work"
  (cd "$work" && go build -ldflags "$ldflags" -o "$BIN_DIR/$name" "$pkg")
  rm -rf "$work"
}

install_tool helm "$HELM_VERSION" helm.sh/helm/v3/cmd/helm "$BIN_DIR/helm version --short"
build_from_source helm-unittest "$HELM_UNITTEST_VERSION" github.com/helm-unittest/helm-unittest ./cmd/helm-unittest \
  "-X github.com/helm-unittest/helm-unittest/internal/build.version=${HELM_UNITTEST_VERSION#v}"
build_from_source helmfile "$HELMFILE_VERSION" github.com/helmfile/helmfile . \
  "-X go.szostok.io/version.version=${HELMFILE_VERSION}"
install_tool task "$TASK_VERSION" github.com/go-task/task/v3/cmd/task "$BIN_DIR/task --version"
