# Helpers shared by the install scripts (sourced, not run).
say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else die "need root (or sudo) to run: $*"; fi
}

# podman as this kind of machine needs it: runc (crun refuses hybrid cgroup v1/v2 mounts), cgroupfs (no systemd),
# and explicit ulimits: podman's defaults are above this machine's hard limits, and raising a limit needs
# CAP_SYS_RESOURCE, which a VM like this one lacks. nofile = this shell's hard limit; nproc 32768 because runc here
# refused every value from 65536 up to the shell's hard limit (96365) with "error setting rlimit type 6".
kv_podman() { podman --runtime runc --cgroup-manager=cgroupfs "$@"; }
kv_ulimits() { printf -- '--ulimit=nofile=%s:%s --ulimit=nproc=32768:32768' "$(ulimit -Hn)" "$(ulimit -Hn)"; }

# Runs a long step with a heartbeat on stderr: a line every 15 s (KV_HEARTBEAT_S) with the step, the time so far and, when this
# machine ran the step before, how long it took then (kept in .kvflow/timings/).  usage: step "label" cmd [args...]
KV_TIMINGS=${KV_TIMINGS:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.kvflow/timings}
step() {
  local label=$1 key last='' start rc=0 beat
  shift
  key=$(printf '%s' "$label" | tr -c 'A-Za-z0-9._-' '_')
  [ -f "$KV_TIMINGS/$key" ] && last=$(cat "$KV_TIMINGS/$key")
  [[ $last =~ ^[0-9]+$ ]] && [ "$last" -ge 5 ] || last='' # a step that was quick last time needs no forecast
  say "$label${last:+ (took $last s here last time)}"
  start=$(date +%s)
  (
    while sleep "${KV_HEARTBEAT_S:-15}" && kill -0 $$ 2>/dev/null; do
      printf '    ... %s: %s s%s\n' "$label" "$(($(date +%s) - start))" "${last:+ of about $last s}" >&2
    done
  ) &
  beat=$!
  "$@" || rc=$?
  kill "$beat" 2>/dev/null || true
  wait "$beat" 2>/dev/null || true
  if [ "$rc" = 0 ]; then
    mkdir -p "$KV_TIMINGS" 2>/dev/null && echo "$(($(date +%s) - start))" >"$KV_TIMINGS/$key" 2>/dev/null || true
  fi
  return "$rc"
}

# Modules whose go.mod carries replace directives, which `go install module@version` refuses: build them from the
# downloaded module source as the main module instead.
# name, version, module, package inside the module, ldflags; installs into $BIN_DIR
build_from_source() {
  local name="$1" version="$2" module="$3" pkg="$4" ldflags="$5"
  # Not every tool prints its version (helm-unittest has no flag for it): read the link flags Go recorded.
  if [ -x "$BIN_DIR/$name" ] && go version -m "$BIN_DIR/$name" 2>/dev/null | grep -- '-ldflags=' | grep -qF -- "$ldflags"; then
    say "$name present: $version"
    return
  fi
  say "building $name $version from its module source"
  local src work
  src=$(GONOSUMDB="$module" go mod download -json "${module}@${version}" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  [ -n "$src" ] || die "could not download ${module}@${version}"
  work=$(mktemp -d)
  cp -r "$src/." "$work/" && chmod -R u+w "$work"
  step "building $name $version" go -C "$work" build -ldflags "$ldflags" -o "$BIN_DIR/$name" "$pkg"
  rm -rf "$work"
}
