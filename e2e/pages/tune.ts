// Playwright drives head tuning through this page: the library (tuneSparseHead & co. included) and the training
// internals on window.m3, and a corpus the tiny tokenizer knows.
import * as lib from '../../src/index.ts';
import * as internal from '../../src/internal.ts';

const m3 = { ...lib, ...internal };

const TOPICS = ['boundary layer', 'shock wave', 'heat transfer', 'swept wing', 'flutter speed', 'jet noise'];
const PLACES = ['edge', 'nose', 'tail', 'root', 'tip', 'wall'];

(window as any).m3 = m3;
(window as any).tuneCorpus = Array.from({ length: 36 }, (_, i) => ({
  id: `d${i}`,
  text: `${TOPICS[i % 6]} study ${i}\nThe flow over a plate was measured at station ${i}. A ${TOPICS[i % 6]} formed near the ${PLACES[(i * 5) % 6]}. Results agree with the theory of the ${TOPICS[(i + 1) % 6]}.`,
}));
(window as any).m3Ready = true;

/** Loads the tiny model on `device` and opens (or creates, with `add`) the IndexedDB index `name`. */
(window as any).openTuneIndex = async (device: 'wasm' | 'webgpu', name: string, add: boolean) => {
  const encoder = await m3.M3Encoder.load({ model: '/models/tiny-m3', device, dtype: 'fp32', verify: 'never' });
  const index = await m3.M3Index.open(name, { encoder, store: new m3.IdbStore(name) });
  if (add) await index.add((window as any).tuneCorpus);
  return { encoder, index };
};
