// Plain Node ESM, as a build script or a service uses the package: index a folder of .txt files into a
// FileStore, close, reopen from disk, search. Prints one JSON line for the test.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FileStore, M3Encoder, M3Index } from 'm3-search/node';

const [model, folder, indexDir, query] = process.argv.slice(2);
const docs = readdirSync(folder)
  .filter((f) => f.endsWith('.txt'))
  .map((f) => ({ id: f.replace(/\.txt$/, ''), text: readFileSync(join(folder, f), 'utf8') }));

const encoder = await M3Encoder.load({ model });
const first = await M3Index.open('docs', { encoder, store: new FileStore(indexDir) });
await first.add(docs);
const before = (await first.search(query, { k: 3 })).map((h) => ({ id: h.id, score: h.score }));
first.close();

const again = await M3Index.open('docs', { encoder, store: new FileStore(indexDir) });
const after = (await again.search(query, { k: 3 })).map((h) => ({ id: h.id, score: h.score }));
const out = { device: encoder.info.device, count: again.count(), before, after };
again.close();
await encoder.dispose();
console.log(JSON.stringify(out));
