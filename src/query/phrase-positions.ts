/**
 * Phrase checks from stored term positions (schema 5 BM25 blocks), so a phrase costs reading its terms'
 * postings instead of the candidates' texts. Positions are those of match.ts positionsOf (one per distinct
 * start offset), so "a b c" holds where some alternative of each clause position sits at p, p + 1, p + 2.
 * Documents in segments written before schema 5 have no positions: they are left undecided, for the
 * text check.
 */
/** What phrase checks need from an index that stores term positions (SegmentBm25). */
export interface PositionIndex {
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

/** Per key of `keys` (ascending), 1 where the phrase occurs in the document. */
export function phraseHolders(clause: PhraseClause, keys: Uint32Array, index: PositionIndex): Uint8Array {
  const out = new Uint8Array(keys.length);
  const m = clause.positions.length;
  if (m === 0 || keys.length === 0) return out;
  // starts[i]: where the phrase may still start in document i (positions of clause position 0, narrowed by each next one).
  let starts: (number[] | undefined)[] = new Array(keys.length);
  let live = new Map<number, number>(); // key → index among keys, for documents still possible
  keys.forEach((k, i) => live.set(k, i));
  for (let j = 0; j < m && live.size > 0; j++) {
    const at: (Set<number> | undefined)[] = new Array(keys.length); // positions of clause position j, shifted back by j
    const lookup = live;
    const indexOf = (key: number) => lookup.get(key) ?? -1;
    for (const alt of clause.positions[j])
      index.forEachPositions(alt.term, indexOf, (i, pos, n) => {
        const set = (at[i] ??= new Set<number>());
        for (let e = 0; e < n; e++) if (pos[e] >= j) set.add(pos[e] - j);
      });
    const next = new Map<number, number>();
    const nextStarts: (number[] | undefined)[] = new Array(keys.length);
    for (const [key, i] of live) {
      const set = at[i];
      if (!set) continue;
      const kept = j === 0 ? [...set] : starts[i]!.filter((p) => set.has(p));
      if (kept.length === 0) continue;
      nextStarts[i] = kept;
      next.set(key, i);
    }
    starts = nextStarts;
    live = next;
  }
  for (const i of live.values()) out[i] = 1;
  return out;
}
