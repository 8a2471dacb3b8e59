#!/usr/bin/env bash
# The main job on the embedded default: the bundled Fashion-MNIST model goes
# through convert → quantize → eval → push (a local file registry) → serve,
# and then the maintenance loop: the data shifts (clients send contrast-
# inverted images), monitor sees the drift in the payload logs, retrain fits
# the model to new data, the eval gate against the champion holds, the new
# version is pushed and promoted, and the running server reloads it and
# answers with it. Each step says what happened. Run it with `make demo`.
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

step "1/10 inspect the bundled model ($data/cnn.onnx)"
"$mlops" inspect "$data/cnn.onnx" --check

step "2/10 convert: optimize the graph (Conv+BatchNorm folding, dead nodes) and verify outputs"
"$mlops" convert "$data/cnn.onnx" -o cnn.opt.onnx --optimize --meta source=testdata/fmnist/cnn.onnx

step "3/10 quantize: dynamic int8, accuracy checked on the test split"
"$mlops" quantize cnn.opt.onnx cnn.int8.onnx --eval-data "$data/x_test.npy" --eval-labels "$data/y_test.npy" --batch-size 500

step "4/10 eval: int8 against the float model, with release gates"
"$mlops" eval cnn.int8.onnx --data "$data/x_test.npy" --labels "$data/y_test.npy" --batch-size 500 \
  --compare cnn.opt.onnx --gate 'accuracy>=0.85' --gate 'accuracy>=baseline-0.01' --latency-runs 20
"$mlops" eval cnn.int8.onnx --data "$data/x_test.npy" --labels "$data/y_test.npy" --batch-size 500 \
  --no-latency --output json > eval.json

step "5/10 push: version 1 of 'fmnist' in the local registry $registry, alias production"
"$mlops" push cnn.int8.onnx fmnist --registry "$registry" --alias production \
  --metrics eval.json --message "int8 CNN from make demo" --transformation quantize
"$mlops" ls fmnist --registry "$registry"

step "6/10 serve fmnist@production on 127.0.0.1 (following the alias, logging payloads) and ask it about the first test image"
"$mlops" serve fmnist@production --registry "$registry" --addr 127.0.0.1:0 --addr-file addr \
  --poll 1s --log-payloads "$work/payloads" > serve.log 2>&1 &
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

# rows START COUNT [invert]: a KServe v2 request body with COUNT test images
# from row START, contrast-inverted (1 - x) when asked.
rows() {
  local values
  values=$(od -An -v -f -j $((128 + $1 * 3136)) -N $(($2 * 3136)) "$data/x_test.npy" |
    awk -v inv="${3:-}" '{ for (i = 1; i <= NF; i++) printf "%s%.6g", (n++ ? "," : ""), (inv ? 1 - $i : $i) }')
  printf '{"id":"demo-%s-%s","inputs":[{"name":"input","datatype":"FP32","shape":[%s,1,28,28],"data":[%s]}]}' "$1" "$2" "$2" "$values"
}

step "7/10 the data shifts: clients now send contrast-inverted images (400 rows in 8 requests)"
for start in 0 50 100 150 200 250 300 350; do
  rows "$start" 50 invert | curl -fsS -H 'Content-Type: application/json' -d @- "http://$addr/v2/models/fmnist/infer" > /dev/null
done
echo "sent 400 inverted images; waiting for the payload log to be written"
for _ in $(seq 150); do [ -n "$(find "$work/payloads" -name '*.jsonl*' 2>/dev/null)" ] && break; sleep 0.1; done
[ -n "$(find "$work/payloads" -name '*.jsonl*' 2>/dev/null)" ] || { echo "no payload log was written:"; cat serve.log; exit 1; }

step "8/10 monitor: the served inputs against the test split (exit 3 = drift)"
rc=0
"$mlops" monitor --reference "$data/x_test.npy" --reference-rows 1000 --current "$work/payloads" --model fmnist --max-features 5 || rc=$?
[ "$rc" -eq 3 ] || { echo "monitor should have reported drift (exit 3), got exit $rc"; exit 1; }
echo "drift detected (exit 3): time to retrain"

step "9/10 retrain the float CNN on new labelled data (6,000 inverted images), gate it against the champion, push and promote"
# --scale -1 --mean -1 gives 1 - x: the new data as the clients now send it.
"$mlops" retrain cnn.opt.onnx --data "$data/x_test.npy" --labels "$data/y_test.npy" --scale -1 --mean -1 \
  --limit 6000 --val-split 0.25 --epochs 1 --batch-size 64 --lr 1e-3 -o cnn.repaired.onnx \
  --registry "$registry" --push fmnist --champion fmnist@production --promote-if 'accuracy>=champion+0.05' --alias production
"$mlops" ls fmnist --registry "$registry"

step "10/10 the running server reloads fmnist@production (--poll) and answers with version 2"
version=""
for _ in $(seq 100); do
  version=$(rows 0 1 invert | curl -fsS -H 'Content-Type: application/json' -d @- "http://$addr/v2/models/fmnist/infer" |
    sed -n 's/.*"model_version":"\([^"]*\)".*/\1/p')
  [ "$version" = "2" ] && break
  sleep 0.2
done
[ "$version" = "2" ] || { echo "the server still answers with version '$version'"; cat serve.log; exit 1; }
response=$(rows 0 1 invert | curl -fsS -H 'Content-Type: application/json' -d @- "http://$addr/v2/models/fmnist/infer")
predicted=$(echo "$response" | sed 's/.*"data":\[\([^]]*\)\].*/\1/' | tr ',' '\n' | awk '{ if (NR==1 || $1>best) { best=$1; arg=NR-1 } } END { print arg }')
echo "model_version $version: the inverted first test image is class $predicted (true class $label)"
kill -TERM "$server"
wait "$server" || true
trap - EXIT
echo
echo "demo finished: artifacts in $work"
