#!/usr/bin/env bash
# `npm run test:real-shape`: the full-size rehearsal, out of `npm test` because it writes ~4 GB and moves
# gigabytes through Node and Chromium. Generates the real-shape model when missing (rm -rf models-full/real-shape
# to regenerate), then the Node CLI runs (q8 via the local hub, q8 and fp32 from the folder) and the browser run
# (the demo downloading, caching and reopening the model offline). Figures: bench/real-model-results.json.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
if [ ! -f models-full/real-shape/MANIFEST.json ]; then
  npx tsx scripts/make-test-model.ts --real-shape
fi
npx tsx scripts/real-shape-node.ts
M3_REAL_SHAPE=1 npx playwright test e2e/real-shape.spec.ts
echo "test:real-shape passed in $(( $(date +%s) - start )) s; $(uptime)"
