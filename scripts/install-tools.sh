#!/usr/bin/env bash
# Installs the pinned Go tools mlops' build uses into .deps/bin:
#   protoc-gen-go  (go generate of internal/onnx/onnxpb)
#   goreleaser     (`goreleaser check` in `make test`, releases)
#   golangci-lint  (`make lint` and `make check`; config in .golangci.yml)
# Idempotent: a tool already at the pinned version is kept.
set -euo pipefail

PROTOC_GEN_GO_VERSION=v1.36.12
GORELEASER_VERSION=v2.15.1
GOLANGCI_LINT_VERSION=v2.15.0

root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/.deps/bin"
mkdir -p "$bin"

install_tool() { # name version-probe-command expected-substring module@version
  local name=$1 expected=$2 module=$3
  if [ -x "$bin/$name" ] && "$bin/$name" --version 2>/dev/null | grep -qF -- "$expected"; then
    echo "$name $expected: already installed"
    return
  fi
  echo "$name $expected: installing (go install $module)"
  GOBIN="$bin" GOFLAGS=-buildvcs=false go install "$module"
}

# Usage: scripts/install-tools.sh [protoc-gen-go|goreleaser|golangci-lint ...]   (default: all)
tools=("$@")
[ ${#tools[@]} -eq 0 ] && tools=(protoc-gen-go goreleaser golangci-lint)
for t in "${tools[@]}"; do
  case "$t" in
    protoc-gen-go) install_tool protoc-gen-go "$PROTOC_GEN_GO_VERSION" "google.golang.org/protobuf/cmd/protoc-gen-go@$PROTOC_GEN_GO_VERSION" ;;
    goreleaser) install_tool goreleaser "${GORELEASER_VERSION#v}" "github.com/goreleaser/goreleaser/v2@$GORELEASER_VERSION" ;;
    golangci-lint) install_tool golangci-lint "${GOLANGCI_LINT_VERSION#v}" "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$GOLANGCI_LINT_VERSION" ;;
    *) echo "install-tools: unknown tool $t (want protoc-gen-go, goreleaser or golangci-lint)" >&2; exit 2 ;;
  esac
done
