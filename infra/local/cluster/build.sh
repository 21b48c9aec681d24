#!/usr/bin/env bash
# Builds the local cluster from Go modules, never a downloaded binary: the control plane and the
# Kubernetes part of the node (one multi-call binary: etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kubectl, kubelet, kube-proxy), KWOK, the container runtime (containerd, ctr, the
# runc shim, runc with seccomp, the CNI plugins bridge, host-local, loopback and portmap), and the
# node tools (a minimal CoreDNS, the image tool oci-image). Each piece goes to a cache folder
# outside the clone keyed by its versions and sources, so a second run or a fresh clone on the same
# machine reuses it; a bin folder keyed by all of them links them together. Prints that bin folder
# on its last line.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# Go installs to /usr/local/go on these machines; a shell without it on PATH still finds it.
if ! command -v go >/dev/null && [[ -x /usr/local/go/bin/go ]]; then PATH="/usr/local/go/bin:$PATH"; fi
command -v go >/dev/null || { echo "build.sh: Go 1.26 is needed to build the local cluster, and none is on PATH" >&2; exit 1; }
source "$here/versions.env"

key_of() { cat "$@" | sha256sum | cut -c1-12; }
cache_root=${STIMULATED_PEERING_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/stimulated-peering}
controlplane_dir="$cache_root/controlplane-$KUBERNETES_VERSION-$(echo "$KUBERNETES_VERSION" | key_of - "$here"/controlplane/go.mod "$here"/controlplane/go.sum "$here"/controlplane/*.go)"
kwok_dir="$cache_root/kwok-$KWOK_VERSION"
runtime_dir="$cache_root/containerd-$CONTAINERD_VERSION-runc-$RUNC_VERSION-cni-$CNI_PLUGINS_VERSION"
nodetools_dir="$cache_root/nodetools-$(key_of "$here"/nodetools/go.mod "$here"/nodetools/go.sum "$here"/nodetools/*/*.go)"
bin="$cache_root/bin-$(echo "$controlplane_dir $kwok_dir $runtime_dir $nodetools_dir" | key_of -)"

runtime_binaries=(containerd ctr containerd-shim-runc-v2 runc bridge host-local loopback portmap)
nodetools_binaries=(coredns oci-image pause netcheck)
complete() {
  [[ -x "$controlplane_dir/controlplane" && -x "$kwok_dir/kwok" && -s "$kwok_dir/kwok-stages.yaml" ]] || return 1
  [[ -L "$bin/kubectl" ]] || return 1
  local name
  for name in "${nodetools_binaries[@]}"; do [[ -x "$nodetools_dir/$name" ]] || return 1; done
  for name in "${runtime_binaries[@]}"; do [[ -x "$runtime_dir/$name" ]] || return 1; done
}

# The node needs Debian packages no Go module provides: libseccomp-dev to build runc with seccomp
# (pods run with the RuntimeDefault seccomp profile), iptables for kube-proxy. Installed as root.
need_packages=()
[[ -e /usr/include/seccomp.h ]] || need_packages+=(libseccomp-dev)
command -v iptables-restore >/dev/null || [[ -x /usr/sbin/iptables-restore ]] || need_packages+=(iptables)
if ((${#need_packages[@]})); then
  if [[ $(id -u) != 0 ]]; then
    echo "build.sh: the local node needs the Debian packages ${need_packages[*]}; install them as root (apt-get install ${need_packages[*]})" >&2
    exit 1
  fi
  echo "installing the Debian packages ${need_packages[*]} with apt-get (runc's seccomp support needs libseccomp-dev, kube-proxy needs iptables)" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_packages[@]}" >&2
fi

if complete; then
  echo "$bin"
  exit 0
fi

mkdir -p "$cache_root"
staging=$(mktemp -d "$cache_root/build.XXXXXX")
ticker=
# Only the script itself cleans up: a background job killed before it starts runs this trap too.
trap '[[ $BASHPID == $$ ]] || exit; [[ -n $ticker ]] && kill "$ticker" 2>/dev/null; rm -rf "$staging"' EXIT
start=$SECONDS

# Runs a long step, saying every 20 s how long it has taken: a cold compile prints nothing for minutes.
with_progress() {
  local label=$1 rc=0
  shift
  # A process of its own (no inherited traps), gone with this script, holding no pipe open on stdout.
  bash -c 'while sleep 20 && kill -0 "$1" 2>/dev/null; do echo "  ... $0: ${SECONDS}s so far" >&2; done' "$label" "$$" >/dev/null &
  ticker=$!
  "$@" || rc=$?
  kill "$ticker" 2>/dev/null || true
  wait "$ticker" 2>/dev/null || true
  ticker=
  return "$rc"
}

# Moves what the staging folder holds into a piece's cache folder, once all of it is built.
publish() {
  local dir=$1
  shift
  mkdir -p "$dir"
  local name
  for name in "$@"; do mv "$staging/$name" "$dir/$name"; done
}

runtime_missing=0
for name in "${runtime_binaries[@]}"; do [[ -x "$runtime_dir/$name" ]] || runtime_missing=1; done
if ((runtime_missing)); then
  echo "building containerd $CONTAINERD_VERSION, runc $RUNC_VERSION and the CNI plugins $CNI_PLUGINS_VERSION" >&2
  containerd=github.com/containerd/containerd/v2
  # As containerd's Makefile builds them, less the snapshotters and tracing this node does not use.
  tags="urfave_cli_no_docs no_btrfs no_devmapper no_zfs no_tracing"
  GOBIN="$staging" CGO_ENABLED=0 with_progress "building containerd" go install -trimpath -tags "$tags" \
    -ldflags "-s -w -X $containerd/version.Version=$CONTAINERD_VERSION -X $containerd/version.Revision=$CONTAINERD_VERSION" \
    "$containerd/cmd/containerd@$CONTAINERD_VERSION" "$containerd/cmd/ctr@$CONTAINERD_VERSION"
  GOBIN="$staging" CGO_ENABLED=0 with_progress "building the runc shim" go install -trimpath -tags "urfave_cli_no_docs no_grpc" \
    -ldflags "-s -w -X $containerd/version.Version=$CONTAINERD_VERSION" "$containerd/cmd/containerd-shim-runc-v2@$CONTAINERD_VERSION"
  # runc's seccomp filter is libseccomp, through cgo.
  GOBIN="$staging" CGO_ENABLED=1 with_progress "building runc" go install -trimpath -tags "seccomp urfave_cli_no_docs" \
    -ldflags "-s -w -X main.version=${RUNC_VERSION#v}" "github.com/opencontainers/runc@$RUNC_VERSION"
  plugins=github.com/containernetworking/plugins/plugins
  GOBIN="$staging" CGO_ENABLED=0 with_progress "building the CNI plugins" go install -trimpath -ldflags "-s -w" \
    "$plugins/main/bridge@$CNI_PLUGINS_VERSION" "$plugins/main/loopback@$CNI_PLUGINS_VERSION" \
    "$plugins/meta/portmap@$CNI_PLUGINS_VERSION" "$plugins/ipam/host-local@$CNI_PLUGINS_VERSION"
  publish "$runtime_dir" "${runtime_binaries[@]}"
  echo "container runtime built; $((SECONDS - start))s so far" >&2
fi

nodetools_missing=0
for name in "${nodetools_binaries[@]}"; do [[ -x "$nodetools_dir/$name" ]] || nodetools_missing=1; done
if ((nodetools_missing)); then
  echo "building CoreDNS, the image tool, the pod sandbox's pause and the tests' netcheck" >&2
  # Static: pause and netcheck run alone in images of their own.
  CGO_ENABLED=0 with_progress "building the node tools" go -C "$here/nodetools" build -trimpath -ldflags "-s -w" -o "$staging/" "${nodetools_binaries[@]/#/./}"
  publish "$nodetools_dir" "${nodetools_binaries[@]}"
  echo "node tools built; $((SECONDS - start))s so far" >&2
fi

if [[ ! -x "$controlplane_dir/controlplane" ]]; then
  echo "building the control plane, kubelet and kube-proxy (Kubernetes $KUBERNETES_VERSION); a cold build takes a long while" >&2
  minor=${KUBERNETES_VERSION#v1.}; minor=${minor%%.*}
  ldflags="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  with_progress "building the control plane" go -C "$here/controlplane" build -trimpath -ldflags "$ldflags" -o "$staging/controlplane" .
  publish "$controlplane_dir" controlplane
  echo "control plane built in $((SECONDS - start))s" >&2
fi

if [[ ! -x "$kwok_dir/kwok" || ! -s "$kwok_dir/kwok-stages.yaml" ]]; then
  echo "building KWOK $KWOK_VERSION" >&2
  GOBIN="$staging" with_progress "building KWOK" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
  # KWOK's own stage definitions: nodes become Ready and keep a heartbeat, pods become Ready with
  # an IP, finish, and go away when deleted.
  kwok_src=$(go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  for stage in node/fast/node-initialize node/heartbeat/node-heartbeat pod/fast/pod-ready pod/fast/pod-complete pod/fast/pod-delete; do
    echo "---"
    cat "$kwok_src/kustomize/stage/$stage.yaml"
  done > "$staging/kwok-stages.yaml"
  publish "$kwok_dir" kwok kwok-stages.yaml
  echo "KWOK built; $((SECONDS - start))s so far" >&2
fi

mkdir -p "$bin"
ln -sfn "$controlplane_dir/controlplane" "$bin/controlplane"
ln -sfn controlplane "$bin/kubectl"
for name in kwok kwok-stages.yaml; do ln -sfn "$kwok_dir/$name" "$bin/$name"; done
for name in "${runtime_binaries[@]}"; do ln -sfn "$runtime_dir/$name" "$bin/$name"; done
for name in "${nodetools_binaries[@]}"; do ln -sfn "$nodetools_dir/$name" "$bin/$name"; done
echo "local cluster built; ready after $((SECONDS - start))s" >&2
echo "$bin"
