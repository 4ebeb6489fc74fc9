/** Model picker, download progress and the device/dtype badge. */
import type { LoadProgress } from '../../src/encoder/model-source.ts';
import type { WorkerLoadOptions } from '../../src/worker/api.ts';
import { type App, errorText, TINY_MODEL } from '../app.ts';
import { byId, fill, h, say } from './dom.ts';
import { bytes } from './format.ts';

export interface ModelPanel {
  /** Loads a model; resolves true when it is loaded and its index is open. */
  load(options: WorkerLoadOptions): Promise<boolean>;
}

export function setupModelPanel(app: App, afterLoad: (count: number) => Promise<void>): ModelPanel {
  const form = byId<HTMLFormElement>('model-form');
  const choice = byId<HTMLSelectElement>('model-choice');
  const urlRow = byId('model-url-row');
  const headsRow = byId('heads-row');
  const url = byId<HTMLInputElement>('model-url');
  const heads = byId<HTMLInputElement>('heads-url');
  const device = byId<HTMLSelectElement>('device');
  const dtype = byId<HTMLSelectElement>('dtype');
  const keepColbert = byId<HTMLInputElement>('keep-colbert');
  const button = byId<HTMLButtonElement>('load-model');
  const block = byId('model-progress-block');
  const bar = byId<HTMLProgressElement>('model-progress');
  const label = byId('model-progress-label');
  const msg = byId('model-msg');

  const showFields = () => {
    urlRow.hidden = choice.value !== 'url';
    headsRow.hidden = choice.value === 'tiny';
    url.required = choice.value === 'url';
  };
  choice.addEventListener('change', showFields);
  showFields();

  const options = (): WorkerLoadOptions => {
    const o: WorkerLoadOptions = { model: TINY_MODEL, device: device.value as WorkerLoadOptions['device'] };
    if (dtype.value) o.dtype = dtype.value as WorkerLoadOptions['dtype'];
    if (choice.value === 'bge-m3') {
      o.model = 'Xenova/bge-m3';
      // ?hub=URL: a mirror or self-hosted copy in the hub's layout (the tests' local hub) instead of huggingface.co
      const hub = new URLSearchParams(location.search).get('hub');
      if (hub) o.remoteHost = hub;
    }
    if (choice.value === 'url') o.model = url.value.trim();
    if (choice.value !== 'tiny' && heads.value.trim()) o.heads = heads.value.trim();
    return o;
  };

  const onProgress = (p: LoadProgress) => {
    block.hidden = false;
    bar.value = p.totalBytes ? p.loadedBytes / p.totalBytes : 0;
    label.textContent = `Downloading ${p.file}: ${bytes(p.loadedBytes)} of ${bytes(p.totalBytes)} (${p.filesDone} of ${p.filesSeen} files done)`;
  };

  async function load(o: WorkerLoadOptions): Promise<boolean> {
    const previous = app.encoder;
    button.disabled = true;
    document.body.dataset.model = 'loading';
    say(msg, `Loading ${o.model}…`);
    block.hidden = false;
    bar.removeAttribute('value'); // indeterminate until the first byte counts arrive
    label.textContent = 'Starting…';
    app.cancelIndexing();
    try {
      const info = await app.client.load({ ...o, onProgress });
      app.encoder = info;
      app.emit('model');
      const count = await app.openIndex(keepColbert.checked);
      rememberModel(o);
      const loaded = `Loaded ${info.modelId} on ${info.device.toUpperCase()} (${info.dtype}).${choiceText(info)}`;
      if (info.storageWarning) say(msg, `${loaded} ${info.storageWarning}`, 'error');
      else say(msg, loaded, 'ok');
      document.body.dataset.model = 'ready';
      await afterLoad(count);
      return true;
    } catch (e) {
      const still = previous ? ` Still using ${previous.modelId}.` : '';
      say(msg, `Could not load ${o.model}: ${errorText(e)}.${still}`, 'error');
      document.body.dataset.model = previous ? 'ready' : 'failed';
      return false;
    } finally {
      block.hidden = true;
      button.disabled = false;
    }
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (choice.value === 'url' && !url.value.trim())
      return say(msg, 'Give the URL of a model folder (it must hold config.json, tokenizer.json and onnx/).', 'error');
    void load(options());
  });

  app.on((what) => {
    if (what === 'model') renderBadge(app);
  });
  return { load };
}

const LAST_MODEL = 'm3-demo:last-model';

/** The next visit opens the model used last (from the model cache, offline too) instead of the test model. */
function rememberModel(o: WorkerLoadOptions): void {
  try {
    if (o.model === TINY_MODEL) localStorage.removeItem(LAST_MODEL);
    else localStorage.setItem(LAST_MODEL, JSON.stringify(o));
  } catch {
    // private mode or storage off: the next visit starts with the test model
  }
}

export function lastModel(): WorkerLoadOptions | null {
  try {
    const o = JSON.parse(localStorage.getItem(LAST_MODEL) ?? 'null');
    return o && typeof o.model === 'string' ? o : null;
  } catch {
    return null;
  }
}

function renderBadge(app: App): void {
  const info = app.encoder;
  const badge = byId('badge');
  if (!info) return fill(badge, 'No model');
  fill(
    badge,
    h('span', { class: `chip device-${info.device}` }, `${info.device.toUpperCase()} · ${info.dtype}`),
    h('span', { class: 'model-name' }, info.modelId),
    app.isTestModel ? h('span', { class: 'chip warn' }, 'test model, random weights') : null,
    h(
      'span',
      { class: 'chip subtle', id: 'threads', title: info.threads.reason ?? 'WASM threads: one per core (the page is cross-origin isolated)' },
      `${info.threads.used} thread${info.threads.used === 1 ? '' : 's'}`,
    ),
    info.fallbackReason ? h('span', { class: 'fallback' }, `Fallback: ${info.fallbackReason}`) : null,
  );
  byId('test-model-note').hidden = !app.isTestModel;
}

/** Why 'auto' picked this device, with the probe timings when both devices ran it. */
function choiceText(info: NonNullable<App['encoder']>): string {
  const c = info.choice;
  if (!c || c.reason === info.fallbackReason) return ''; // the fallback line in the badge says it already
  const added = c.cached ? ' (decided on an earlier visit)' : c.addedMs > 0 ? ` (choosing added ${Math.round(c.addedMs)} ms to this load)` : '';
  return ` Auto: ${c.reason}${added}.`;
}
