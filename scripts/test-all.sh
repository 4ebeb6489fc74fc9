#!/usr/bin/env bash
# `npm test`: installs what is missing, then type-checks, runs the unit tests (Vitest, Node) and the browser
# tests (Playwright, Debian's Chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npx tsc --noEmit -p .
npx vitest run
npx playwright test
