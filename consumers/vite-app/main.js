// The main-thread API, as a Vite app uses it: M3Encoder on WASM, M3Index over IndexedDB.
import { IdbStore, M3Encoder, M3Index } from 'm3-search';
import { DOCS, QUERY } from './shared-page.js';

window.m3check = async (phase) => {
  const encoder = await M3Encoder.load({ model: '/models/tiny-m3', device: 'wasm', verify: 'never' });
  const index = await M3Index.open('consumer', { encoder, store: new IdbStore('consumer') });
  if (phase === 'first') await index.add(DOCS);
  const hits = await index.search(QUERY, { k: 3 });
  const out = {
    device: encoder.info.device,
    isolated: globalThis.crossOriginIsolated,
    count: index.count(),
    hits: hits.map((h) => ({ id: h.id, score: h.score })),
  };
  index.close();
  return out;
};
document.title = 'ready';
