/**
 * Environment-neutral body of the dense-scan benchmark: runs the same in Node
 * (bench/dense-scan.bench.ts) and, bundled by esbuild, inside headless Chromium.
 */
import { DenseMatrix, quantizeInt8Batch, type DenseKernel } from '../src/rank/dense-scan.ts';
import { wasmKernelSupported } from '../src/rank/dense-scan-wasm.ts';
import { mulberry32 as rng } from '../src/util/random.ts';

export interface BenchConfig {
  sizes: number[];
  dim: number;
  queries: number;
  /** Queries timed for the slow plain-JS int8 path at n ≥ 50k (it takes ~0.1 s each). */
  slowQueries: number;
  k: number;
  seed: number;
}

export const defaultConfig: BenchConfig = { sizes: [10_000, 100_000], dim: 1024, queries: 200, slowQueries: 40, k: 10, seed: 12345 };

const now = () => performance.now();

function gaussianFill(out: Float32Array, rand: () => number): void {
  for (let i = 0; i < out.length; i += 2) {
    const u = Math.max(rand(), 1e-12);
    const v = rand();
    const r = Math.sqrt(-2 * Math.log(u));
    out[i] = r * Math.cos(2 * Math.PI * v);
    if (i + 1 < out.length) out[i + 1] = r * Math.sin(2 * Math.PI * v);
  }
}

function normalizeRows(m: Float32Array, dim: number): void {
  for (let o = 0; o < m.length; o += dim) {
    let s = 0;
    for (let i = 0; i < dim; i++) s += m[o + i] * m[o + i];
    const inv = 1 / Math.sqrt(s);
    for (let i = 0; i < dim; i++) m[o + i] *= inv;
  }
}

/** Plain-JS fp32 scan + threshold top-k: the baseline (a), and the exact reference. */
function fp32TopK(docs: Float32Array, dim: number, q: Float32Array, k: number): Uint32Array {
  const n = docs.length / dim;
  const topS = new Float64Array(k).fill(-Infinity);
  const topR = new Uint32Array(k);
  for (let r = 0, o = 0; r < n; r++, o += dim) {
    let s0 = 0,
      s1 = 0,
      s2 = 0,
      s3 = 0;
    for (let i = 0; i < dim; i += 4) {
      s0 += docs[o + i] * q[i];
      s1 += docs[o + i + 1] * q[i + 1];
      s2 += docs[o + i + 2] * q[i + 2];
      s3 += docs[o + i + 3] * q[i + 3];
    }
    const s = s0 + s1 + s2 + s3;
    if (s <= topS[k - 1]) continue;
    let i = k - 1;
    while (i > 0 && topS[i - 1] < s) {
      topS[i] = topS[i - 1];
      topR[i] = topR[i - 1];
      i--;
    }
    topS[i] = s;
    topR[i] = r;
  }
  return topR;
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

export interface Row {
  n: number;
  what: string;
  p50?: number;
  p95?: number;
  timedQueries?: number;
  recallNear?: number;
  top1Near?: number;
  recallRandom?: number;
  top1Random?: number;
}

function overlap(a: Uint32Array, b: Uint32Array): number {
  let c = 0;
  for (const x of a) if (b.includes(x)) c++;
  return c;
}

export function runBench(cfg: BenchConfig, log: (s: string) => void = () => {}): { rows: Row[]; env: Record<string, unknown> } {
  const rows: Row[] = [];
  const relaxed = wasmKernelSupported(true);
  const env = { simd: wasmKernelSupported(false), relaxedSimd: relaxed };
  const { dim, k } = cfg;
  for (const n of cfg.sizes) {
    const rand = rng(cfg.seed + n);
    let t = now();
    const docs = new Float32Array(n * dim);
    gaussianFill(docs, rand);
    normalizeRows(docs, dim);
    // Queries: half near a document (0.6·d_t + 0.4·u), half pure random; the timing uses all.
    const half = cfg.queries >> 1;
    const qs: Float32Array[] = [];
    const u = new Float32Array(dim);
    for (let j = 0; j < cfg.queries; j++) {
      gaussianFill(u, rand);
      normalizeRows(u, dim);
      const q = new Float32Array(dim);
      if (j < half) {
        const tgt = Math.floor(rand() * n);
        for (let i = 0; i < dim; i++) q[i] = 0.6 * docs[tgt * dim + i] + 0.4 * u[i];
        normalizeRows(q, dim);
      } else q.set(u);
      qs.push(q);
    }
    const { codes, scales } = quantizeInt8Batch(docs, dim);
    log(`n=${n}: data ${(now() - t).toFixed(0)} ms`);

    // (a) fp32 plain JS; also the exact top-k.
    const exact: Uint32Array[] = [];
    const ta: number[] = [];
    fp32TopK(docs, dim, qs[0], k);
    for (const q of qs) {
      t = now();
      exact.push(fp32TopK(docs, dim, q, k));
      ta.push(now() - t);
    }
    rows.push({ n, what: 'fp32 plain JS', p50: pct(ta, 50), p95: pct(ta, 95), timedQueries: ta.length });
    log(`n=${n}: fp32 done`);

    const variants: Array<{ what: string; kernel: DenseKernel; queryBits?: 8 | 16; timed: boolean }> = [
      { what: 'int8 plain JS (fallback), i16 query', kernel: 'js', timed: true },
      { what: 'int8 WASM SIMD, i16 query (default)', kernel: 'simd', timed: true },
      { what: 'int8 WASM SIMD, i8 query', kernel: 'simd', queryBits: 8, timed: true },
    ];
    if (relaxed) variants.push({ what: 'int8 WASM relaxed SIMD, i7 query', kernel: 'relaxed', timed: true });
    for (const v of variants) {
      t = now();
      const m = new DenseMatrix(dim, { kernel: v.kernel, queryBits: v.queryBits, initialCapacity: n });
      m.append(codes, scales);
      const loadMs = now() - t;
      const slow = v.kernel === 'js' && n >= 50_000;
      const nTimed = slow ? Math.min(cfg.slowQueries, qs.length) : qs.length;
      // Warm-up: lets the engine tier the wasm function up to the optimising compiler.
      for (let j = 0; j < (slow ? 2 : 20); j++) m.search(qs[j % qs.length], k);
      const times: number[] = [];
      const order = slow ? qs.map((_, j) => j).filter((j) => j % Math.ceil(qs.length / nTimed) === 0) : qs.map((_, j) => j);
      const got = new Map<number, Uint32Array>();
      for (const j of order) {
        t = now();
        const hits = m.search(qs[j], k);
        times.push(now() - t);
        got.set(j, hits.rows);
      }
      const row: Row = { n, what: v.what, p50: pct(times, 50), p95: pct(times, 95), timedQueries: times.length };
      if (!slow) {
        let rn = 0,
          tn = 0,
          rr = 0,
          tr = 0;
        for (let j = 0; j < qs.length; j++) {
          const g = got.get(j)!;
          const e = exact[j];
          if (j < half) {
            rn += overlap(g, e);
            tn += g[0] === e[0] ? 1 : 0;
          } else {
            rr += overlap(g, e);
            tr += g[0] === e[0] ? 1 : 0;
          }
        }
        const nr = qs.length - half;
        Object.assign(row, { recallNear: rn / (half * k), top1Near: tn / half, recallRandom: rr / (nr * k), top1Random: tr / nr });
      }
      rows.push(row);
      log(`n=${n}: ${v.what} done (load ${loadMs.toFixed(0)} ms)`);
    }
  }
  return { rows, env };
}

export function formatRows(rows: Row[]): string {
  const f = (x: number | undefined, d = 2) => (x === undefined ? '   -  ' : x.toFixed(d).padStart(6));
  const lines = ['     n  p50 ms  p95 ms  (timed q)  recall@10 near/rand  top1 near/rand  variant'];
  for (const r of rows) {
    lines.push(
      `${String(r.n).padStart(6)}  ${f(r.p50)}  ${f(r.p95)}  ${String(r.timedQueries ?? '').padStart(9)}  ` +
        `${f(r.recallNear, 3)} / ${f(r.recallRandom, 3)}  ${f(r.top1Near, 2)} / ${f(r.top1Random, 2)}  ${r.what}`,
    );
  }
  return lines.join('\n');
}
