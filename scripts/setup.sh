#!/usr/bin/env bash
# Installs what the demo and the tests need on a fresh machine: Debian's Chromium (Playwright cannot download
# its own browser here), the npm packages, and the tiny test model. Each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."
export ONNXRUNTIME_NODE_INSTALL_CUDA=skip # onnxruntime-node would otherwise try to download CUDA binaries

CHROMIUM="${CHROMIUM_PATH:-/usr/lib/chromium/chromium}"
if [ ! -x "$CHROMIUM" ]; then
  echo "setup: installing Debian's chromium"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund
fi

if [ ! -f public/models/tiny-m3/onnx/model.onnx ]; then
  echo "setup: generating the tiny test model"
  npm run -s make-test-model
fi
