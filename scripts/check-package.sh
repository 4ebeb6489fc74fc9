#!/usr/bin/env bash
# The package as users get it: builds dist/, packs it, and lints the tarball — publint (package.json against
# the files), @arethetypeswrong/cli (types resolve for every export; ESM-only, so CJS and node10 are not
# profiles we promise) and the search-path size budget. Leaves the tarball at $M3_PACK_DIR (consumers/run.ts
# installs that one).
set -euo pipefail
cd "$(dirname "$0")/.."
PACK_DIR="${M3_PACK_DIR:-/tmp/m3-search-pack}"
npm run -s build
rm -rf "$PACK_DIR" && mkdir -p "$PACK_DIR"
npm pack --ignore-scripts --silent --pack-destination "$PACK_DIR" >/dev/null
TGZ=$(ls "$PACK_DIR"/m3-search-*.tgz)
echo "package: $(tar tzf "$TGZ" | wc -l) files, $(du -k "$TGZ" | cut -f1) KB packed ($TGZ)"
if tar tzf "$TGZ" | grep -E '\.test\.|testmodel|fake-encoder|test-corpus|internal\.|/e2e/|/bench/|/demo/'; then
  echo "check-package: test-only files in the tarball" >&2; exit 1
fi
npx publint run "$TGZ" --strict
npx attw "$TGZ" --profile esm-only --format table-flipped
node scripts/check-size.mjs
