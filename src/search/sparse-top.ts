/**
 * Exact top-N of learned-sparse scores with MaxScore pruning, segment by segment.
 *
 * In each segment every query token's list is read as a column of uint8 weights by segment-local row: the
 * long lists (the frequent tokens, which most queries share) are decoded once into a column cached beside
 * the segment, the short ones are decoded per query into scratch columns. A token's bound is its query
 * weight · segment scale · its largest stored weight. Tokens whose bounds sum (smallest first) below the
 * N-th best score so far are "non-essential": a row that only they match cannot enter, so only the rows of
 * the essential tokens are visited, each first bounded by its essential weights plus the non-essential
 * bounds, and scored exactly only when that bound can still reach the N-th score.
 *
 * Exactness: a visited row's score is computed as SparseAccumulator computes it (float32 sums in query
 * order of wq · scale · q), so scores are bit-identical, and the pruning bound is widened by the float32
 * rounding the sum may add. TopK breaks ties by key, so the kept set is the exhaustive scan's whatever the
 * visiting order. A list that repeats a row (input that named a token twice) cannot be a column: its
 * segment is scored term-at-a-time, exhaustively.
 */
import type { SparseWeights } from '../encoder/types.ts';
import { TopK } from '../rank/topk.ts';
import { findSparseList, forEachSparseEntry } from '../store/sparse-postings.ts';
import type { SparseBlock } from '../store/types.ts';
import type { SparseSegment } from './sparse-scan.ts';

export interface SparseTopSegment extends SparseSegment {
  rows: number;
}

/** A token's list in one segment: its byte range, and its column once decoded for good. */
interface ListInfo {
  pos: number;
  end: number;
  col: Uint8Array | null;
  /** Largest stored weight. */
  max: number;
  /** The list repeats a row. */
  dup: boolean;
}

/** Lists of at least this many bytes per segment row get a cached column (≥ ~1 entry in 8 rows). */
const COLUMN_MIN_BYTES_PER_ROW = 1 / 4;
/** Cached columns kept at most, in bytes over all segments (no new columns past it). */
const COLUMN_BUDGET_BYTES = 64 << 20;
/** Cached list descriptions per segment (cleared whole when full). */
const LISTS_PER_SEGMENT = 4096;

/** Absolute widening of a bound refined by subtractions (double rounding; scores are ≥ ~1e-6). */
const SLACK = 1e-12;

const NOT_FOUND: ListInfo = { pos: 0, end: 0, col: null, max: 0, dup: false };

export interface SparseTopResult {
  keys: number[];
  scores: number[];
  /** Exact scores of the `must` keys (0 when they share no token with the query). */
  mustScores: Float64Array;
}

export class SparseTop {
  private readonly lists = new WeakMap<SparseBlock, Map<number, ListInfo>>();
  private columnBytes = 0;
  private scratch: Uint8Array[] = [];
  /** Per row of the segment: the essential tokens' f · weight summed (all zero between segments). */
  private part = new Float64Array(0);
  /** The rows of the segment whose `part` the short lists made nonzero, and their count. */
  private touched = new Uint32Array(0);
  private touchedRows = 0;
  private local = new Float32Array(0);
  private readonly at = { pos: 0, end: 0 };
  /** Rows the last run scored exactly (the rest were pruned by their bounds). */
  scored = 0;

  /**
   * The N best rows' keys (score > 0, accepted) best-first, and exact scores for `must` (keys with their
   * rows, ascending by row). `rowKey` maps global rows to keys; `accept(key)` says whether a key may be a hit.
   */
  run(
    query: SparseWeights,
    segments: readonly SparseTopSegment[],
    N: number,
    rowKey: Uint32Array,
    accept: (key: number) => boolean,
    must: { rows: Uint32Array } = { rows: new Uint32Array(0) },
  ): SparseTopResult {
    const top = new TopK(N);
    this.scored = 0;
    const mustScores = new Float64Array(must.rows.length);
    let m = 0; // next must row
    const T = query.ids.length;
    const slots: number[] = []; // query positions with a positive weight
    for (let q = 0; q < T; q++) if (query.weights[q] > 0) slots.push(q);
    const S = slots.length;
    const cols: (Uint8Array | null)[] = new Array(S);
    const infos: ListInfo[] = new Array(S);
    const f = new Float64Array(S);
    const U = new Float64Array(S);
    const order = new Array<number>(S);
    const cost = new Float64Array(S);
    const eps = (S + 1) * 2 ** -23; // float32 rounding a sum of S terms may add, relative
    for (const seg of segments) {
      const { rows, rowBase, sparse } = seg;
      const mustEnd = upper(must.rows, rowBase + rows, m);
      let any = false;
      let dup = false;
      let lists = this.lists.get(sparse);
      if (!lists) this.lists.set(sparse, (lists = new Map()));
      for (let j = 0; j < S; j++) {
        const info = this.listInfo(lists, sparse, query.ids[slots[j]], rows);
        infos[j] = info;
        cols[j] = info.col;
        f[j] = query.weights[slots[j]] * sparse.scale;
        U[j] = info === NOT_FOUND ? 0 : f[j] * info.max;
        if (info !== NOT_FOUND) any = true;
        if (info.dup) dup = true;
      }
      if (!any) {
        m = mustEnd; // their scores stay 0
        continue;
      }
      this.ensureScratch(S, rows);
      if (dup) {
        m = this.exhaustive(seg, slots.length, infos, f, top, rowKey, accept, must.rows, m, mustEnd, mustScores);
        continue;
      }
      // Non-essential tokens: any set whose bounds sum below the N-th score will do; greedily the ones that
      // cost most to visit per unit of bound (a column costs every row, a short list its bytes).
      for (let j = 0; j < S; j++) {
        order[j] = j;
        cost[j] = infos[j].col ? rows : infos[j].end - infos[j].pos;
      }
      order.sort((a, b) => cost[b] * U[a] - cost[a] * U[b] || U[a] - U[b]);
      let theta = top.threshold;
      let neU = 0;
      const probe: number[] = []; // found non-essential tokens
      const essential: number[] = [];
      for (const j of order) {
        if (infos[j] === NOT_FOUND) continue;
        if ((neU + U[j]) * (1 + eps) < theta) {
          neU += U[j];
          probe.push(j);
        } else essential.push(j);
      }
      probe.sort((a, b) => U[b] - U[a]); // largest bound first: the first to replace by the row's own weight
      // The essential tokens' weights summed by row (in any order: this is only the bound's part); their short
      // lists decoded now, the non-essential ones when a row first needs its exact score.
      // Candidates: every row when an essential token has a column, else the rows its short lists name.
      const part = this.part;
      this.touchedRows = 0;
      let allRows = false;
      for (const j of essential) {
        const c = cols[j];
        const fj = f[j];
        if (c) {
          allRows = true;
          for (let r = 0; r < rows; r++) part[r] += fj * c[r];
        } else cols[j] = this.decode(sparse.postings, infos[j], this.scratch[j], part, fj);
      }
      const candidates = allRows ? rows : this.touchedRows;
      const touched = this.touched;
      // A row's bound: its essential weights plus the non-essential bounds, each replaced by the row's own
      // weight (largest bound first) while the bound still reaches the N-th score.
      let decoded = probe.length === 0;
      candidate: for (let i = 0; i < candidates; i++) {
        const r = allRows ? i : touched[i];
        let bound = part[r] + neU;
        if (bound + bound * eps < theta) continue;
        if (!decoded) decoded = this.decodeRest(sparse.postings, infos, cols);
        for (const j of probe) {
          bound += f[j] * cols[j]![r] - U[j];
          if (bound + bound * eps + SLACK < theta) continue candidate;
        }
        const key = rowKey[rowBase + r];
        if (!accept(key)) continue;
        const s = exactScore(cols, f, S, r);
        this.scored++;
        if (s > 0) {
          top.push(key, s);
          theta = top.threshold;
        }
      }
      part.fill(0, 0, rows);
      if (m < mustEnd && !decoded) decoded = this.decodeRest(sparse.postings, infos, cols);
      for (; m < mustEnd; m++) mustScores[m] = exactScore(cols, f, S, must.rows[m] - rowBase);
      // Scratch columns back to zero for the next segment.
      for (let j = 0; j < S; j++) if (cols[j] !== null && cols[j] === this.scratch[j]) this.scratch[j].fill(0, 0, rows);
    }
    const res = top.results();
    return { keys: res.map((r) => r.key), scores: res.map((r) => r.score), mustScores };
  }

  /** A segment with a repeated row: term-at-a-time in query order, as SparseAccumulator scores. */
  private exhaustive(
    seg: SparseTopSegment,
    S: number,
    infos: ListInfo[],
    f: Float64Array,
    top: TopK,
    rowKey: Uint32Array,
    accept: (key: number) => boolean,
    mustRows: Uint32Array,
    m: number,
    mustEnd: number,
    mustScores: Float64Array,
  ): number {
    const { rows, rowBase, sparse } = seg;
    if (this.local.length < rows) this.local = new Float32Array(rows);
    const acc = this.local;
    for (let j = 0; j < S; j++) {
      const info = infos[j];
      if (info === NOT_FOUND) continue;
      forEachSparseEntry(sparse, info.pos, info.end, (r, w) => (acc[r] += f[j] * w));
    }
    for (let r = 0; r < rows; r++) {
      const s = acc[r];
      if (s > 0) {
        const key = rowKey[rowBase + r];
        if (accept(key)) top.push(key, s);
      }
    }
    for (; m < mustEnd; m++) mustScores[m] = acc[mustRows[m] - rowBase];
    acc.fill(0, 0, rows);
    return m;
  }

  private listInfo(map: Map<number, ListInfo>, sparse: SparseBlock, token: number, rows: number): ListInfo {
    let info = map.get(token);
    if (info) return info;
    if (!findSparseList(sparse, token, this.at)) info = NOT_FOUND;
    else {
      info = { pos: this.at.pos, end: this.at.end, col: null, max: 0, dup: false };
      if (info.end - info.pos >= rows * COLUMN_MIN_BYTES_PER_ROW && this.columnBytes + rows <= COLUMN_BUDGET_BYTES) {
        const col = new Uint8Array(rows);
        readInto(sparse, info, col);
        if (!info.dup) {
          info.col = col;
          this.columnBytes += rows;
        }
      } else readInto(sparse, info, null);
    }
    if (map.size >= LISTS_PER_SEGMENT) map.clear();
    map.set(token, info);
    return info;
  }

  /**
   * Decodes a short list's weights into scratch column `col`; with `part`, adds f · weight to it by row and
   * lists in `touched` the rows it makes nonzero.
   */
  private decode(postings: Uint8Array, info: ListInfo, col: Uint8Array, part: Float64Array | null, f: number): Uint8Array {
    let row = 0;
    for (let p = info.pos, end = info.end; p < end; ) {
      let b = postings[p++];
      let gap = b & 0x7f;
      for (let shift = 7; b >= 0x80; shift += 7) {
        b = postings[p++];
        gap |= (b & 0x7f) << shift;
      }
      row += gap;
      const w = postings[p++];
      col[row] = w;
      if (part && w !== 0) {
        if (part[row] === 0) this.touched[this.touchedRows++] = row;
        part[row] += f * w;
      }
    }
    return col;
  }

  /** Decodes every found list that has no column yet (the non-essential short ones) into scratch; true. */
  private decodeRest(postings: Uint8Array, infos: ListInfo[], cols: (Uint8Array | null)[]): true {
    for (let j = 0; j < infos.length; j++) if (cols[j] === null && infos[j] !== NOT_FOUND) cols[j] = this.decode(postings, infos[j], this.scratch[j], null, 0);
    return true;
  }

  private ensureScratch(S: number, rows: number): void {
    if (this.part.length < rows) {
      this.part = new Float64Array(rows);
      this.touched = new Uint32Array(rows);
      this.scratch = [];
    }
    while (this.scratch.length < S) this.scratch.push(new Uint8Array(this.part.length));
  }
}

/** Sets info.max and info.dup (a repeated row); writes the weights into `col` by row when given. */
function readInto(sparse: SparseBlock, info: ListInfo, col: Uint8Array | null): void {
  let max = 0;
  let prev = -1;
  forEachSparseEntry(sparse, info.pos, info.end, (r, w) => {
    if (r === prev) info.dup = true;
    prev = r;
    if (col) col[r] = w;
    if (w > max) max = w;
  });
  info.max = max;
}

/** Row r's score as SparseAccumulator sums it: float32, tokens in query order (a weight 0 adds nothing). */
function exactScore(cols: (Uint8Array | null)[], f: Float64Array, S: number, r: number): number {
  let s = 0;
  for (let j = 0; j < S; j++) {
    const c = cols[j];
    if (c === null) continue;
    const w = c[r];
    if (w !== 0) s = Math.fround(s + f[j] * w);
  }
  return s;
}

/** First index ≥ from whose value is ≥ bound (values ascending). */
function upper(a: Uint32Array, bound: number, from: number): number {
  let i = from;
  while (i < a.length && a[i] < bound) i++;
  return i;
}
