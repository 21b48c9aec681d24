#!/usr/bin/env bash
# Builds the local control plane (one multi-call binary: etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, kubectl) and KWOK from Go modules, into a cache folder
# outside the clone keyed by the versions and sources, so a second run or a fresh clone on the same
# machine reuses it. Prints the bin folder on its last line.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# Go installs to /usr/local/go on these machines; a shell without it on PATH still finds it.
if ! command -v go >/dev/null && [[ -x /usr/local/go/bin/go ]]; then PATH="/usr/local/go/bin:$PATH"; fi
command -v go >/dev/null || { echo "build.sh: Go 1.26 is needed to build the local control plane, and none is on PATH" >&2; exit 1; }
source "$here/versions.env"

key=$(cat "$here/versions.env" "$here"/controlplane/go.mod "$here"/controlplane/go.sum "$here"/controlplane/*.go | sha256sum | cut -c1-12)
cache_root=${STIMULATED_PEERING_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/stimulated-peering}
bin="$cache_root/controlplane-$KUBERNETES_VERSION-kwok-$KWOK_VERSION-$key/bin"

if [[ -x "$bin/controlplane" && -x "$bin/kwok" && -L "$bin/kubectl" && -s "$bin/kwok-stages.yaml" ]]; then
  echo "$bin"
  exit 0
fi

mkdir -p "$bin"
staging=$(mktemp -d "$bin/../build.XXXXXX")
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

if [[ ! -x "$bin/controlplane" ]]; then
  echo "building the control plane (Kubernetes $KUBERNETES_VERSION); a cold build takes a long while" >&2
  minor=${KUBERNETES_VERSION#v1.}; minor=${minor%%.*}
  ldflags="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  with_progress "building the control plane" go -C "$here/controlplane" build -trimpath -ldflags "$ldflags" -o "$staging/controlplane" .
  mv "$staging/controlplane" "$bin/controlplane"
  echo "control plane built in $((SECONDS - start))s" >&2
fi

if [[ ! -x "$bin/kwok" ]]; then
  echo "building KWOK $KWOK_VERSION" >&2
  GOBIN="$staging" with_progress "building KWOK" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
  mv "$staging/kwok" "$bin/kwok"
  echo "KWOK built; $((SECONDS - start))s so far" >&2
fi

if [[ ! -s "$bin/kwok-stages.yaml" ]]; then
  # KWOK's own stage definitions: nodes become Ready and keep a heartbeat, pods become Ready with
  # an IP, finish, and go away when deleted.
  kwok_src=$(go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  for stage in node/fast/node-initialize node/heartbeat/node-heartbeat pod/fast/pod-ready pod/fast/pod-complete pod/fast/pod-delete; do
    echo "---"
    cat "$kwok_src/kustomize/stage/$stage.yaml"
  done > "$staging/kwok-stages.yaml"
  mv "$staging/kwok-stages.yaml" "$bin/kwok-stages.yaml"
fi

ln -sfn controlplane "$bin/kubectl"
echo "control plane ready after $((SECONDS - start))s" >&2
echo "$bin"
