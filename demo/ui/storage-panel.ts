/** Document count, bytes used / quota, persistence, offline readiness; clear, export and import. */
import { type App, errorText } from '../app.ts';
import { byId, say } from './dom.ts';
import { bytes } from './format.ts';

export interface StoragePanel {
  refresh(): Promise<void>;
}

export function setupStoragePanel(app: App): StoragePanel {
  const count = byId('st-count');
  const used = byId('st-bytes');
  const persist = byId('st-persist');
  const offline = byId('st-offline');
  const exportButton = byId<HTMLButtonElement>('export');
  const importButton = byId<HTMLButtonElement>('import');
  const importFile = byId<HTMLInputElement>('import-file');
  const clear = byId<HTMLButtonElement>('clear');
  const msg = byId('storage-msg');

  async function refresh(): Promise<void> {
    if (!app.indexReady) return;
    try {
      const s = await app.client.storage();
      count.textContent = String(s.count);
      used.textContent = `${bytes(s.usage)} of ${bytes(s.quota)}`;
      persist.textContent =
        s.persisted === null ? 'unknown' : s.persisted ? 'yes (the browser will not evict it)' : 'no (the browser may evict it under pressure)';
    } catch (e) {
      say(msg, errorText(e), 'error');
    }
  }

  const updateOffline = () => {
    const sw = 'serviceWorker' in navigator ? navigator.serviceWorker.controller : null;
    offline.textContent = sw
      ? 'ready: the app and the runtime are cached; models once loaded stay in the model cache'
      : 'not yet (no service worker in control)';
  };
  navigator.serviceWorker?.addEventListener('controllerchange', updateOffline);
  updateOffline();

  exportButton.addEventListener('click', async () => {
    try {
      const file = await app.client.exportIndex();
      const name = `m3-search-${app.encoder?.modelId ?? 'index'}-${new Date().toISOString().slice(0, 10)}.m3idx`;
      const url = URL.createObjectURL(new Blob([file as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }));
      const a = Object.assign(document.createElement('a'), { href: url, download: name });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
      say(msg, `Exported ${bytes(file.byteLength)} as ${name}.`, 'ok');
    } catch (e) {
      say(msg, `Export failed: ${errorText(e)}`, 'error');
    }
  });

  importButton.addEventListener('click', () => importFile.click());
  importFile.addEventListener('change', async () => {
    const file = importFile.files?.[0];
    importFile.value = '';
    if (!file) return;
    app.cancelIndexing();
    say(msg, `Checking ${file.name}…`);
    try {
      const info = await app.client.importIndex(file);
      say(msg, `Imported ${info.count} documents from ${file.name}.`, 'ok');
    } catch (e) {
      say(msg, `${file.name} was not imported: ${errorText(e).replace(/^index file refused: /, '')}. The index is unchanged.`, 'error');
    }
    app.emit('index');
  });

  clear.addEventListener('click', async () => {
    app.cancelIndexing();
    try {
      const n = await app.client.count();
      await app.client.clear();
      say(msg, `Cleared ${n} documents. “Index the project docs” brings them back.`, 'ok');
    } catch (e) {
      say(msg, `Clear failed: ${errorText(e)}`, 'error');
    }
    app.emit('index');
  });

  app.on((what) => {
    exportButton.disabled = importButton.disabled = clear.disabled = !app.indexReady;
    if (what === 'index' || what === 'ingest') void refresh();
  });
  return { refresh };
}
