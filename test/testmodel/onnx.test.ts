// Runs the generated graphs with onnxruntime (node and web/WASM) against the independent float64 reference.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { beforeAll, describe, expect, it } from 'vitest';
import { float16BitsToFloat32 } from '../../src/encoder/float16.ts';
import { mulberry32 } from '../../src/util/random.ts';
import { referenceForward } from './reference.ts';
import { generateWeights, tinyConfig, type TestModelWeights } from './weights.ts';

const ONNX_DIR = fileURLToPath(new URL('../../public/models/tiny-m3/onnx/', import.meta.url));
type Ort = typeof ortNode;

let weights: TestModelWeights;
const H = 32;
const B = 6;
const S = 24;
const ids: number[][] = [];
const mask: number[][] = [];
let ref: Float64Array;

beforeAll(() => {
  weights = generateWeights(tinyConfig());
  // Random real tokens with varying lengths, right-padded with <pad> = 1 (what the tokenizer produces).
  const r = mulberry32(7);
  for (let b = 0; b < B; b++) {
    const len = b === 0 ? S : 3 + Math.floor(r() * (S - 3));
    const row = [0];
    while (row.length < len - 1) row.push(4 + Math.floor(r() * (weights.config.vocabSize - 5)));
    row.push(2);
    while (row.length < S) row.push(1);
    ids.push(row);
    mask.push(row.map((t) => +(t !== 1)));
  }
  ref = referenceForward(weights, ids, mask);
});

async function run(ort: Ort, file: string): Promise<Float64Array> {
  const bytes = readFileSync(ONNX_DIR + file);
  const session = await ort.InferenceSession.create(bytes);
  expect(session.inputNames).toEqual(['input_ids', 'attention_mask']);
  expect(session.outputNames).toEqual(['last_hidden_state']);
  const t = (rows: number[][]) => new ort.Tensor('int64', BigInt64Array.from(rows.flat(), BigInt), [B, S]);
  const out = (await session.run({ input_ids: t(ids), attention_mask: t(mask) })).last_hidden_state;
  expect(out.dims).toEqual([B, S, H]);
  expect(out.type).toBe(file.includes('fp16') ? 'float16' : 'float32');
  const data = out.type === 'float16' ? Array.from(out.data as Uint16Array, float16BitsToFloat32) : out.data;
  await session.release();
  return Float64Array.from(data as ArrayLike<number>);
}

/** Max |a − ref| over non-padding positions, and min cosine of the CLS rows. */
function drift(got: Float64Array) {
  let maxAbs = 0;
  let minClsCos = 1;
  for (let b = 0; b < B; b++) {
    for (let s = 0; s < S; s++)
      if (mask[b][s]) for (let i = 0; i < H; i++) maxAbs = Math.max(maxAbs, Math.abs(got[(b * S + s) * H + i] - ref[(b * S + s) * H + i]));
    let dot = 0;
    let na = 0;
    let nb = 0;
    for (let i = 0; i < H; i++) {
      const x = got[b * S * H + i];
      const y = ref[b * S * H + i];
      dot += x * y;
      na += x * x;
      nb += y * y;
    }
    minClsCos = Math.min(minClsCos, dot / Math.sqrt(na * nb));
  }
  return { maxAbs, minClsCos };
}

const cos = (a: Float64Array, b: Float64Array) => {
  let d = 0,
    na = 0,
    nb = 0;
  for (let i = 0; i < a.length; i++) (d += a[i] * b[i]), (na += a[i] * a[i]), (nb += b[i] * b[i]);
  return d / Math.sqrt(na * nb);
};

describe('reference forward', () => {
  it('is invariant to right padding (mask and RoBERTa position ids)', () => {
    const b = 1;
    const len = mask[b].reduce((s, x) => s + x, 0);
    expect(len).toBeLessThan(S);
    const alone = referenceForward(weights, [ids[b].slice(0, len)], [mask[b].slice(0, len)]);
    const padded = ref.subarray(b * S * H, (b * S + len) * H);
    let max = 0;
    for (let i = 0; i < alone.length; i++) max = Math.max(max, Math.abs(alone[i] - padded[i]));
    expect(max).toBeLessThan(1e-12);
  });

  it('gives different tokens clearly different states, and context matters', () => {
    const h = referenceForward(weights, [[0, 100, 200, 300, 2]], [[1, 1, 1, 1, 1]]);
    const row = (s: number) => h.subarray(s * H, (s + 1) * H);
    expect(cos(row(1), row(2))).toBeLessThan(0.9);
    expect(cos(row(2), row(3))).toBeLessThan(0.9);
    const h2 = referenceForward(weights, [[0, 100, 999, 300, 2]], [[1, 1, 1, 1, 1]]);
    let diff = 0;
    for (let i = 0; i < H; i++) diff = Math.max(diff, Math.abs(h2[H + i] - h[H + i]));
    expect(diff).toBeGreaterThan(0.05); // attention mixes the neighbours into token 1
  });
});

describe.each([
  ['onnxruntime-node', ortNode as Ort],
  ['onnxruntime-web (wasm)', ortWeb as unknown as Ort],
])('%s', (_name, ort) => {
  beforeAll(() => {
    if (ort === (ortWeb as unknown as Ort)) ortWeb.env.wasm.numThreads = 1;
  });

  it('fp32 model.onnx matches the float64 reference to 1e-4 on a padded batch', async () => {
    const got = await run(ort, 'model.onnx');
    // Padded rows too: the graph and the reference compute them the same way.
    let max = 0;
    for (let i = 0; i < got.length; i++) max = Math.max(max, Math.abs(got[i] - ref[i]));
    expect(max).toBeLessThan(1e-4);
  });

  // Measured (node and web agree): fp16 max |Δ| ≈ 3.5e-3, CLS cos ≈ 1 − 3e-7; q8 max |Δ| ≈ 7.8e-2, CLS cos ≈ 0.99985.
  it('fp16 model_fp16.onnx stays close to fp32', async () => {
    const d = drift(await run(ort, 'model_fp16.onnx'));
    expect(d.maxAbs).toBeLessThan(0.02);
    expect(d.minClsCos).toBeGreaterThan(0.9999);
  });

  it('q8 model_quantized.onnx stays close to fp32', async () => {
    const d = drift(await run(ort, 'model_quantized.onnx'));
    expect(d.maxAbs).toBeLessThan(0.25);
    expect(d.minClsCos).toBeGreaterThan(0.999);
  });
});
