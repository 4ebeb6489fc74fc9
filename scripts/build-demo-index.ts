/**
 * Indexes the demo's corpus at build time, the way a site builder would: `m3-search index --static` (the
 * package's own CLI, onnxruntime-node) writes public/demo-index/ (manifest + chunks, git-ignored). A first
 * visit to the demo then imports that package (verified, checked against the model it loaded) and only
 * encodes its query, instead of encoding ~60 sections in the tab before the first answer.
 *
 * The package is built with the tiny model at q8, what 'auto' runs in a browser without a fast GPU; a page
 * on another dtype is refused by the model check and indexes the corpus itself, as before.
 *
 * Skipped when nothing it depends on changed (stamp in .cache/): the corpus, the model's files, the code.
 *
 *   npx tsx scripts/build-demo-index.ts
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { writeDemoCorpus, type DemoCorpus } from './build-demo-corpus.ts';

export const DEMO_INDEX_DIR = 'public/demo-index';
export const DEMO_INDEX_MODEL = 'public/models/tiny-m3';
export const DEMO_INDEX_DTYPE = 'q8';
const STAMP = '.cache/demo-index.stamp';

/** What the package is made from: a change to any of these rebuilds it. */
function sourceStamp(root: string, corpus: DemoCorpus): string {
  const h = createHash('sha256').update(JSON.stringify(corpus)).update(DEMO_INDEX_DTYPE);
  h.update(readFileSync(join(root, DEMO_INDEX_MODEL, 'SHA256SUMS')));
  const walk = (dir: string) => {
    for (const f of readdirSync(dir).sort()) {
      const p = join(dir, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (f.endsWith('.ts') && !f.endsWith('.test.ts')) h.update(p).update(readFileSync(p));
    }
  };
  walk(join(root, 'src'));
  return h.digest('hex');
}

/** Builds the package unless it is current; returns what it did. */
export function buildDemoIndex(root: string): { built: boolean; docs: number; ms: number } {
  const t0 = performance.now();
  const corpus = writeDemoCorpus(root);
  const stamp = sourceStamp(root, corpus);
  const out = join(root, DEMO_INDEX_DIR);
  const stampFile = join(root, STAMP);
  if (existsSync(join(out, 'manifest.json')) && existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp) {
    return { built: false, docs: corpus.docs.length, ms: performance.now() - t0 };
  }
  const tmp = mkdtempSync(join(tmpdir(), 'm3-demo-index-'));
  try {
    const input = join(tmp, 'docs.jsonl');
    // The CLI takes every field besides id and text as metadata.
    writeFileSync(input, corpus.docs.map((d) => JSON.stringify({ id: d.id, text: d.text, ...d.metadata })).join('\n') + '\n');
    rmSync(out, { recursive: true, force: true }); // no chunks of an older version left behind
    rmSync(stampFile, { force: true });
    execFileSync(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/cli/bin.ts',
        'index',
        '--model',
        DEMO_INDEX_MODEL,
        '--dtype',
        DEMO_INDEX_DTYPE,
        '--colbert',
        '--input',
        input,
        '--out',
        join(tmp, 'index'),
        '--static',
        out,
        '--quiet',
      ],
      { cwd: root, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ONNXRUNTIME_NODE_INSTALL_CUDA: 'skip' } },
    );
    mkdirSync(dirname(stampFile), { recursive: true });
    writeFileSync(stampFile, stamp);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return { built: true, docs: corpus.docs.length, ms: performance.now() - t0 };
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const r = buildDemoIndex(resolve(dirname(fileURLToPath(import.meta.url)), '..'));
  console.log(`demo index: ${r.docs} sections → ${DEMO_INDEX_DIR} (${r.built ? `built in ${(r.ms / 1000).toFixed(1)} s` : 'current'})`);
}
