/** Indexing: the project docs, pasted text, dropped files; progress with docs/s and time left; cancel. */
import type { IndexDoc } from '../../src/search/types.ts';
import { type App, errorText, type IngestView } from '../app.ts';
import { readDocs, RefusedFile } from '../files.ts';
import { byId, say } from './dom.ts';
import { seconds } from './format.ts';

export interface DocsPanel {
  indexCorpus(): Promise<void>;
  /** A first visit: the corpus as indexed at build time (demo-index/), else indexed here. */
  seedCorpus(): Promise<void>;
}

/** The static package scripts/build-demo-index.ts writes (the CLI's `index --static`). */
const DEMO_INDEX_URL = '/demo-index/';

interface Corpus {
  sources: string[];
  docs: IndexDoc[];
}

export function setupDocsPanel(app: App): DocsPanel {
  const corpusButton = byId<HTMLButtonElement>('index-corpus');
  const corpusInfo = byId('corpus-info');
  const pasteForm = byId<HTMLFormElement>('paste-form');
  const paste = byId<HTMLTextAreaElement>('paste');
  const pasteButton = pasteForm.querySelector('button')!;
  const drop = byId('drop');
  const files = byId<HTMLInputElement>('files');
  const block = byId('index-progress-block');
  const bar = byId<HTMLProgressElement>('index-progress');
  const label = byId('index-progress-label');
  const cancel = byId<HTMLButtonElement>('cancel-index');
  const msg = byId('docs-msg');
  let corpus: Promise<Corpus> | null = null;

  const loadCorpus = () =>
    (corpus ??= fetch('/demo-corpus.json').then(async (r) => {
      if (!r.ok) throw new Error(`demo-corpus.json: HTTP ${r.status} (run scripts/build-demo-corpus.ts)`);
      const c = (await r.json()) as Corpus;
      corpusInfo.textContent = `The project's own documentation: ${c.docs.length} sections from ${c.sources.join(', ') || 'no files'}.`;
      return c;
    }));

  let last: IngestView | null = null;
  const progress = (v: IngestView) => {
    last = v;
    block.hidden = false;
    bar.value = v.total ? v.done / v.total : 0;
    const secs = Math.max((performance.now() - v.startedAt) / 1000, 1e-3);
    const rate = v.done / secs;
    const left = v.done ? (v.total - v.done) / rate : NaN;
    label.textContent =
      `${v.done} of ${v.total} documents · ${v.done ? rate.toFixed(rate < 10 ? 1 : 0) : '…'} docs/s · ` +
      `${v.tokens ? Math.round(v.tokens / secs) : '…'} tokens/s on ${v.device} · ${v.done ? `${seconds(left)} left` : 'estimating time left'}`;
  };

  async function run(docs: IndexDoc[], what: string): Promise<void> {
    if (!docs.length) return say(msg, `${what}: nothing to index (empty).`, 'error');
    document.body.dataset.indexing = 'yes';
    say(msg, `Indexing ${what}…`);
    const t0 = performance.now();
    try {
      last = null;
      const n = await app.index(docs, progress);
      const secs = (performance.now() - t0) / 1000;
      const rate = n / secs;
      const v = last as IngestView | null;
      const tokens = v ? `, ${Math.round(v.tokens / secs)} tokens/s on ${v.device}` : '';
      say(msg, `Indexed ${n} document${n === 1 ? '' : 's'} from ${what} in ${secs.toFixed(1)} s (${rate.toFixed(rate < 10 ? 1 : 0)} docs/s${tokens}).`, 'ok');
    } catch (e) {
      if ((e as Error)?.name === 'AbortError') say(msg, `Cancelled. The batches finished before the cancel stay in the index.`);
      else say(msg, `Indexing ${what} failed: ${errorText(e)}`, 'error');
    } finally {
      block.hidden = true;
      document.body.dataset.indexing = 'no';
    }
  }

  async function indexCorpus(): Promise<void> {
    try {
      const c = await loadCorpus();
      await run(c.docs, 'the project docs');
    } catch (e) {
      say(msg, errorText(e), 'error');
    }
  }

  async function seedCorpus(): Promise<void> {
    const t0 = performance.now();
    say(msg, 'Loading the index of the project docs built with the site…');
    try {
      const r = await app.client.importStatic(DEMO_INDEX_URL);
      app.emit('index');
      const secs = ((performance.now() - t0) / 1000).toFixed(1);
      say(
        msg,
        `Loaded ${r.count} sections of the project docs, indexed at build time by \`m3-search index --static\` (version ${r.version}), in ${secs} s. “Index the project docs” encodes them here instead.`,
        'ok',
      );
    } catch (e) {
      // Another dtype or device than the package was built for, or no package: encode the corpus here.
      console.info(`demo index not used: ${errorText(e)}`);
      await indexCorpus();
    }
  }

  async function indexFiles(list: File[]): Promise<void> {
    if (!list.length) return;
    let docs: IndexDoc[];
    try {
      docs = await readDocs(list);
    } catch (e) {
      const reason = e instanceof RefusedFile ? e.message : errorText(e);
      return say(msg, `Nothing was indexed: ${reason}.`, 'error');
    }
    await run(docs, list.length === 1 ? list[0].name : `${list.length} files`);
  }

  corpusButton.addEventListener('click', () => void indexCorpus());
  cancel.addEventListener('click', () => app.cancelIndexing());
  pasteForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const text = paste.value;
    if (!text.trim()) return say(msg, 'Paste some text first.', 'error');
    const id = `pasted-${new Date().toISOString()}`;
    void run([{ id, text, metadata: { title: 'Pasted text' } }], 'pasted text').then(() => (paste.value = ''));
  });
  files.addEventListener('change', () => {
    void indexFiles([...(files.files ?? [])]);
    files.value = '';
  });
  for (const type of ['dragenter', 'dragover'] as const)
    drop.addEventListener(type, (e) => {
      e.preventDefault();
      drop.classList.add('over');
    });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    void indexFiles([...(e.dataTransfer?.files ?? [])]);
  });

  app.on(() => {
    const can = app.indexReady;
    corpusButton.disabled = !can || app.indexing;
    pasteButton.disabled = !can || app.indexing;
    files.disabled = !can || app.indexing;
  });
  void loadCorpus().catch((e) => say(msg, errorText(e), 'error'));
  return { indexCorpus, seedCorpus };
}
