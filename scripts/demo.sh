#!/usr/bin/env bash
# `npm run demo`: installs what is missing, builds the demo's corpus (the project's own docs) and a production
# build, and serves it with `vite preview` on http://127.0.0.1:5173/demo/ (PORT=… to change).
#
# A production build rather than the dev server: only a build has the service worker and its precache
# manifest, so only a build gives the offline PWA (the dev server would serve the page but not offline).
# `vite preview` also sends the COOP/COEP headers from vite.config.ts (threads for ORT's WASM backend).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npx tsx scripts/build-demo-corpus.ts
npx vite build --logLevel warn
PORT="${PORT:-5173}"
OPEN=()
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] || [ "$(uname)" = Darwin ]; then OPEN=(--open /demo/); fi
echo "m3-search demo: http://127.0.0.1:${PORT}/demo/  (Ctrl-C to stop)"
exec npx vite preview --port "$PORT" --strictPort ${OPEN[@]+"${OPEN[@]}"}
