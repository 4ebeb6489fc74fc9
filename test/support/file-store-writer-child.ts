/**
 * Child process for file-store.test.ts's concurrency test: adds `batches` batches of `size` documents
 * (ids `<prefix>-<b>-<i>`) to one FileStore index, one add (one commit) per batch, then exits.
 */
import { M3Index } from '../../src/search/m3-index.ts';
import { corpus } from './test-corpus.ts';
import { FileStore } from '../../src/store/file-store.ts';

const [dir, prefix, batches, size] = [process.argv[2], process.argv[3], Number(process.argv[4]), Number(process.argv[5])];
const idx = await M3Index.open('stress', { store: new FileStore(dir), model: { modelId: 'precomputed', dims: 16, headHash: 'h' } });
for (let b = 0; b < batches; b++) {
  const docs = corpus(size, 16, 7 + b).map((d, i) => ({ ...d, id: `${prefix}-${b}-${i}` }));
  await idx.add(docs, { batchSize: size });
}
idx.close();
process.stdout.write(`done ${prefix}\n`);
