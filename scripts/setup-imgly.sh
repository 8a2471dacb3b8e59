#!/usr/bin/env bash
# Fetches a real third-party model pair for mlops' fp16 -> int8 comparison:
# IMG.LY's background-removal network (IS-Net), shipped on npm as
# @imgly/background-removal-data in float16 ("medium") and as the vendor's
# own ONNX Runtime dynamic-quantized uint8 build ("small"), chunked by a
# resources.json. `npm pack` fetches the tarball without running scripts.
# Writes .cache/imgly/isnet_fp16.onnx and .cache/imgly/isnet_quint8.onnx;
# idempotent.
set -euo pipefail
VERSION=1.4.5
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="$root/.cache/imgly"
if [[ -s "$dir/isnet_fp16.onnx" && -s "$dir/isnet_quint8.onnx" && "$(cat "$dir/VERSION" 2>/dev/null)" == "$VERSION" ]]; then
  exit 0
fi
mkdir -p "$dir"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent --ignore-scripts "@imgly/background-removal-data@$VERSION" >/dev/null && tar xzf imgly-background-removal-data-*.tgz)
node - "$tmp/package/dist" "$dir" <<'JS'
const fs = require('fs'), path = require('path');
const [dist, out] = process.argv.slice(2);
const res = JSON.parse(fs.readFileSync(path.join(dist, 'resources.json')));
for (const [key, name] of [['/models/medium', 'isnet_fp16.onnx'], ['/models/small', 'isnet_quint8.onnx']]) {
  const r = res[key];
  const bufs = r.chunks.map(c => fs.readFileSync(path.join(dist, c.hash)));
  const all = Buffer.concat(bufs);
  if (all.length !== r.size) throw new Error(`${key}: ${all.length} bytes, resources.json says ${r.size}`);
  const tmp = path.join(out, '.' + name + '.tmp');
  fs.writeFileSync(tmp, all);
  fs.renameSync(tmp, path.join(out, name));
}
JS
echo "$VERSION" > "$dir/VERSION"
echo "imgly models in $dir"
