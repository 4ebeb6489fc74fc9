/** Search as you type (the word being typed is a prefix), mode / weight / fusion controls, results and latency. */
import { QuerySyntaxError } from '../../src/query/parse.ts';
import { asYouType } from '../../src/query/typing.ts';
import type { FusionMode, SearchMode, SignalName } from '../../src/search/types.ts';
import type { WorkerSearchOptions } from '../../src/worker/api.ts';
import { type App, errorText } from '../app.ts';
import { byId, fill, say } from './dom.ts';
import { ms } from './format.ts';
import { renderHit, scales } from './results.ts';
import { logClick } from '../clicks.ts';

const DEBOUNCE_MS = 120;

export interface SearchPanel {
  run(): Promise<void>;
}

export function setupSearchPanel(app: App): SearchPanel {
  const input = byId<HTMLInputElement>('q');
  const results = byId<HTMLOListElement>('results');
  const status = byId('search-status');
  const fusion = byId<HTMLSelectElement>('fusion');
  const rerank = byId<HTMLInputElement>('rerank');
  const sliders = [...document.querySelectorAll<HTMLInputElement>('input[type=range][data-signal]')];
  let seq = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const options = (): WorkerSearchOptions => {
    const mode = (document.querySelector<HTMLInputElement>('input[name=mode]:checked')?.value ?? 'hybrid') as SearchMode;
    const weights: Partial<Record<SignalName, number>> = {};
    for (const s of sliders) weights[s.dataset.signal as SignalName] = Number(s.value);
    return { k: 10, mode, weights, fusion: fusion.value as FusionMode, explain: true, ...(rerank.checked ? { rerank: { colbert: true, topN: 100 } } : {}) };
  };

  /** `typing`: from a keystroke, so the last word, still being typed, is a prefix; Enter searches the text as it is. */
  async function run(typing = false): Promise<void> {
    const my = ++seq;
    const q = typing ? asYouType(input.value) : input.value;
    if (!q.trim()) {
      fill(results);
      say(status, app.indexReady ? 'Type to search.' : '');
      document.body.dataset.search = 'empty';
      return;
    }
    if (!app.indexReady) return say(status, 'The index is still opening…');
    document.body.dataset.search = 'busy';
    const t0 = performance.now();
    try {
      const r = await app.client.search(q, options());
      if (my !== seq) return; // a newer keystroke won
      const roundTrip = performance.now() - t0;
      const scale = scales(r.hits);
      fill(results, ...r.hits.map((hit, i) => renderHit(hit, i + 1, scale)));
      const asked = q === input.value ? '' : `; searched “${q}”`;
      say(
        status,
        r.hits.length
          ? `${r.hits.length} result${r.hits.length === 1 ? '' : 's'} in ${ms(r.ms)} (worker; ${ms(roundTrip)} round trip${asked})`
          : `No results for “${q}” (${ms(r.ms)}).`,
      );
      document.body.dataset.search = 'done';
    } catch (e) {
      if (my !== seq) return;
      fill(results);
      say(status, `Search failed: ${errorText(e)}`, 'error');
      document.body.dataset.search = 'error';
      // Point at the culprit: the error crossed the worker boundary with its class and position intact.
      if (e instanceof QuerySyntaxError && q === input.value) input.setSelectionRange(e.position, e.position + 1);
    }
  }

  // A click on a result (its title, text or "Full text") logs a (query, doc) training pair. Clicks, not
  // `toggle` events: "Why it matched" is rendered open, and that fires toggle for every hit shown.
  results.addEventListener('click', (e) => {
    const hit = (e.target as Element | null)?.closest?.('[data-doc-id]');
    if (hit && app.encoder && input.value.trim()) logClick(app.indexName(app.encoder), { query: input.value, docId: hit.getAttribute('data-doc-id')! });
  });

  const schedule = () => {
    clearTimeout(timer);
    timer = setTimeout(() => void run(true), DEBOUNCE_MS);
  };
  input.addEventListener('input', schedule);
  byId('search-form').addEventListener('submit', (e) => {
    e.preventDefault();
    clearTimeout(timer);
    void run();
  });
  for (const r of document.querySelectorAll<HTMLInputElement>('input[name=mode]')) r.addEventListener('change', () => void run());
  for (const s of sliders)
    s.addEventListener('input', () => {
      const out = s.nextElementSibling;
      if (out) out.textContent = Number(s.value).toFixed(2);
      schedule();
    });
  fusion.addEventListener('change', () => void run());
  rerank.addEventListener('change', () => void run());
  app.on((what) => {
    input.disabled = !app.indexReady;
    if (what === 'index' && input.value.trim()) void run();
  });
  return { run };
}
