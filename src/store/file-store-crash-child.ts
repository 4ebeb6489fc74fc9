/**
 * Child process for file-store.test.ts: ingests batches into a FileStore index forever, printing
 * "committed <n>" after each commit, until the parent kills it (SIGKILL, mid-write with luck).
 */
import { M3Index } from '../search/m3-index.ts';
import { corpus } from '../search/test-corpus.ts';
import { FileStore } from './file-store.ts';

const dir = process.argv[2];
const idx = await M3Index.open('crash', { store: new FileStore(dir), model: { modelId: 'precomputed', dims: 64, headHash: 'h' } });
// Batches are 50 aligned ids; a batch is present if any of its ids is (one per 3 batches is removed).
let n = 0;
while ([...Array(50).keys()].some((j) => idx.has(`d${n + j}`))) n += 50;
for (let b = 0; ; b++) {
  const docs = corpus(50, 64, 1000 + n).map((d, i) => ({ ...d, id: `d${n + i}` }));
  await idx.add(docs, { batchSize: 50 });
  n += 50;
  if (b % 3 === 2) await idx.remove([`d${n - 7}`]); // tombstones too
  process.stdout.write(`committed ${idx.count()}\n`);
}
