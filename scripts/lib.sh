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
