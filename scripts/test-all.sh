#!/usr/bin/env bash
# `npm test`: installs what is missing, then type-checks, lints (Biome's formatter check and linter, knip's dead-code check), runs the unit tests (Vitest, Node), the browser
# tests (Playwright, Debian's Chromium), and the package as users get it: build, pack, publint, attw, the
# search-path size budget, and the consumer tests (the tarball installed in fresh folders: Vite, webpack,
# Node, CLI, TypeScript).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npx tsc --noEmit -p .
npm run -s lint
npx vitest run
npx playwright test
if [ -z "${M3_PACK_DIR:-}" ]; then M3_PACK_DIR=$(mktemp -d); trap 'rm -rf "$M3_PACK_DIR"' EXIT; fi
export M3_PACK_DIR
bash scripts/check-package.sh
M3_TGZ=$(ls "$M3_PACK_DIR"/m3-search-*.tgz) npx tsx consumers/run.ts
