#!/usr/bin/env bash
# Installs the ONNX Runtime shared library that mlops' tests and `make demo` use
# into a project-local folder (.deps/onnxruntime). The Linux x64 build of
# ONNX Runtime ships inside the npm package onnxruntime-node; `npm pack` fetches
# it without running any install script. Idempotent: a verified install is kept.
set -euo pipefail

ORT_VERSION=1.30.0
# sha256 of bin/napi-v6/linux/x64/libonnxruntime.so.1 in onnxruntime-node@1.30.0
ORT_LIB_SHA256=ffb75a925ba05e47b235bb66e3e3911714a80b328a9c9425539feb204aa32a23

root=$(cd "$(dirname "$0")/.." && pwd)
dest="$root/.deps/onnxruntime/lib"
lib="$dest/libonnxruntime.so.$ORT_VERSION"

if [ -f "$lib" ] && echo "$ORT_LIB_SHA256  $lib" | sha256sum -c --status; then
  echo "onnxruntime $ORT_VERSION: already installed at $lib"
  exit 0
fi

case "$(uname -s)/$(uname -m)" in
  Linux/x86_64) ;;
  *)
    echo "setup-ort: this script installs ONNX Runtime for Linux x64 only." >&2
    echo "On macOS: brew install onnxruntime; elsewhere download a release archive from the ONNX Runtime project" >&2
    echo "and point mlops at it with --ort-lib or MLOPS_ORT_LIB." >&2
    exit 1 ;;
esac

command -v npm >/dev/null || { echo "setup-ort: npm is needed to fetch onnxruntime-node (apt-get install npm)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "onnxruntime-node@$ORT_VERSION" >/dev/null)
tar -xzf "$tmp/onnxruntime-node-$ORT_VERSION.tgz" -C "$tmp" package/bin/napi-v6/linux/x64/libonnxruntime.so.1
got="$tmp/package/bin/napi-v6/linux/x64/libonnxruntime.so.1"
echo "$ORT_LIB_SHA256  $got" | sha256sum -c --status || {
  echo "setup-ort: checksum mismatch for libonnxruntime.so.1 from onnxruntime-node@$ORT_VERSION" >&2; exit 1; }

mkdir -p "$dest"
install -m 0644 "$got" "$lib.tmp" && mv -f "$lib.tmp" "$lib"
ln -sfn "libonnxruntime.so.$ORT_VERSION" "$dest/libonnxruntime.so.1"
ln -sfn "libonnxruntime.so.1" "$dest/libonnxruntime.so"
echo "onnxruntime $ORT_VERSION: installed at $lib"
