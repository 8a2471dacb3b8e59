#!/usr/bin/env bash
# Installs the Debian packages that mlops' build and tests use: a C toolchain
# for cgo (onnxruntime_go), git and make, protoc for `go generate`,
# the ONNX backend test corpus, Fashion-MNIST, torch/onnx/sklearn for the
# reference generators, Prometheus and boto3 for integration tests.
# Runs only as root (skipped otherwise with a note); idempotent.
set -euo pipefail

pkgs=(
  gcc libc6-dev make git ca-certificates
  protobuf-compiler
  libonnx-testdata
  dataset-fashion-mnist
  python3-numpy python3-torch python3-onnx python3-sklearn python3-optuna python3-boto3
  prometheus
  wrk hyperfine curl
)
# npm fetches ONNX Runtime (setup-ort.sh). A Node.js from elsewhere (e.g.
# NodeSource, which bundles npm and conflicts with Debian's npm package) is fine.
command -v npm >/dev/null || pkgs+=(nodejs npm)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "debian packages: all present"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "setup-debian: not root; install these yourself for the full test suite: ${missing[*]}" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
