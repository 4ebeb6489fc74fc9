/**
 * Workload m3-bench-v1 (shared/BENCH.md): synthetic, deterministic documents and queries with M3's
 * shapes. Every document and every field has its own PRNG stream (seeded from the workload seed, the
 * document index and a field id), so document i regenerates alone and in any order — the bench page
 * generates in batches inside the browser and regenerates a query's target document on demand.
 *
 * Plain TypeScript, no DOM: runs in the page and in Node alike.
 */

import { mulberry32 } from '../src/util/random.ts';
export const WORKLOAD = 'm3-bench-v1';
export const SEED = 0x6d33; // "m3"
export const DIMS = 1024;
export const VOCAB_SIZE = 30_000;
export const SPARSE_VOCAB = 250_002;
export const ZIPF_S = 1.1;
export const SPARSE_PER_DOC = 60;
export const SPARSE_PER_QUERY = 8;
export const QUERIES = 200;
/** ColBERT rows per document in the bench's ColBERT-enabled index (M3 would keep one per token). */
export const COLBERT_DOC_ROWS = 16;
export const COLBERT_QUERY_ROWS = 8;

/** Field ids: one PRNG stream per (document or query, field). */
const F = {
  vocab: 1,
  docText: 10,
  docDense: 11,
  docSparse: 12,
  docColbert: 13,
  qText: 20,
  qTarget: 21,
  qNoise: 22,
  qSparse: 23,
  qColbert: 24,
} as const;

// ------------------------------------------------------------------------- PRNG

/** Seed of one stream: a 32-bit avalanche hash (murmur3's finaliser) of (seed, index, field). */
export function streamSeed(seed: number, index: number, field: number): number {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b);
  h = fmix(h ^ Math.imul(index + 1, 0xcc9e2d51));
  h = fmix(h ^ Math.imul(field + 1, 0x1b873593));
  return h >>> 0;
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

export class Rng {
  private readonly u: () => number;
  private spare = NaN;
  constructor(seed: number) {
    this.u = mulberry32(seed);
  }
  next(): number {
    return this.u();
  }
  /** Integer in [lo, hi] inclusive. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.u() * (hi - lo + 1));
  }
  /** Standard normal (Box–Muller, both values used). */
  gauss(): number {
    if (this.spare === this.spare) {
      const s = this.spare;
      this.spare = NaN;
      return s;
    }
    let u1 = this.u();
    while (u1 === 0) u1 = this.u();
    const r = Math.sqrt(-2 * Math.log(u1));
    const th = 2 * Math.PI * this.u();
    this.spare = r * Math.sin(th);
    return r * Math.cos(th);
  }
}

// ------------------------------------------------------------------------- Zipf

/** Zipf(s) over ranks 0..n−1 (P(r) ∝ 1/(r+1)^s), sampled by binary search over the CDF. */
export class Zipf {
  private readonly cdf: Float64Array;
  constructor(
    readonly n: number,
    s: number,
  ) {
    const cdf = new Float64Array(n);
    let acc = 0;
    for (let r = 0; r < n; r++) cdf[r] = acc += 1 / Math.pow(r + 1, s);
    for (let r = 0; r < n; r++) cdf[r] /= acc;
    cdf[n - 1] = 1;
    this.cdf = cdf;
  }
  sample(rng: Rng): number {
    const u = rng.next();
    const cdf = this.cdf;
    let lo = 0;
    let hi = this.n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cdf[mid] > u) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}

// ------------------------------------------------------------------------- vocabulary

const ONSETS = ['b', 'd', 'f', 'g', 'h', 'k', 'l', 'm', 'n', 'p', 'r', 's', 't', 'v', 'z', 'br', 'ch', 'dr', 'gr', 'kl', 'pl', 'sh', 'st', 'tr'];
const VOWELS = ['a', 'e', 'i', 'o', 'u', 'ai', 'ea', 'ou'];
const CODAS = ['', '', '', 'n', 'r', 's', 'l', 'm', 'nd', 'st'];

/**
 * 30,000 distinct pronounceable words (onset-vowel-coda syllables), frequent ranks shorter, as in
 * natural language: ranks < 200 have 1–2 syllables, < 5,000 have 2–3, the rest 2–4.
 */
export function vocabulary(seed = SEED, size = VOCAB_SIZE): string[] {
  const rng = new Rng(streamSeed(seed, 0, F.vocab));
  const seen = new Set<string>();
  const words: string[] = [];
  const pick = (a: readonly string[]) => a[Math.floor(rng.next() * a.length)];
  while (words.length < size) {
    const r = words.length;
    const syl = r < 200 ? rng.int(1, 2) : r < 5000 ? rng.int(2, 3) : rng.int(2, 4);
    let w = '';
    for (let i = 0; i < syl; i++) w += pick(ONSETS) + pick(VOWELS) + (i === syl - 1 ? pick(CODAS) : '');
    if (w.length < 3 || seen.has(w)) continue;
    seen.add(w);
    words.push(w);
  }
  return words;
}

// ------------------------------------------------------------------------- documents and queries

export interface Sparse {
  ids: Uint32Array;
  weights: Float32Array;
}

export interface Query {
  index: number;
  text: string;
  /** Document the dense query was built from. */
  target: number;
  dense: Float32Array;
  sparse: Sparse;
}

export class Workload {
  readonly words: string[];
  private readonly wordZipf = new Zipf(VOCAB_SIZE, ZIPF_S);
  private readonly tokenZipf = new Zipf(SPARSE_VOCAB, ZIPF_S);

  constructor(
    readonly n: number,
    readonly seed = SEED,
  ) {
    this.words = vocabulary(seed);
  }

  docId(i: number): string {
    return `d${i}`;
  }

  /** 40–120 Zipf words. */
  docText(i: number): string {
    return this.text(new Rng(streamSeed(this.seed, i, F.docText)), 40, 120);
  }

  /** 1024-d i.i.d. Gaussian, L2-normalised (written into `out` at `offset` when given). */
  docDense(i: number, out = new Float32Array(DIMS), offset = 0): Float32Array {
    gaussUnit(new Rng(streamSeed(this.seed, i, F.docDense)), out, offset, DIMS);
    return out;
  }

  /** 60 distinct token ids Zipf over 250,002 ids, weights uniform in (0, 0.4]; ids ascending. */
  docSparse(i: number): Sparse {
    return this.sparse(new Rng(streamSeed(this.seed, i, F.docSparse)), SPARSE_PER_DOC);
  }

  /** `rows` (COLBERT_DOC_ROWS by default) unit Gaussian rows [rows × 1024]; more rows extend the same stream. */
  docColbert(i: number, rows = COLBERT_DOC_ROWS): Float32Array {
    const rng = new Rng(streamSeed(this.seed, i, F.docColbert));
    const out = new Float32Array(rows * DIMS);
    for (let r = 0; r < rows; r++) gaussUnit(rng, out, r * DIMS, DIMS);
    return out;
  }

  query(j: number): Query {
    const text = this.text(new Rng(streamSeed(this.seed, j, F.qText)), 3, 8);
    const target = Math.floor(new Rng(streamSeed(this.seed, j, F.qTarget)).next() * this.n);
    const d = this.docDense(target);
    const u = new Float32Array(DIMS);
    gaussUnit(new Rng(streamSeed(this.seed, j, F.qNoise)), u, 0, DIMS);
    const q = new Float32Array(DIMS);
    for (let x = 0; x < DIMS; x++) q[x] = 0.6 * d[x] + 0.4 * u[x];
    normalize(q, 0, DIMS);
    return { index: j, text, target, dense: q, sparse: this.sparse(new Rng(streamSeed(this.seed, j, F.qSparse)), SPARSE_PER_QUERY) };
  }

  queries(count = QUERIES): Query[] {
    return Array.from({ length: count }, (_, j) => this.query(j));
  }

  /**
   * The query's ColBERT rows: row r = normalize(0.6·target row (r mod 16) + 0.4·u_r), so the target's
   * MaxSim ≈ 0.83 and a rerank is checkable like the dense side.
   */
  queryColbert(q: Query): Float32Array {
    const d = this.docColbert(q.target);
    const rng = new Rng(streamSeed(this.seed, q.index, F.qColbert));
    const out = new Float32Array(COLBERT_QUERY_ROWS * DIMS);
    const u = new Float32Array(DIMS);
    for (let r = 0; r < COLBERT_QUERY_ROWS; r++) {
      gaussUnit(rng, u, 0, DIMS);
      const o = r * DIMS;
      const s = (r % COLBERT_DOC_ROWS) * DIMS;
      for (let x = 0; x < DIMS; x++) out[o + x] = 0.6 * d[s + x] + 0.4 * u[x];
      normalize(out, o, DIMS);
    }
    return out;
  }

  private text(rng: Rng, min: number, max: number): string {
    const len = rng.int(min, max);
    const out: string[] = new Array(len);
    for (let w = 0; w < len; w++) out[w] = this.words[this.wordZipf.sample(rng)];
    return out.join(' ');
  }

  private sparse(rng: Rng, count: number): Sparse {
    const chosen = new Map<number, number>();
    while (chosen.size < count) {
      const id = this.tokenZipf.sample(rng);
      if (!chosen.has(id)) chosen.set(id, 0.4 * (1 - rng.next())); // (0, 0.4]
    }
    const ids = Uint32Array.from(chosen.keys()).sort();
    const weights = new Float32Array(count);
    for (let i = 0; i < count; i++) weights[i] = chosen.get(ids[i])!;
    return { ids, weights };
  }
}

function gaussUnit(rng: Rng, out: Float32Array, offset: number, dims: number): void {
  for (let x = 0; x < dims; x++) out[offset + x] = rng.gauss();
  normalize(out, offset, dims);
}

function normalize(v: Float32Array, offset: number, dims: number): void {
  let ss = 0;
  for (let x = 0; x < dims; x++) ss += v[offset + x] * v[offset + x];
  const inv = ss > 0 ? 1 / Math.sqrt(ss) : 0;
  for (let x = 0; x < dims; x++) v[offset + x] *= inv;
}

// ------------------------------------------------------------------------- query syntax (issue 15)

export const KINDS = ['and', 'andNot', 'prefix', 'fuzzy', 'phrase'] as const;
export type Kind = (typeof KINDS)[number];

/**
 * One query of each kind from a workload query's words: AND (+a +b), AND_NOT (+a -b), a prefix (the first 3
 * letters of a), a typo (a with its middle letter changed: within 1 edit) and a phrase (two adjacent words of the
 * query's target document; MiniSearch has no phrases). `m3` is the query syntax; a and b are the words.
 */
export function kindQuery(w: Workload, q: Query, kind: Kind): { m3: string; a: string; b: string } {
  const ws = q.text.split(' ');
  const a = ws[0];
  const b = ws.find((x) => x !== a) ?? ws[1];
  if (kind === 'and') return { m3: `+${a} +${b}`, a, b };
  if (kind === 'andNot') return { m3: `+${a} -${b}`, a, b };
  if (kind === 'prefix') return { m3: `${a.slice(0, 3)}*`, a: a.slice(0, 3), b };
  if (kind === 'fuzzy') {
    const m = a.length >> 1;
    const typo = a.slice(0, m) + (a[m] === 'a' ? 'e' : 'a') + a.slice(m + 1);
    return { m3: `${typo}~1`, a: typo, b };
  }
  const dw = w.docText(q.target).split(' ');
  const at = (q.index * 7) % (dw.length - 1);
  return { m3: `"${dw[at]} ${dw[at + 1]}"`, a: dw[at], b: dw[at + 1] };
}
