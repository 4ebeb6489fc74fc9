/// <reference types="vite/client" />
/**
 * The m3-search demo: everything heavy (model, encoding, index, ranking) runs in the library's worker;
 * this thread only draws. On first visit it loads the bundled test model and imports the project's docs as
 * indexed at build time (or indexes them here when that index doesn't fit the model); later visits (offline
 * too) reopen the stored index.
 */
import { App, TINY_MODEL } from './app.ts';
import { setupDocsPanel } from './ui/docs-panel.ts';
import { lastModel, setupModelPanel } from './ui/model-panel.ts';
import { setupSearchPanel } from './ui/search-panel.ts';
import { setupStoragePanel } from './ui/storage-panel.ts';
import { setupTunePanel } from './ui/tune-panel.ts';

const app = new App();
(window as unknown as { m3demo: App }).m3demo = app; // for tests and the curious

setupSearchPanel(app);
setupStoragePanel(app);
setupTunePanel(app);
const docs = setupDocsPanel(app);
const model = setupModelPanel(app, async (count) => {
  if (count === 0 && app.isTestModel) await docs.seedCorpus();
  document.body.dataset.ready = 'yes';
});

// ?device=wasm|webgpu picks the first load's device (the Device menu does the same for later loads).
const device = new URLSearchParams(location.search).get('device');
const firstDevice = device === 'wasm' || device === 'webgpu' ? device : 'auto';
(document.getElementById('device') as HTMLSelectElement).value = firstDevice;

// ?threads=N sets the WASM thread count (default: one per core, at most 8).
const threads = Number(new URLSearchParams(location.search).get('threads')) || undefined;
// ?dtype=q8|fp16|fp32 picks the first load's dtype, as the Dtype menu does for later loads.
const dtype = new URLSearchParams(location.search).get('dtype');
const firstDtype = (['q8', 'fp16', 'fp32'] as const).find((d) => d === dtype);
if (firstDtype) (document.getElementById('dtype') as HTMLSelectElement).value = firstDtype;

// The service worker exists only in a production build (vite build): it precaches the app and ORT's runtime;
// the library's model cache keeps the models, so a reload works with the network gone. Registered after the
// first load, so its precache does not compete with the model load and indexing for the first answer.
void (async () => {
  // The model used last time (kept in the model cache, so this works offline), else the bundled test model.
  const last = lastModel();
  const t = { ...(threads ? { threads } : {}), ...(firstDtype ? { dtype: firstDtype } : {}) };
  if (!last || !(await model.load({ ...last, ...t, device: device ? firstDevice : last.device })))
    await model.load({ model: TINY_MODEL, device: firstDevice, ...t });
})().finally(() => {
  if (import.meta.env.PROD && 'serviceWorker' in navigator) {
    navigator.serviceWorker.register('/sw.js', { scope: '/' }).catch((e) => console.warn('service worker not registered:', e));
  }
});
