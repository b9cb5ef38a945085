#!/usr/bin/env bash
# A real single-node Kubernetes on this machine, from pinned sources: etcd (Debian), kube-apiserver,
# kube-controller-manager, kube-scheduler, kubelet, kube-proxy (built by local-k8s/build-binaries.sh), containerd +
# runc + the CNI bridge plugin (Debian), then CoreDNS and the infra helmfile's releases from the upstream chart
# copies: kube-prometheus-stack, nats, valkey, keda, reloader, sealed-secrets (local-k8s/addons.sh).
#
#   local-k8s/local-k8s.sh up       build what is missing, start the node, install the add-ons; prints the kubeconfig
#                                   (--node-only: Kubernetes alone, no add-ons)
#   local-k8s/local-k8s.sh status   what runs, node and pods
#   local-k8s/local-k8s.sh down     stop everything and put the machine back as `up` found it
#   local-k8s/local-k8s.sh load IMAGE...   copy images from podman's store into the node
#
# Everything lives under .kvflow/k8s/ (KVFLOW_K8S_HOME): binaries, certificates, etcd data, containerd's root and
# socket, the kubelet's root, logs (logs/*.log) and the kubeconfig (kubeconfig). containerd and its CNI config are
# kept apart from podman's. `up` records the sysctls and iptables rules it will change; `down` restores them.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=local-k8s/lib.sh
source "$here/lib.sh"


PKI="$K8S_HOME/pki"
LOGS="$K8S_HOME/logs"
RUN="$K8S_HOME/run"
CONTAINERD_SOCK="$K8S_HOME/containerd/containerd.sock"
KUBECONFIG_ADMIN="$K8S_HOME/kubeconfig"
SAVED="$K8S_HOME/saved"
# The sysctls the kubelet, kube-proxy and this script set.
SYSCTLS=(kernel.panic kernel.panic_on_oops vm.overcommit_memory vm.panic_on_oom kernel.keys.root_maxkeys
  kernel.keys.root_maxbytes net.ipv4.ip_forward net.ipv4.conf.all.route_localnet net.bridge.bridge-nf-call-iptables
  net.bridge.bridge-nf-call-ip6tables net.netfilter.nf_conntrack_max
  net.netfilter.nf_conntrack_tcp_timeout_established net.netfilter.nf_conntrack_tcp_timeout_close_wait)
IPTABLES_TABLES=(filter nat mangle raw)

kubectl_() { "$K8S_BIN/kubectl" --kubeconfig "$KUBECONFIG_ADMIN" "$@"; }

# ---------------------------------------------------------------------------------------------------------------
# Certificates: one cluster CA for every client and server, a second CA for the aggregation layer's front proxy
# (the KEDA metrics API server trusts requests the apiserver forwards with it), a service-account key pair.

cert() { # name CN O [SANs] [ca-prefix]
  local name="$1" cn="$2" org="$3" sans="${4:-}" ca="${5:-ca}"
  [ -f "$PKI/$name.crt" ] && return
  openssl genrsa -out "$PKI/$name.key" 2048 2>/dev/null
  local subj="/CN=$cn" ext="$PKI/$name.ext"
  [ -n "$org" ] && subj="/O=$org$subj"
  {
    echo "basicConstraints=CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    if [ -n "$sans" ]; then echo "extendedKeyUsage=serverAuth,clientAuth"; echo "subjectAltName=$sans"
    else echo "extendedKeyUsage=clientAuth"; fi
  } >"$ext"
  openssl req -new -key "$PKI/$name.key" -subj "$subj" -out "$PKI/$name.csr" 2>/dev/null
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/$ca.crt" -CAkey "$PKI/$ca.key" -CAcreateserial -days 365 \
    -extfile "$ext" -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$PKI/$name.csr" "$ext"
}

ca() { # name CN
  [ -f "$PKI/$1.crt" ] && return
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$PKI/$1.key" -out "$PKI/$1.crt" -days 3650 -subj "/CN=$2" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" 2>/dev/null
}

kubeconfig() { # file user-cert
  local file="$K8S_HOME/$1.kubeconfig" name="$2"
  [ "$1" = admin ] && file="$KUBECONFIG_ADMIN"
  [ -f "$file" ] && return
  cat >"$file" <<EOF
apiVersion: v1
kind: Config
clusters:
  - name: kvflow-local
    cluster:
      server: https://$NODE_IP:$APISERVER_PORT
      certificate-authority: $PKI/ca.crt
users:
  - name: $name
    user:
      client-certificate: $PKI/$name.crt
      client-key: $PKI/$name.key
contexts:
  - name: kvflow-local
    context: { cluster: kvflow-local, user: $name }
current-context: kvflow-local
EOF
}

make_pki() {
  mkdir -p "$PKI"
  ca ca kvflow-local-ca
  ca front-proxy-ca kvflow-local-front-proxy-ca
  local sans="DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  sans+=",DNS:localhost,IP:127.0.0.1,IP:$NODE_IP,IP:$SERVICE_IP"
  cert apiserver kube-apiserver "" "$sans"
  cert apiserver-kubelet-client kube-apiserver-kubelet-client system:masters
  cert admin kubernetes-admin system:masters
  cert controller-manager system:kube-controller-manager ""
  cert scheduler system:kube-scheduler ""
  cert kubelet "system:node:$NODE_NAME" system:nodes
  cert kubelet-serving "system:node:$NODE_NAME" system:nodes "DNS:$NODE_NAME,IP:$NODE_IP,IP:127.0.0.1"
  cert proxy system:kube-proxy ""
  cert front-proxy-client front-proxy-client "" "" front-proxy-ca
  [ -f "$PKI/sa.key" ] || { openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null && openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null; }
  kubeconfig admin admin
  kubeconfig controller-manager controller-manager
  kubeconfig scheduler scheduler
  kubeconfig kubelet kubelet
  kubeconfig proxy proxy
}

# ---------------------------------------------------------------------------------------------------------------
# Processes: each runs in the background with its log in logs/ and its pid in run/.

start() { # name command...
  local name="$1"; shift
  if is_running "$name"; then return; fi
  "$@" >>"$LOGS/$name.log" 2>&1 &
  echo $! >"$RUN/$name.pid"
}

# (grep reads all of ip's output: `grep -q` could exit first and, with pipefail, fail the pipeline on SIGPIPE.)
node_ip_on_lo() { ip -o addr show dev lo | grep -F " $NODE_IP/" >/dev/null; }

is_running() { [ -f "$RUN/$1.pid" ] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }

# The node's address on lo, or its CNI network's rules, with none of a node's processes alive anywhere: a run killed before its `down` (a
# session ended, a VM snapshot). What it left on the machine would break this `up` and is cleared: the address,
# the bridge, its containers' shims, and the iptables rules of kube-proxy, the kubelet (KUBE-*) and of its CNI
# network ("kvflow"), and the sysctls the kubelet and kube-proxy change (to the kernel's defaults).
clear_stale_node() {
  say "a local node left its address or rules, and none runs (a run stopped without 'down'): clearing what it left"
  pkill -9 -f 'containerd-shim-runc-v2 .*-address .*/k8s/containerd/containerd.sock' 2>/dev/null || true
  ip link delete "$BRIDGE" 2>/dev/null || true
  ip addr del "$NODE_IP/32" dev lo 2>/dev/null || true
  local cmd t dump chains
  for cmd in iptables ip6tables; do
    command -v "$cmd-save" >/dev/null 2>&1 || continue
    for t in nat filter mangle; do
      dump=$("$cmd-save" -t "$t" 2>/dev/null) || continue
      # The CNI plugin's per-container chains are those its rules, commented with the network's name, jump to.
      chains=$(printf '%s\n' "$dump" | grep -F 'name: \"kvflow\"' | grep -oE 'CNI-[0-9a-f]+' | sort -u | paste -sd'|' -)
      printf '%s\n' "$dump" | grep -qE "KUBE-|kvflow${chains:+|$chains}" || continue
      printf '%s\n' "$dump" | grep -vE "KUBE-|kvflow${chains:+|$chains}" | "$cmd-restore" ||
        echo "warning: could not clear the old node's $cmd rules in table $t" >&2
    done
  done
  # Its record of the sysctls went with it: the ones the kubelet and kube-proxy set go back to the kernel's own
  # defaults (kernel.panic to the boot command line's panic=), so this up records the machine's, not the old node's.
  local panic
  panic=$(grep -o 'panic=[0-9-]*' /proc/cmdline | head -1 | cut -d= -f2)
  sysctl -q -w kernel.panic_on_oops=0 kernel.panic="${panic:-0}" vm.overcommit_memory=0 vm.panic_on_oom=0 \
    net.ipv4.conf.all.route_localnet=0 2>/dev/null || echo "warning: could not reset the old node's sysctls" >&2
  echo "warning: net.ipv4.ip_forward stays as it is (podman sets it too)" >&2
}

wait_for() { # what seconds command...
  local what="$1" seconds="$2"; shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then
      die "$what not ready after ${seconds}s; see $LOGS/ (last lines of the newest log: $(ls -t "$LOGS"/*.log | head -1 | xargs tail -5 | tr '\n' ' '))"
    fi
    sleep 1
  done
}

stop() { # name
  local pid
  [ -f "$RUN/$1.pid" ] || return 0
  pid="$(cat "$RUN/$1.pid")"
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$RUN/$1.pid"
}

# ---------------------------------------------------------------------------------------------------------------
# What `up` changes on the machine, recorded once before the first change and restored by `down`.

save_machine_state() {
  [ -d "$SAVED" ] && return
  mkdir -p "$SAVED.tmp"
  local key
  for key in "${SYSCTLS[@]}"; do
    sysctl -n "$key" >/dev/null 2>&1 && echo "$key=$(sysctl -n "$key")" >>"$SAVED.tmp/sysctl.conf"
  done
  for t in "${IPTABLES_TABLES[@]}"; do
    iptables-save -t "$t" >"$SAVED.tmp/iptables-$t.rules" 2>/dev/null || rm -f "$SAVED.tmp/iptables-$t.rules"
    ip6tables-save -t "$t" >"$SAVED.tmp/ip6tables-$t.rules" 2>/dev/null || rm -f "$SAVED.tmp/ip6tables-$t.rules"
  done
  ip netns list 2>/dev/null | awk '{print $1}' >"$SAVED.tmp/netns"
  mv "$SAVED.tmp" "$SAVED"
}

restore_machine_state() {
  [ -d "$SAVED" ] || return 0
  local line
  while IFS= read -r line; do
    sysctl -q -w "$line" >/dev/null 2>&1 || echo "warning: could not restore sysctl $line" >&2
  done <"$SAVED/sysctl.conf"
  local t cmd
  for cmd in iptables ip6tables; do
    for t in "${IPTABLES_TABLES[@]}"; do
      if [ -s "$SAVED/$cmd-$t.rules" ]; then
        "$cmd-restore" <"$SAVED/$cmd-$t.rules" || echo "warning: could not restore $cmd table $t" >&2
      else
        "$cmd" -t "$t" -F 2>/dev/null || true
        "$cmd" -t "$t" -X 2>/dev/null || true
      fi
    done
  done
  local ns
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
    case "$ns" in cni-*) grep -qxF "$ns" "$SAVED/netns" || ip netns delete "$ns" 2>/dev/null || true ;; esac
  done
  rm -rf "$SAVED"
}

# ---------------------------------------------------------------------------------------------------------------

write_configs() {
  mkdir -p "$K8S_HOME/containerd" "$K8S_HOME/cni/net.d" "$K8S_HOME/kubelet"
  cat >"$K8S_HOME/containerd/config.toml" <<EOF
version = 2
root = "$K8S_HOME/containerd/root"
state = "$K8S_HOME/containerd/state"
[grpc]
  address = "$CONTAINERD_SOCK"
[ttrpc]
  address = "$K8S_HOME/containerd/containerd.sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$K8S_HOME/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # This VM lacks CAP_SYS_RESOURCE: a negative oom_score_adj (which the kubelet asks for) fails every sandbox.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
    snapshotter = "overlayfs"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$K8S_HOME/cni/net.d"
EOF
  cat >"$K8S_HOME/cni/net.d/10-kvflow.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "kvflow",
  "plugins": [
    {
      "type": "bridge", "bridge": "$BRIDGE", "isGateway": true, "ipMasq": true, "hairpinMode": true,
      "ipam": {
        "type": "host-local", "dataDir": "$K8S_HOME/cni/ipam",
        "ranges": [[{ "subnet": "$POD_CIDR" }]], "routes": [{ "dst": "0.0.0.0/0" }]
      }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
EOF
  cat >"$K8S_HOME/kubelet/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
# This VM has swap settings and cgroup v1 (hybrid) mounts the kubelet refuses by default.
failSwapOn: false
failCgroupV1: false
containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
address: $NODE_IP
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
tlsCertFile: $PKI/kubelet-serving.crt
tlsPrivateKeyFile: $PKI/kubelet-serving.key
authentication:
  anonymous: { enabled: false }
  webhook: { enabled: true }
  x509: { clientCAFile: $PKI/ca.crt }
authorization: { mode: Webhook }
clusterDomain: cluster.local
clusterDNS: [$DNS_IP]
resolvConf: /etc/resolv.conf
podCIDR: $POD_CIDR
serializeImagePulls: false
# Mounted Secrets and ConfigMaps (Prometheus' generated config) reach pods within seconds instead of up to a minute.
syncFrequency: 10s
# A development node: keep pods running on a busy disk, and let images stay.
imageGCHighThresholdPercent: 100
evictionHard: { memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1% }
EOF
  cat >"$K8S_HOME/proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clusterCIDR: $CLUSTER_CIDR
hostnameOverride: $NODE_NAME
bindAddress: 127.0.0.1
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
clientConnection: { kubeconfig: $K8S_HOME/proxy.kubeconfig }
# 0: leave the machine's conntrack table size alone.
conntrack: { maxPerCore: 0 }
EOF
}

start_node() {
  mkdir -p "$LOGS" "$RUN"
  node_ip_on_lo || ip addr add "$NODE_IP/32" dev lo
  sysctl -q -w net.ipv4.ip_forward=1
  sysctl -q -w net.bridge.bridge-nf-call-iptables=1 2>/dev/null || true
  sysctl -q -w net.bridge.bridge-nf-call-ip6tables=1 2>/dev/null || true

  # Progress notifications every second: the API server's watch cache of a quiet resource (say, the pods of one
  # namespace) otherwise lags etcd's revision, and a watch without resourceVersion fails with "Too large resource
  # version" (504) until something in it changes. (etcd's default interval is 10 minutes.)
  start etcd etcd --name kvflow-local --data-dir "$K8S_HOME/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls http://127.0.0.1:12380 --initial-advertise-peer-urls http://127.0.0.1:12380 \
    --initial-cluster kvflow-local=http://127.0.0.1:12380 \
    --experimental-watch-progress-notify-interval=1s
  wait_for etcd 30 curl -sf "http://127.0.0.1:$ETCD_PORT/health"

  start kube-apiserver "$K8S_BIN/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
    --advertise-address "$NODE_IP" --bind-address 0.0.0.0 --secure-port "$APISERVER_PORT" \
    --service-cluster-ip-range "$SERVICE_CIDR" --allow-privileged=true \
    --authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction \
    --client-ca-file "$PKI/ca.crt" --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
    --kubelet-client-certificate "$PKI/apiserver-kubelet-client.crt" \
    --kubelet-client-key "$PKI/apiserver-kubelet-client.key" --kubelet-certificate-authority "$PKI/ca.crt" \
    --kubelet-preferred-address-types InternalIP \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
    --requestheader-client-ca-file "$PKI/front-proxy-ca.crt" --requestheader-allowed-names front-proxy-client \
    --requestheader-username-headers X-Remote-User --requestheader-group-headers X-Remote-Group \
    --requestheader-extra-headers-prefix X-Remote-Extra- \
    --proxy-client-cert-file "$PKI/front-proxy-client.crt" --proxy-client-key-file "$PKI/front-proxy-client.key" \
    --enable-aggregator-routing=true
  wait_for kube-apiserver 90 kubectl_ get --raw /readyz

  local hpa_flags
  hpa_flags="$(node "$here/hpa-flags.mjs")" || die "could not read autoscaling.hpa from the chart values (npm install first)"
  # shellcheck disable=SC2086
  start kube-controller-manager "$K8S_BIN/kube-controller-manager" \
    --kubeconfig "$K8S_HOME/controller-manager.kubeconfig" --leader-elect=false \
    --bind-address 127.0.0.1 --secure-port 10257 \
    --authentication-kubeconfig "$K8S_HOME/controller-manager.kubeconfig" \
    --authorization-kubeconfig "$K8S_HOME/controller-manager.kubeconfig" \
    --service-account-private-key-file "$PKI/sa.key" --root-ca-file "$PKI/ca.crt" \
    --cluster-signing-cert-file "$PKI/ca.crt" --cluster-signing-key-file "$PKI/ca.key" \
    --use-service-account-credentials=true --service-cluster-ip-range "$SERVICE_CIDR" \
    --cluster-cidr "$CLUSTER_CIDR" --allocate-node-cidrs=false \
    $hpa_flags
  start kube-scheduler "$K8S_BIN/kube-scheduler" --kubeconfig "$K8S_HOME/scheduler.kubeconfig" \
    --authentication-kubeconfig "$K8S_HOME/scheduler.kubeconfig" \
    --authorization-kubeconfig "$K8S_HOME/scheduler.kubeconfig" \
    --leader-elect=false --bind-address 127.0.0.1 --secure-port 10259

  start containerd containerd --config "$K8S_HOME/containerd/config.toml"
  wait_for containerd 30 test -S "$CONTAINERD_SOCK"
  import_images

  start kubelet "$K8S_BIN/kubelet" --config "$K8S_HOME/kubelet/config.yaml" \
    --kubeconfig "$K8S_HOME/kubelet.kubeconfig" --root-dir "$K8S_HOME/kubelet/root" \
    --hostname-override "$NODE_NAME" --node-ip "$NODE_IP"
  start kube-proxy "$K8S_BIN/kube-proxy" --config "$K8S_HOME/proxy.yaml"
  wait_for "node $NODE_NAME Ready" 120 kubectl_ wait --for=condition=Ready "node/$NODE_NAME" --timeout=2s
}

# Every image the node runs, from podman's store into containerd's (k8s.io namespace): nothing can be pulled here.
import_images() {
  local images=() image
  mapfile -t images < <(bash "$here/build-images.sh" --list)
  local missing=()
  for image in "${images[@]}"; do
    # (--node-only: only what was built)
    podman image exists "$image" || continue
    ctr_ images ls -q "name==$image" | grep -q . || missing+=("$image")
  done
  [ ${#missing[@]} -gt 0 ] || return 0
  say "importing ${#missing[@]} images into the node's containerd"
  podman save --multi-image-archive --format docker-archive "${missing[@]}" | ctr_ images import - >/dev/null
}

cmd_load() { # image... : podman's images into the node (what `task deploy ENV=local-k8s` runs)
  [ $# -gt 0 ] || die "usage: local-k8s/local-k8s.sh load IMAGE..."
  [ -S "$CONTAINERD_SOCK" ] || die "the node is not up (no containerd socket at $CONTAINERD_SOCK): task node-up"
  local image
  for image in "$@"; do podman image exists "$image" || die "no image $image in podman's store: build it first"; done
  say "loading $* into the node"
  podman save --multi-image-archive --format docker-archive "$@" | ctr_ images import - >/dev/null
}

ctr_() { ctr --address "$CONTAINERD_SOCK" --namespace k8s.io "$@"; }

cmd_up() {
  [ "$(id -u)" -eq 0 ] || die "the node needs root (containerd, kubelet, iptables)"
  local t0=$SECONDS missing=()
  for tool in etcd containerd runc ctr openssl iptables podman conntrack; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
  done
  [ -x /usr/lib/cni/bridge ] || missing+=(containernetworking-plugins)
  [ ${#missing[@]} -eq 0 ] || die "missing: ${missing[*]}; run: bash local-k8s/install-deps.sh"
  # One node per machine: its address, ports and bridge are fixed.
  if ! is_running kube-apiserver && ! pgrep -x kube-apiserver >/dev/null && ! pgrep -x kubelet >/dev/null &&
    { node_ip_on_lo || iptables-save -t nat 2>/dev/null | grep -qF 'name: "kvflow"'; }; then
    clear_stale_node
  fi
  if ! is_running kube-apiserver && node_ip_on_lo; then
    die "another local node is up on this machine ($NODE_IP is on lo; its folder: $(pgrep -a kube-apiserver | grep -o -- '--client-ca-file [^ ]*' | sed 's|/pki/ca.crt||;s|--client-ca-file ||' || echo unknown)): run local-k8s/local-k8s.sh down from that checkout first"
  fi
  if [ "${1:-}" = --node-only ]; then
    bash "$here/build-binaries.sh" kubernetes
    bash "$here/build-images.sh" pause
  else
    bash "$here/build-binaries.sh"
    bash "$here/build-images.sh"
  fi
  mkdir -p "$K8S_HOME" "$LOGS" "$RUN"
  save_machine_state
  make_pki
  write_configs
  say "starting the node (logs in $LOGS)"
  start_node
  say "node $NODE_NAME Ready after $((SECONDS - t0)) s"
  [ "${1:-}" = --node-only ] || bash "$here/addons.sh"
  say "up in $((SECONDS - t0)) s. Use it with: export KUBECONFIG=$KUBECONFIG_ADMIN"
}

cmd_down() {
  [ "$(id -u)" -eq 0 ] || die "needs root"
  say "stopping the node"
  local name
  for name in kube-proxy kubelet kube-scheduler kube-controller-manager kube-apiserver; do stop "$name"; done
  # The pods' containers: kill them through containerd, then containerd and its shims.
  if [ -S "$CONTAINERD_SOCK" ]; then
    local task
    for task in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks kill -s SIGKILL "$task" >/dev/null 2>&1 || true; done
    sleep 1
    for task in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks delete -f "$task" >/dev/null 2>&1 || true; done
  fi
  stop containerd
  pkill -9 -f "containerd-shim-runc-v2 .*-address $CONTAINERD_SOCK" 2>/dev/null || true
  stop etcd
  # Mounts the kubelet (volumes) and containerd (rootfs, sandbox shm) left under our folder, deepest first.
  local mnt
  for mnt in $(awk '{print $2}' /proc/mounts | grep -F "$K8S_HOME/" | sort -r); do umount -l "$mnt" 2>/dev/null || true; done
  ip link delete "$BRIDGE" 2>/dev/null || true
  ip addr del "$NODE_IP/32" dev lo 2>/dev/null || true
  restore_machine_state
  # State, not binaries or built images: the next `up` starts from a wiped node and reuses the builds.
  rm -rf "$K8S_HOME/etcd" "$K8S_HOME/containerd" "$K8S_HOME/kubelet" "$K8S_HOME/cni" "$PKI" "$RUN" \
    "$K8S_HOME"/*.kubeconfig "$KUBECONFIG_ADMIN" "$K8S_HOME/proxy.yaml" "$K8S_HOME/volumes"
  say "down: processes stopped, sysctls and iptables restored, state removed (logs kept in $LOGS)"
}

cmd_status() {
  local name
  for name in etcd kube-apiserver kube-controller-manager kube-scheduler containerd kubelet kube-proxy; do
    if is_running "$name"; then printf '%-24s running (pid %s)\n' "$name" "$(cat "$RUN/$name.pid")"
    else printf '%-24s stopped\n' "$name"; fi
  done
  if is_running kube-apiserver; then
    kubectl_ get nodes -o wide && kubectl_ get pods -A -o wide
  fi
}

case "${1:-}" in
  up) cmd_up "${2:-}" ;;
  down) cmd_down ;;
  status) cmd_status ;;
  load) shift; cmd_load "$@" ;;
  *) die "usage: local-k8s/local-k8s.sh up [--node-only] | down | status | load IMAGE..." ;;
esac
