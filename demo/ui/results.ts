/** One search hit as DOM: score bars per signal, the text with matched terms marked, and why it matched. */
import type { Hit, SignalName } from '../../src/search/types.ts';
import { h } from './dom.ts';
import { score } from './format.ts';

const SIGNALS: { name: SignalName; label: string }[] = [
  { name: 'dense', label: 'Dense' },
  { name: 'sparse', label: 'Sparse' },
  { name: 'colbert', label: 'ColBERT' },
  { name: 'bm25', label: 'BM25' },
];
const SNIPPET = 360;

/** Sparse and BM25 scores have no fixed range: their bars are relative to the best hit shown. */
export function scales(hits: Hit[]): Record<SignalName, number> {
  const max = (s: SignalName) => Math.max(1e-9, ...hits.map((x) => x.signals[s]?.score ?? 0));
  return { dense: 1, colbert: 1, sparse: max('sparse'), bm25: max('bm25') };
}

export function renderHit(hit: Hit, rank: number, scale: Record<SignalName, number>): HTMLLIElement {
  const title = typeof hit.metadata?.title === 'string' ? hit.metadata.title : hit.id;
  const file = typeof hit.metadata?.file === 'string' ? hit.metadata.file : '';
  const text = hit.text ?? '';
  const bodyStart = text.startsWith(`${title}\n\n`) ? title.length + 2 : 0; // corpus sections start with their title

  return h(
    'li',
    { class: 'hit', 'data-doc-id': hit.id },
    h(
      'div',
      { class: 'hit-head' },
      h('h3', {}, h('span', { class: 'rank', 'aria-hidden': 'true' }, `${rank}.`), ' ', title),
      h('span', { class: 'hit-score', title: 'fused score' }, `score ${score(hit.score)}`),
    ),
    file ? h('p', { class: 'hit-file' }, file) : null,
    bars(hit, scale),
    h('p', { class: 'snippet' }, ...marked(text, hit.highlights ?? [], ...snippetWindow(text, hit.highlights ?? [], bodyStart))),
    why(hit),
    text.length - bodyStart > SNIPPET
      ? h('details', { class: 'full' }, h('summary', {}, 'Full text'), h('div', { class: 'full-text' }, ...marked(text, hit.highlights ?? [], 0, text.length)))
      : null,
  );
}

function bars(hit: Hit, scale: Record<SignalName, number>): HTMLElement {
  const list = h('dl', { class: 'bars' });
  for (const { name, label } of SIGNALS) {
    const s = hit.signals[name];
    const frac = s ? Math.max(0, Math.min(1, s.score / scale[name])) : 0;
    const fill = h('span', { class: `fill sig-${name}` });
    fill.style.width = `${(frac * 100).toFixed(1)}%`;
    list.append(
      h('dt', { class: `sig-${name}` }, label),
      h(
        'dd',
        {},
        h('span', { class: 'track', 'aria-hidden': 'true' }, fill),
        h('span', { class: 'value' }, s ? `${score(s.score)}${s.rank ? ` · #${s.rank}` : ''}` : 'not used'),
      ),
    );
  }
  return list;
}

/** Text nodes with <mark> around the highlighted spans, cut to [from, to). */
function marked(text: string, spans: { start: number; end: number }[], from: number, to: number): (Node | string)[] {
  const out: (Node | string)[] = [];
  if (from > 0) out.push('… ');
  let at = from;
  for (const sp of spans) {
    if (sp.end <= at || sp.start >= to) continue;
    const s = Math.max(sp.start, at);
    const e = Math.min(sp.end, to);
    if (s > at) out.push(text.slice(at, s));
    out.push(h('mark', {}, text.slice(s, e)));
    at = e;
  }
  if (at < to) out.push(text.slice(at, to));
  if (to < text.length) out.push(' …');
  return out;
}

/** A window of the text around the first highlight in the body, cut at word boundaries. */
function snippetWindow(text: string, spans: { start: number; end: number }[], bodyStart: number): [number, number] {
  const first = spans.find((s) => s.start >= bodyStart)?.start ?? bodyStart;
  let from = Math.max(bodyStart, first - 80);
  if (from > bodyStart) {
    const space = text.indexOf(' ', from);
    if (space !== -1 && space < first) from = space + 1;
  }
  let to = Math.min(text.length, from + SNIPPET);
  if (to < text.length) {
    const space = text.lastIndexOf(' ', to);
    if (space > from) to = space;
  }
  return [from, to];
}

function why(hit: Hit): HTMLElement | null {
  const sparse = [...(hit.matches ?? [])].sort((a, b) => b.contribution - a.contribution).slice(0, 10);
  const terms = [...(hit.terms ?? [])].sort((a, b) => b.contribution - a.contribution).slice(0, 8);
  const clauses = hit.clauses ?? [];
  if (!sparse.length && !terms.length && !clauses.length) return null;
  return h(
    'details',
    { class: 'why', open: true },
    h('summary', {}, 'Why it matched'),
    clauses.length
      ? h(
          'div',
          { class: 'why-group why-clauses' },
          h('p', { class: 'why-label' }, 'Query clauses'),
          h(
            'ul',
            { class: 'tokens' },
            ...clauses.map((c) =>
              h(
                'li',
                { class: c.matched ? 'clause-hit' : 'clause-miss' },
                h('code', {}, c.clause),
                ` ${c.matched ? '✓' : '✗'}${c.terms.length ? ` ${c.terms.join(', ')}` : ''}`,
              ),
            ),
          ),
        )
      : null,
    sparse.length
      ? h(
          'div',
          { class: 'why-group' },
          h('p', { class: 'why-label sig-sparse' }, 'Sparse tokens: query weight × document weight'),
          h(
            'ul',
            { class: 'tokens' },
            ...sparse.map((m) =>
              h('li', {}, h('code', {}, m.token || `#${m.tokenId}`), ` ${m.queryWeight.toFixed(2)} × ${m.docWeight.toFixed(2)} = ${m.contribution.toFixed(3)}`),
            ),
          ),
        )
      : null,
    terms.length
      ? h(
          'div',
          { class: 'why-group' },
          h('p', { class: 'why-label sig-bm25' }, 'BM25 terms: score contribution'),
          h('ul', { class: 'tokens' }, ...terms.map((t) => h('li', {}, h('code', {}, t.term), ` ${t.contribution.toFixed(2)}`))),
        )
      : null,
  );
}
