#!/usr/bin/env bash
# The main job on the embedded default: the bundled Fashion-MNIST model goes
# through convert → quantize → eval → push (a local file registry) → serve,
# and each step says what happened. Run it with `make demo`.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
mlops="$root/bin/mlops"
data="$root/testdata/fmnist"
work="$root/.cache/demo"
registry="file://$work/registry"
rm -rf "$work"
mkdir -p "$work"
cd "$work"

if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then
  step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
else
  step() { printf '\n==> %s\n' "$*"; }
fi

step "1/6 inspect the bundled model ($data/cnn.onnx)"
"$mlops" inspect "$data/cnn.onnx" --check

step "2/6 convert: optimize the graph (Conv+BatchNorm folding, dead nodes) and verify outputs"
"$mlops" convert "$data/cnn.onnx" -o cnn.opt.onnx --optimize --meta source=testdata/fmnist/cnn.onnx

step "3/6 quantize: dynamic int8, accuracy checked on the test split"
"$mlops" quantize cnn.opt.onnx cnn.int8.onnx --eval-data "$data/x_test.npy" --eval-labels "$data/y_test.npy" --batch-size 500

step "4/6 eval: int8 against the float model, with release gates"
"$mlops" eval cnn.int8.onnx --data "$data/x_test.npy" --labels "$data/y_test.npy" --batch-size 500 \
  --compare cnn.opt.onnx --gate 'accuracy>=0.85' --gate 'accuracy>=baseline-0.01' --latency-runs 20
"$mlops" eval cnn.int8.onnx --data "$data/x_test.npy" --labels "$data/y_test.npy" --batch-size 500 \
  --no-latency --output json > eval.json

step "5/6 push: version 1 of 'fmnist' in the local registry $registry, alias production"
"$mlops" push cnn.int8.onnx fmnist --registry "$registry" --alias production \
  --metrics eval.json --message "int8 CNN from make demo" --transformation quantize
"$mlops" ls fmnist --registry "$registry"

step "6/6 serve fmnist@production on 127.0.0.1 and ask it about the first test image"
"$mlops" serve fmnist@production --registry "$registry" --addr 127.0.0.1:0 --addr-file addr > serve.log 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s addr ] && break; sleep 0.1; done
[ -s addr ] || { echo "serve did not start:"; cat serve.log; exit 1; }
addr=$(cat addr)
for _ in $(seq 100); do curl -fsS "http://$addr/v2/health/ready" >/dev/null 2>&1 && break; sleep 0.1; done
# The first image of x_test.npy: 784 float32 values after the 128-byte .npy header.
pixels=$(od -An -v -f -j 128 -N 3136 "$data/x_test.npy" | tr -s ' \n' ',' | sed 's/^,//; s/,$//')
label=$(od -An -v -t d8 -j 128 -N 8 "$data/y_test.npy" | tr -d ' ')
request="{\"id\":\"demo-1\",\"inputs\":[{\"name\":\"input\",\"datatype\":\"FP32\",\"shape\":[1,1,28,28],\"data\":[$pixels]}]}"
echo "POST http://$addr/v2/models/fmnist/infer"
response=$(curl -fsS -H 'Content-Type: application/json' -d "$request" "http://$addr/v2/models/fmnist/infer")
echo "$response" | cut -c1-300
predicted=$(echo "$response" | sed 's/.*"data":\[\([^]]*\)\].*/\1/' | tr ',' '\n' | awk '{ if (NR==1 || $1>best) { best=$1; arg=NR-1 } } END { print arg }')
echo "predicted class $predicted, true class $label"
curl -fsS "http://$addr/metrics" | grep -E '^mlops_.*requests_total' | head -3 || true
kill -TERM "$server"
wait "$server" || true
trap - EXIT
echo
echo "demo finished: artifacts in $work"
