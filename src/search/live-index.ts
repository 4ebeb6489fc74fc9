/**
 * The in-memory form of an index: built once from the stored segments on open, then extended by
 * each committed segment (ours, or another tab's). Searches read only these structures.
 *
 * Rows are vector rows (a document, or one passage of it) numbered in segment order; keys are the
 * stored document keys (uint32, never reused). Dead keys (tombstones) keep their rows until
 * compaction, masked out of every search.
 */
import { DenseMatrix } from '../rank/dense-scan.ts';
import { DEFAULT_BM25_PARAMS, type Bm25DocTerms } from '../rank/bm25.ts';
import { SegmentBm25 } from './segment-bm25.ts';
import type { AnalyzerOptions } from '../rank/analyzer.ts';
import type { Bm25Block, ColbertBlock, SegmentRecord, SparseBlock } from '../store/types.ts';
import type { SparseTopSegment } from './sparse-top.ts';

export interface LiveSegment {
  seq: number;
  rowBase: number;
  rows: number;
  keys: Uint32Array;
  rowDoc: Uint32Array;
  rowSpans: Uint32Array;
  sparse: SparseBlock | null;
  colbert: ColbertBlock | null;
  bm25: Bm25Block | null;
}

export interface LiveOptions {
  dims: number;
  bm25: boolean;
  analyzer?: AnalyzerOptions;
}

export class LiveIndex {
  readonly dims: number;
  dense: DenseMatrix | null = null;
  private bm25Index: SegmentBm25 | null;
  /** Segments whose BM25 postings are not in bm25Index yet (added in blocks on the next use). */
  private bm25Pending: { seg: LiveSegment }[] = [];
  readonly segments: LiveSegment[] = [];
  sparseSegments: SparseTopSegment[] = [];
  /** Global row → document key. */
  rowKey = new Uint32Array(1024);
  rows = 0;
  /** Per key: id, metadata, first row, row count, alive flag. */
  keyId: (string | undefined)[] = [];
  keyMeta: (Record<string, unknown> | null)[] = [];
  keyRow0 = new Uint32Array(1024);
  keyRows = new Uint32Array(1024);
  alive = new Uint8Array(1024);
  readonly idToKey = new Map<string, number>();
  liveDocs = 0;
  /** Some document has more than one row (passages). */
  chunked = false;
  hasColbert = false;

  constructor(opts: LiveOptions) {
    this.dims = opts.dims;
    this.bm25Index = opts.bm25 ? new SegmentBm25(DEFAULT_BM25_PARAMS, opts.analyzer) : null;
  }

  /** The BM25 index, brought up to date with the segments appended since the last use. */
  get bm25(): SegmentBm25 | null {
    if (!this.bm25Index || !this.bm25Pending.length) return this.bm25Index;
    // Segments are registered as they are (their postings are read per query term).
    this.bm25Index.addBlocks(
      this.bm25Pending.map(({ seg }) => ({ keys: seg.keys, bm25: seg.bm25! })),
      (k) => this.alive[k] === 1,
    );
    this.bm25Pending = [];
    return this.bm25Index;
  }

  /** Builds from stored segments; BM25 reads the segments' postings in place (no analysis, no merge). */
  static build(segments: SegmentRecord[], tombstones: Iterable<number>, opts: LiveOptions): LiveIndex {
    const live = new LiveIndex(opts);
    const dead = new Set(tombstones);
    // One dense allocation for every stored row (growing by steps would copy and re-fault pages).
    let rows = 0;
    for (const s of segments) rows += s.rowDoc.length;
    if (segments.some((s) => s.dense)) live.dense = new DenseMatrix(opts.dims, { initialCapacity: Math.max(rows, 1024) });
    for (const s of segments) live.appendRows(s, dead);
    if (opts.bm25) {
      const sources = segments.filter((s) => s.bm25).map((s) => ({ keys: s.keys, bm25: s.bm25! }));
      live.bm25Index!.addBlocks(sources, dead.size ? (k) => !dead.has(k) : undefined);
    }
    return live;
  }

  /**
   * A segment committed after the build. `docTerms` (the batch's analysed documents) is accepted for
   * callers that have it, but the segment's own BM25 block is cheaper to add, so it is not used.
   */
  appendSegment(seg: SegmentRecord, docTerms?: Iterable<Bm25DocTerms>): void {
    void docTerms;
    if (this.segments.some((s) => s.seq === seg.seq)) return;
    this.appendRows(seg, new Set());
    if (this.bm25Index && seg.bm25) {
      this.bm25Pending.push({ seg: this.segments[this.segments.length - 1] });
    }
  }

  /** BM25 registered again from the segments as they are now (live-merge.ts swapped some). O(documents). */
  resetBm25(): void {
    if (!this.bm25Index) return;
    const bm25 = new SegmentBm25(this.bm25Index.params, this.bm25Index.analyzerOptions);
    bm25.addBlocks(
      this.segments.filter((s) => s.bm25).map((s) => ({ keys: s.keys, bm25: s.bm25! })),
      (key) => this.alive[key] === 1,
    );
    this.bm25Index = bm25;
    this.bm25Pending = [];
  }

  private appendRows(seg: SegmentRecord, dead: Set<number>): void {
    const rowBase = this.rows;
    const n = seg.rowDoc.length;
    this.ensureRows(rowBase + n);
    for (let r = 0; r < n; r++) this.rowKey[rowBase + r] = seg.keys[seg.rowDoc[r]];
    this.rows += n;
    let maxKey = 0;
    for (let i = 0; i < seg.keys.length; i++) maxKey = Math.max(maxKey, seg.keys[i]);
    this.ensureKeys(maxKey + 1);
    for (let i = 0; i < seg.keys.length; i++) {
      const key = seg.keys[i];
      this.keyId[key] = seg.ids[i];
      this.keyMeta[key] = seg.metadata[i];
      this.keyRows[key] = 0;
    }
    for (let r = 0; r < n; r++) {
      const key = seg.keys[seg.rowDoc[r]];
      if (this.keyRows[key]++ === 0) this.keyRow0[key] = rowBase + r;
      else this.chunked = true;
    }
    if (seg.dense || this.dense) {
      this.dense ??= new DenseMatrix(this.dims, { initialCapacity: Math.max(n, 1024) });
      if (seg.dense) this.dense.append(seg.dense.codes, seg.dense.scales, seg.dense.residual);
      else this.dense.append(new Int8Array(n * this.dims), new Float32Array(n)); // rows stay aligned
    }
    this.segments.push({
      seq: seg.seq,
      rowBase,
      rows: n,
      keys: seg.keys,
      rowDoc: seg.rowDoc,
      rowSpans: seg.rowSpans,
      sparse: seg.sparse,
      colbert: seg.colbert,
      bm25: seg.bm25,
    });
    if (seg.sparse) this.sparseSegments = [...this.sparseSegments, { rowBase, rows: n, sparse: seg.sparse }];
    if (seg.colbert) this.hasColbert = true;
    for (let i = 0; i < seg.keys.length; i++) {
      const key = seg.keys[i];
      if (dead.has(key)) {
        this.alive[key] = 0;
        if (this.dense) for (let r = 0; r < this.keyRows[key]; r++) this.dense.removeRow(this.keyRow0[key] + r);
        continue;
      }
      const old = this.idToKey.get(seg.ids[i]);
      if (old !== undefined && old !== key && this.alive[old]) this.kill(old); // replaced in another tab
      this.alive[key] = 1;
      this.idToKey.set(seg.ids[i], key);
      this.liveDocs++;
    }
  }

  /** Tombstones a key in memory: masked from every signal from now on. */
  kill(key: number): void {
    if (!this.alive[key]) return;
    this.alive[key] = 0;
    this.liveDocs--;
    const id = this.keyId[key];
    if (id !== undefined && this.idToKey.get(id) === key) this.idToKey.delete(id);
    if (this.dense) for (let r = 0; r < this.keyRows[key]; r++) this.dense.removeRow(this.keyRow0[key] + r);
    this.bm25Index?.remove(key); // a no-op for pending docs, which the flush skips as dead
  }

  /** The segment holding global row `row` (binary search over rowBase). */
  segmentOfRow(row: number): LiveSegment {
    const s = this.segments;
    let lo = 0;
    let hi = s.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (s[mid].rowBase <= row) lo = mid;
      else hi = mid - 1;
    }
    return s[lo];
  }

  get keyCapacity(): number {
    return this.alive.length;
  }

  private ensureRows(n: number): void {
    if (n <= this.rowKey.length) return;
    const next = new Uint32Array(Math.max(n, this.rowKey.length * 2));
    next.set(this.rowKey.subarray(0, this.rows));
    this.rowKey = next;
  }

  private ensureKeys(n: number): void {
    if (n <= this.alive.length) return;
    const cap = Math.max(n, this.alive.length * 2);
    const grow = <T extends Uint32Array | Uint8Array>(a: T, C: new (n: number) => T): T => {
      const b = new C(cap);
      b.set(a);
      return b;
    };
    this.keyRow0 = grow(this.keyRow0, Uint32Array);
    this.keyRows = grow(this.keyRows, Uint32Array);
    this.alive = grow(this.alive, Uint8Array);
  }
}
