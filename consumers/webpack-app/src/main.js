// The worker API, as a webpack 5 app uses it: createM3Worker() (webpack bundles the package's worker from its
// new URL('./m3.worker.js', import.meta.url)), the model on WASM, an IndexedDB index inside the worker.
import { createM3Worker } from 'm3-search';
import { DOCS, QUERY } from './shared-page.js';

window.m3check = async (phase) => {
  const m3 = createM3Worker();
  try {
    const info = await m3.load({ model: '/models/tiny-m3', device: 'wasm', verify: 'never' });
    await m3.openIndex('consumer');
    if (phase === 'first') await m3.add(DOCS);
    const { hits } = await m3.search(QUERY, { k: 3 });
    const status = await m3.status();
    return { device: info.device, isolated: status.crossOriginIsolated, count: await m3.count(), hits: hits.map((h) => ({ id: h.id, score: h.score })) };
  } finally {
    m3.terminate();
  }
};
document.title = 'ready';
