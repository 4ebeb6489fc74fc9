/**
 * Phrase checks from stored term positions (schema 5 BM25 blocks), so a phrase costs reading its terms'
 * postings instead of the candidates' texts. Positions are those of match.ts positionsOf (one per distinct
 * start offset), so "a b c" holds where some alternative of each clause position sits at p, p + 1, p + 2.
 * Documents in segments written before schema 5 have no positions: they are left undecided, for the
 * text check.
 */
/** What phrase checks need from an index that stores term positions (SegmentBm25). */
export interface PositionIndex {
  /** Live documents holding the term. */
  docFreq(term: string): number;
  /** Whether the live document `key` has its term positions stored. */
  positionsStored(key: number): boolean;
  /**
   * For each live document holding `term` whose `indexOf(key)` is ≥ 0 and whose positions are stored:
   * fn(that index, its positions ascending, their count); `positions` is valid during the call only.
   */
  forEachPositions(term: string, indexOf: (key: number) => number, fn: (i: number, positions: Uint32Array, count: number) => void): void;
}

/** A clause of several positions, each a set of alternative terms. */
export interface PhraseClause {
  positions: readonly (readonly { term: string }[])[];
}

/**
 * Decides `keys` (ascending) from positions: `failed` don't satisfy the query, `undecided` have no stored
 * positions (check their text); the rest do. `satisfies(key, holds)` says whether a document satisfies the
 * query given which phrase clauses it holds.
 */
export function decideFromPositions<C extends PhraseClause>(
  keys: Uint32Array,
  clauses: readonly C[],
  index: PositionIndex,
  satisfies: (key: number, holds: (c: C) => boolean) => boolean,
): { failed: Uint32Array; undecided: Uint32Array } {
  const known: number[] = [];
  const undecided: number[] = [];
  for (const k of keys) (index.positionsStored(k) ? known : undecided).push(k);
  const knownKeys = Uint32Array.from(known);
  const held = new Map<C, Uint8Array>(clauses.map((c) => [c, phraseHolders(c, knownKeys, index)]));
  const failed: number[] = [];
  knownKeys.forEach((k, i) => {
    if (!satisfies(k, (c) => held.get(c)![i] === 1)) failed.push(k);
  });
  return { failed: Uint32Array.from(failed), undecided: Uint32Array.from(undecided) };
}

/**
 * Per key of `keys` (ascending), 1 where the phrase occurs in the document. Each document's possible starts
 * sit in one flat array (a range per document) that every later clause position narrows in place: common
 * words give thousands of candidates, and per-document arrays would cost more in garbage than the decoding.
 */
export function phraseHolders(clause: PhraseClause, keys: Uint32Array, index: PositionIndex): Uint8Array {
  const out = new Uint8Array(keys.length);
  const m = clause.positions.length;
  if (m === 0 || keys.length === 0) return out;
  // Rarest clause position first: the documents still possible shrink fastest, and the lists read after it
  // skip the others' positions.
  const order = clause.positions.map((alts, j) => ({ j, df: alts.reduce((n, a) => n + index.docFreq(a.term), 0) })).sort((a, b) => a.df - b.df);
  const slot = new Int32Array(keys[keys.length - 1] + 1).fill(-1); // key → index in keys while still possible
  keys.forEach((k, i) => (slot[k] = i));
  const indexOf = (key: number) => (key < slot.length ? slot[key] : -1);
  const from = new Int32Array(keys.length);
  const to = new Int32Array(keys.length); // starts of document i: flat[from[i]..to[i]), ascending
  let flat = new Int32Array(1024);
  let used = 0;
  const room = (n: number) => {
    if (used + n <= flat.length) return;
    const next = new Int32Array(Math.max(flat.length * 2, used + n));
    next.set(flat.subarray(0, used));
    flat = next;
  };

  // The first (rarest) position: where the phrase may start.
  const first = order[0].j;
  const firstAlts = clause.positions[first];
  if (firstAlts.length === 1) {
    index.forEachPositions(firstAlts[0].term, indexOf, (i, pos, n) => {
      room(n);
      from[i] = used;
      for (let e = 0; e < n; e++) if (pos[e] >= first) flat[used++] = pos[e] - first;
      to[i] = used;
    });
  } else {
    const lists: (number[] | undefined)[] = new Array(keys.length);
    for (const alt of firstAlts)
      index.forEachPositions(alt.term, indexOf, (i, pos, n) => {
        const l = (lists[i] ??= []);
        for (let e = 0; e < n; e++) if (pos[e] >= first) l.push(pos[e] - first);
      });
    lists.forEach((l, i) => {
      if (!l) return;
      l.sort((a, b) => a - b);
      room(l.length);
      from[i] = used;
      for (const p of l) flat[used++] = p;
      to[i] = used;
    });
  }
  let alive = 0;
  for (let i = 0; i < keys.length; i++) {
    if (to[i] > from[i]) alive++;
    else slot[keys[i]] = -1;
  }

  // Every other position keeps the starts p where one of its alternatives sits at p + j.
  const flag = new Uint8Array(used);
  for (let o = 1; o < order.length && alive > 0; o++) {
    const { j } = order[o];
    flag.fill(0);
    for (const alt of clause.positions[j])
      index.forEachPositions(alt.term, indexOf, (i, pos, n) => {
        let x = from[i];
        const end = to[i];
        let e = 0;
        while (x < end && e < n) {
          const want = flat[x] + j;
          if (want < pos[e]) x++;
          else if (want > pos[e]) e++;
          else flag[x++] = 1;
        }
      });
    alive = 0;
    for (let i = 0; i < keys.length; i++) {
      if (slot[keys[i]] < 0) continue;
      let w = from[i];
      for (let x = from[i]; x < to[i]; x++) if (flag[x]) flat[w++] = flat[x];
      to[i] = w;
      if (w > from[i]) alive++;
      else slot[keys[i]] = -1;
    }
  }
  for (let i = 0; i < keys.length; i++) if (slot[keys[i]] >= 0) out[i] = 1;
  return out;
}
