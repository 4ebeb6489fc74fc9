#!/usr/bin/env bash
# Full-size encoder throughput on a machine with a real GPU: WebGPU (Chromium) against WASM and
# onnxruntime-node, same inputs, one run (bench/encoder-throughput.ts does the measuring).
#
#   bash bench/gpu-encoder.sh [--dry-run] [extra bench:encoder options, e.g. --texts 64]
#
# Writes bench/gpu-encoder-results.json. Where Chromium cannot start or gets no hardware WebGPU adapter, it
# says so, records why in the results file, and measures only what can be measured there (WASM, Node);
# a software adapter's WebGPU figure is labelled as such, never passed off as a GPU figure.
# Needs node_modules (npm ci with ONNXRUNTIME_NODE_INSTALL_CUDA=skip) and ~5 GB free for models-full/.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=bench/gpu-encoder-results.json
DRY=0
if [[ "${1:-}" == "--dry-run" ]]; then DRY=1; shift; fi
say() { printf '[gpu-encoder] %s\n' "$*"; }

say "machine: $(nproc) CPUs, $(free -g 2>/dev/null | awk '/Mem:/{print $2 " GiB"}'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
if command -v nvidia-smi >/dev/null 2>&1; then
  say "GPU: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -1)"
else
  say "GPU: nvidia-smi not found (no NVIDIA driver visible); other vendors may still work through Vulkan"
fi
if [[ ! -d node_modules/@huggingface/transformers ]]; then
  say "CANNOT RUN: node_modules is missing (run: ONNXRUNTIME_NODE_INSTALL_CUDA=skip npm ci)"
  exit 2
fi

# Which adapter does Chromium get here? One JSON line: {"ok":true,"adapter":…,"software":null|"why"} or {"ok":false,"reason":…}.
ADAPTER_JSON=$(timeout 120 npx tsx bench/gpu-adapter.ts 2>/dev/null | tail -1)
[[ -z "$ADAPTER_JSON" ]] && ADAPTER_JSON='{"ok":false,"reason":"the adapter probe printed nothing (timed out or crashed)"}'
say "WebGPU adapter probe: $ADAPTER_JSON"
field() { node -e 'const j=JSON.parse(process.argv[1]); const v=j[process.argv[2]]; process.stdout.write(v===undefined||v===null?"":String(v))' "$ADAPTER_JSON" "$1"; }

PARTS=node,wasm
WEBGPU_DTYPES=q8,fp32
if [[ "$(field ok)" != "true" ]]; then
  say "NO BROWSER WEBGPU HERE: $(field reason). Measuring onnxruntime-node and WASM only; no WebGPU figure is written."
elif [[ -n "$(field software)" ]]; then
  say "Chromium's adapter is SOFTWARE ($(field adapter): $(field software)): a WebGPU run would not measure the GPU. Measuring onnxruntime-node and WASM only."
else
  PARTS=node,wasm,webgpu
  [[ "$(field f16)" == "true" ]] && WEBGPU_DTYPES=q8,fp16,fp32
  say "hardware adapter: $(field adapter); WebGPU dtypes: $WEBGPU_DTYPES"
fi

CMD=(npx tsx bench/encoder-throughput.ts --only "$PARTS" --gpu-flags --webgpu-dtypes "$WEBGPU_DTYPES" --webgpu-budget 600 --out "$OUT" "$@")
if [[ $DRY == 1 ]]; then
  say "dry run: would run: ${CMD[*]}"
  exit 0
fi
say "running: ${CMD[*]}"
"${CMD[@]}"
rc=$?
# Keep the adapter probe beside the figures, so a reader sees what WebGPU ran on (or why it did not run).
if [[ -f "$OUT" ]]; then
  node -e 'const fs=require("fs"); const f=process.argv[1]; const r=JSON.parse(fs.readFileSync(f,"utf8")); r.adapterProbe=JSON.parse(process.argv[2]); fs.writeFileSync(f, JSON.stringify(r,null,2)+"\n")' "$OUT" "$ADAPTER_JSON"
  say "wrote $OUT"
fi
exit $rc
