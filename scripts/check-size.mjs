// The size budget of the search path (issue 9): what a browser app ships to open an IndexedDB index and
// search it, with no encoder — bundled from the built package (dist/) by Vite, minified, gzip-compressed.
// Transformers.js must stay out of it: it may only be imported dynamically (when an encoder is loaded).
// Run after `npm run build`; prints the figure and fails over BUDGET.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'vite';

const BUDGET = 50 * 1024;
const dir = mkdtempSync(join(tmpdir(), 'm3-size-'));
const entry = join(dir, 'search-path.js');
// A second entry that creates an encoder: there Transformers.js must be a dynamic import.
const encoderEntry = join(dir, 'encoder.js');
writeFileSync(encoderEntry, `import { M3Encoder } from ${JSON.stringify(resolve('dist/index.js'))};\nawait M3Encoder.load({ model: '/m' });\n`);
writeFileSync(
  entry,
  `import { M3Index, IdbStore } from ${JSON.stringify(resolve('dist/index.js'))};
const index = await M3Index.open('docs', { store: new IdbStore('docs') });
console.log(await index.search({ text: 'query', embedding: globalThis.queryEmbedding }, { k: 10 }));
`,
);
try {
  const out = await build({
    configFile: false,
    logLevel: 'silent',
    root: dir,
    build: {
      write: false,
      target: 'es2022',
      minify: true,
      rollupOptions: { input: [entry, encoderEntry], external: (id) => id.startsWith('@huggingface/transformers') },
    },
  });
  const chunks = new Map(
    (Array.isArray(out) ? out : [out])
      .flatMap((o) => o.output)
      .filter((c) => c.type === 'chunk')
      .map((c) => [c.fileName, c]),
  );
  const main = [...chunks.values()].find((c) => c.isEntry && c.facadeModuleId === entry);
  const enc = [...chunks.values()].find((c) => c.isEntry && c.facadeModuleId === encoderEntry);
  // The entry and what it imports statically: the bytes the page loads before its first search.
  const seen = new Set();
  const walk = (name) => {
    if (seen.has(name) || !chunks.has(name)) return;
    seen.add(name);
    chunks.get(name).imports.forEach(walk);
  };
  walk(main.fileName);
  const staticImports = [...seen].flatMap((n) => chunks.get(n).imports);
  const isTf = (i) => i.startsWith('@huggingface/transformers');
  const encChunks = [enc.fileName, ...enc.imports].map((n) => chunks.get(n)).filter(Boolean);
  if (encChunks.some((c) => c.imports.some(isTf)) || !encChunks.some((c) => c.dynamicImports.some(isTf))) {
    throw new Error('check-size: creating an encoder must import Transformers.js dynamically, and only then');
  }
  if (staticImports.some((i) => i.startsWith('@huggingface/transformers'))) {
    throw new Error('check-size: the search path imports Transformers.js statically');
  }
  const raw = [...seen].reduce((n, f) => n + Buffer.byteLength(chunks.get(f).code), 0);
  const gz = [...seen].reduce((n, f) => n + gzipSync(chunks.get(f).code, { level: 9 }).length, 0);
  const kb = (b) => `${(b / 1024).toFixed(1)} KB`;
  console.log(`search path (M3Index + IdbStore, open + search): ${kb(raw)} minified, ${kb(gz)} gzip, budget ${kb(BUDGET)} gzip (${seen.size} chunk(s))`);
  if (gz > BUDGET) {
    console.error('check-size: over budget');
    process.exitCode = 1;
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
