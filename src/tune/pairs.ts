/**
 * Training pairs (query, relevant document id): the user's own, clicks logged by the demo, and pseudo-queries
 * mined from the corpus itself — a document's title against its body, or a sentence held out of its document
 * (the span is masked out of the positive, so the pair is not a trivial copy).
 */
import { mulberry32 } from '../util/random.ts';
export type PairSource = 'user' | 'click' | 'title' | 'sentence';

export interface TrainingPair {
  query: string;
  docId: string;
  source: PairSource;
  /** Characters [start, end) of the document's text held out of it when it is this pair's positive. */
  span?: [number, number];
}

export interface PseudoQueryOptions {
  /** Held-out sentences per document (default 2). */
  sentencesPerDoc?: number;
  /** Use a first line (a title) as a query against the rest (default true). */
  titles?: boolean;
  minWords?: number;
  maxWords?: number;
  seed?: number;
}

const words = (s: string) => s.split(/\s+/).filter((w) => /[\p{L}\p{N}]/u.test(w)).length;

export function minePseudoQueries(docs: { id: string; text: string }[], opts: PseudoQueryOptions = {}): TrainingPair[] {
  const perDoc = opts.sentencesPerDoc ?? 2;
  const minW = opts.minWords ?? 4;
  const maxW = opts.maxWords ?? 40;
  const rand = mulberry32(opts.seed ?? 1);
  const out: TrainingPair[] = [];
  for (const d of docs) {
    const text = d.text;
    let bodyStart = 0;
    const nl = text.indexOf('\n');
    if (nl > 0) {
      const title = text.slice(0, nl).trim();
      const w = words(title);
      if (opts.titles !== false && w >= 2 && w <= maxW && words(text.slice(nl + 1)) >= minW) {
        out.push({ query: title, docId: d.id, source: 'title', span: [0, nl] });
      }
      bodyStart = nl + 1;
    }
    // Sentences of the body: ends at . ! ? followed by white space (or the end).
    const spans: [number, number][] = [];
    const re = /[^.!?]+(?:[.!?]+|$)/g;
    const body = text.slice(bodyStart);
    for (let m = re.exec(body); m; m = re.exec(body)) {
      if (m[0].length === 0) {
        re.lastIndex++;
        continue;
      }
      const lead = m[0].length - m[0].trimStart().length;
      const s = bodyStart + m.index + lead;
      const e = bodyStart + m.index + m[0].trimEnd().length;
      const w = words(text.slice(s, e));
      if (w >= minW && w <= maxW) spans.push([s, e]);
    }
    if (spans.length < 2) continue; // a document that is one sentence has nothing left once it is held out
    for (let k = 0; k < perDoc && spans.length > 1; k++) {
      const [s, e] = spans.splice(Math.floor(rand() * spans.length), 1)[0];
      out.push({ query: text.slice(s, e), docId: d.id, source: 'sentence', span: [s, e] });
    }
  }
  return out;
}

/** `{"query": …, "docId": …}` JSON lines (also `doc_id`/`id`), or `query<TAB>docId` lines. */
export function parsePairs(text: string, source: PairSource = 'user'): TrainingPair[] {
  const out: TrainingPair[] = [];
  text.split(/\r?\n/).forEach((line, n) => {
    const l = line.trim();
    if (!l) return;
    if (l.startsWith('{')) {
      let o: any;
      try {
        o = JSON.parse(l);
      } catch (e: any) {
        throw new Error(`pairs line ${n + 1}: invalid JSON (${e?.message ?? e})`);
      }
      const docId = o.docId ?? o.doc_id ?? o.id;
      if (typeof o.query !== 'string' || (typeof docId !== 'string' && typeof docId !== 'number')) {
        throw new Error(`pairs line ${n + 1}: expected {"query": string, "docId": string}`);
      }
      out.push({ query: o.query, docId: String(docId), source });
      return;
    }
    const tab = l.lastIndexOf('\t');
    if (tab <= 0) throw new Error(`pairs line ${n + 1}: expected JSON or "query<TAB>docId"`);
    out.push({ query: l.slice(0, tab), docId: l.slice(tab + 1).trim(), source });
  });
  return out;
}

/** Keeps pairs whose document exists and whose query has a word; reports the rest. */
export function checkPairs(pairs: TrainingPair[], has: (id: string) => boolean): { ok: TrainingPair[]; unknownIds: string[]; empty: number } {
  const ok: TrainingPair[] = [];
  const unknown = new Set<string>();
  let empty = 0;
  for (const p of pairs) {
    if (!p || typeof p.query !== 'string' || typeof p.docId !== 'string') throw new TypeError('each pair must be { query: string, docId: string }');
    if (!has(p.docId)) unknown.add(p.docId);
    else if (!/[\p{L}\p{N}]/u.test(p.query)) empty++;
    else ok.push(p);
  }
  return { ok, unknownIds: [...unknown], empty };
}

/** Held-out split by document (all pairs of one document on the same side), deterministic in the seed. */
export function splitHeldOut(pairs: TrainingPair[], fraction: number, seed = 7): { train: TrainingPair[]; heldOut: TrainingPair[] } {
  if (!(fraction >= 0 && fraction < 1)) throw new RangeError(`heldOut must be in [0, 1), got ${fraction}`);
  const side = new Map<string, boolean>();
  const rand = mulberry32(seed);
  const ids = [...new Set(pairs.map((p) => p.docId))].sort();
  for (const id of ids) side.set(id, rand() < fraction);
  const train: TrainingPair[] = [];
  const heldOut: TrainingPair[] = [];
  for (const p of pairs) (side.get(p.docId) ? heldOut : train).push(p);
  // Tiny sets: keep at least one pair on each side when there are two or more.
  if (fraction > 0 && heldOut.length === 0 && train.length > 1) heldOut.push(train.pop()!);
  return { train, heldOut };
}
