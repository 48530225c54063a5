#!/usr/bin/env bash
# Tools to render and check the Kubernetes manifests of k8s/, pinned, into the state
# directory (nothing system-wide, no kubectl, no cluster):
#
#   bash deploy/k8s-tools.sh kustomize        install kustomize (if absent), print its path
#   bash deploy/k8s-tools.sh keda-module      download KEDA's Go module (its CRDs and scaler
#                                             sources, read by tests/unit/test_k8s.py),
#                                             print its directory
#   bash deploy/k8s-tools.sh render OVERLAY   kustomize build k8s/overlays/OVERLAY to stdout
#
# Both come from the Go module proxy with the go command: kustomize is built from source
# (`go install`, ≈ 25 s the first time, then cached in <state>/tools/bin); KEDA's module is
# only downloaded (≈ 3 MB zip into Go's module cache, checked against go.sum's database).
# Exit 3 when no Go toolchain is found (the tests skip then, saying so); 1 on other failures.
set -euo pipefail
cd "$(dirname "$0")/.."

# kustomize v5.8.2 is the newest that builds with Go 1.26 (v5.8.3 needs Go 1.27).
KUSTOMIZE_VERSION=v5.8.2
# KEDA's CRDs (keda.sh/v1alpha1 ScaledObject) and kafka scaler metadata names.
KEDA_VERSION=v2.21.0

state_dir=${HOCBA_STATE_DIR:-$PWD/.state}
tools_bin="$state_dir/tools/bin"

find_go() {
  if command -v go >/dev/null 2>&1; then
    command -v go
  elif [[ -x /usr/local/go/bin/go ]]; then
    echo /usr/local/go/bin/go
  else
    echo "k8s-tools: no Go toolchain (go on PATH or /usr/local/go/bin/go);" \
      "install Go to render k8s/" >&2
    exit 3
  fi
}

kustomize_path() {
  local bin="$tools_bin/kustomize"
  if [[ -x "$bin" ]] && [[ "$("$bin" version 2>/dev/null)" == "$KUSTOMIZE_VERSION" ]]; then
    echo "$bin"
    return
  fi
  local go
  go=$(find_go)
  mkdir -p "$tools_bin"
  echo "k8s-tools: building kustomize $KUSTOMIZE_VERSION into $tools_bin (first time only)" >&2
  # GOTOOLCHAIN=local: build with this machine's Go, never fetch another toolchain.
  # -modcacherw: the module cache stays deletable by a plain rm -rf.
  GOBIN="$tools_bin" GOTOOLCHAIN=local GOFLAGS="-modcacherw -buildvcs=false" \
    "$go" install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION" >&2
  if [[ "$("$bin" version)" != "$KUSTOMIZE_VERSION" ]]; then
    echo "k8s-tools: $bin does not report $KUSTOMIZE_VERSION" >&2
    exit 1
  fi
  echo "$bin"
}

keda_module() {
  local go dir
  go=$(find_go)
  dir=$(GOTOOLCHAIN=local GOFLAGS="-modcacherw" \
    "$go" mod download -json "github.com/kedacore/keda/v2@$KEDA_VERSION" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  if [[ -z "$dir" || ! -f "$dir/config/crd/bases/keda.sh_scaledobjects.yaml" ]]; then
    echo "k8s-tools: KEDA $KEDA_VERSION: no config/crd/bases/keda.sh_scaledobjects.yaml" >&2
    exit 1
  fi
  echo "$dir"
}

case "${1:-}" in
  kustomize) kustomize_path ;;
  keda-module) keda_module ;;
  render)
    overlay=${2:?usage: k8s-tools.sh render OVERLAY}
    "$(kustomize_path)" build "k8s/overlays/$overlay"
    ;;
  *)
    echo "usage: bash deploy/k8s-tools.sh kustomize | keda-module | render OVERLAY" >&2
    exit 2
    ;;
esac
