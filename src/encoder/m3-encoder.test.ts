import { describe, it, expect, beforeAll } from 'vitest';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { M3Encoder } from './m3-encoder.ts';
import { writeSafetensors } from './safetensors.ts';
import { generateHeadWeights, generateWeights, referenceForward, tinyConfig } from '../../test/testmodel/index.ts';
import type { M3Embedding } from './types.ts';

const MODEL = 'public/models/tiny-m3';
const weights = generateWeights(tinyConfig());
const headW = generateHeadWeights(tinyConfig());
const H = tinyConfig().hiddenSize;

/** shared/M3.md computed independently in float64 from the generator's weights (no ORT, no heads.ts). */
function reference(ids: number[]) {
  const hs = referenceForward(weights, [ids], [ids.map(() => 1)]);
  const row = (i: number) => Array.from(hs.subarray(i * H, (i + 1) * H));
  const norm = (v: number[]) => {
    const n = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
    return v.map((x) => x / Math.max(n, 1e-12));
  };
  const sparse = new Map<number, number>();
  ids.forEach((id, i) => {
    if (id <= 3) return;
    const w = row(i).reduce((s, x, j) => s + x * headW.sparse.weight.data[j], headW.sparse.bias.data[0]);
    if (w > 0 && w > (sparse.get(id) ?? 0)) sparse.set(id, w);
  });
  const colbert: number[][] = [];
  for (let i = 1; i < ids.length; i++) {
    const h = row(i);
    colbert.push(norm(Array.from({ length: H }, (_, o) => h.reduce((s, x, j) => s + x * headW.colbert.weight.data[o * H + j], headW.colbert.bias.data[o]))));
  }
  return { dense: norm(row(0)), sparse, colbert };
}

function expectMatches(e: M3Embedding, ids: number[], tol = 1e-5) {
  const r = reference(ids);
  expect(e.tokens).toBe(ids.length);
  r.dense.forEach((x, i) => expect(Math.abs(e.dense![i] - x)).toBeLessThanOrEqual(tol));
  expect([...e.sparse!.ids]).toEqual([...r.sparse.keys()].sort((a, b) => a - b));
  e.sparse!.ids.forEach((id, i) => expect(Math.abs(e.sparse!.weights[i] - r.sparse.get(id)!)).toBeLessThanOrEqual(tol));
  expect(e.colbert!.length).toBe(r.colbert.length * H);
  r.colbert.forEach((v, row) => v.forEach((x, j) => expect(Math.abs(e.colbert![row * H + j] - x)).toBeLessThanOrEqual(tol)));
}

const TEXTS = ['What is BGE M3?', 'the boundary layer flow over a flat plate at supersonic mach numbers, the boundary layer again', '机器学习 と 検索', ''];

describe('M3Encoder on the tiny model (fp32, onnxruntime-node)', () => {
  let enc: M3Encoder;
  beforeAll(async () => {
    enc = await M3Encoder.load({ model: MODEL, dtype: 'fp32', device: 'cpu' });
  });

  it('reports what it runs', () => {
    expect(enc.info).toMatchObject({ device: 'cpu', dtype: 'fp32', hidden: 32, maxLength: 512, heads: { sparse: true, colbert: true } });
    expect(enc.info.headHash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('matches an independent float64 computation of shared/M3.md to 1e-5, batched with padding', async () => {
    const out = await enc.encode(TEXTS, { colbert: true, batchSize: 4 });
    out.forEach((e, i) => expectMatches(e, enc.tokenize(TEXTS[i]).ids));
  });

  it('gives the same output alone and padded inside a batch', async () => {
    const [alone] = await enc.encode([TEXTS[0]], { colbert: true });
    const [batched] = await enc.encode([TEXTS[0], TEXTS[1]], { colbert: true, batchSize: 2 });
    alone.dense!.forEach((x, i) => expect(Math.abs(batched.dense![i] - x)).toBeLessThanOrEqual(1e-5));
    alone.colbert!.forEach((x, i) => expect(Math.abs(batched.colbert![i] - x)).toBeLessThanOrEqual(1e-5));
  });

  it('drops special tokens from sparse, keeps the max over repeats, keeps </s> in ColBERT', async () => {
    const text = 'layer layer layer \u{1F9EA} boundary';
    const ids = enc.tokenize(text).ids;
    expect(ids[0]).toBe(0);
    expect(ids.at(-1)).toBe(2);
    expect(ids).toContain(3); // the emoji is unknown to the tiny vocabulary
    const [e] = await enc.encode([text], { colbert: true });
    for (const special of [0, 1, 2, 3]) expect([...e.sparse!.ids]).not.toContain(special);
    const layerId = enc.tokenize('layer').ids[1];
    expect(ids.filter((id) => id === layerId).length).toBe(3);
    expectMatches(e, ids); // the reference takes the max over the three occurrences
    expect(e.colbert!.length / H).toBe(ids.length - 1);
  });

  it('truncates like FlagEmbedding: content cut, </s> last, flagged', async () => {
    const long = 'flow '.repeat(20_000) + 'end';
    const [e] = await enc.encode([long], { colbert: true });
    expect(e.truncated).toBe(true);
    expect(e.tokens).toBe(512);
    const short = enc.tokenize('the boundary layer flow over a flat plate at supersonic speed', 8);
    expect(short.truncated).toBe(true);
    expect(short.ids).toHaveLength(8);
    expect(short.ids.at(-1)).toBe(2);
    const [t] = await enc.encode(['the boundary layer flow over a flat plate at supersonic speed'], { maxLength: 8, colbert: true });
    expect(t.truncated).toBe(true);
    expectMatches(t, short.ids);
    const [notCut] = await enc.encode(['flow'], { maxLength: 8 });
    expect(notCut.truncated).toBe(false);
  });

  it('handles awkward and bad input', async () => {
    expect(await enc.encode([])).toEqual([]);
    const [empty] = await enc.encode(['']);
    expect(empty.tokens).toBe(2);
    expect(empty.sparse!.ids.length).toBe(0);
    const odd = await enc.encode(['\uD800 lone', 'nul\u0000byte', 'ctrl\u0007\u001b[0m', '\uDC00']);
    odd.forEach((e) => expect(e.dense!.every(Number.isFinite)).toBe(true));
    await expect(enc.encode(['ok', 42 as any])).rejects.toThrow(/texts\[1\].*number/);
    await expect(enc.encode(['ok', null as any])).rejects.toThrow(TypeError);
    await expect(enc.encode('text' as any)).rejects.toThrow(TypeError);
    await expect(enc.encode(['x'], { maxLength: 100_000 })).rejects.toThrow(RangeError);
  });

  it('maps token ids back to readable tokens', () => {
    const ids = enc.tokenize('boundary layer').ids;
    expect(
      ids
        .slice(1, -1)
        .map((id) => enc.tokenText(id))
        .join(' '),
    ).toBe('boundary layer');
  });
});

describe('load progress', () => {
  it('reports bytes and files for every file the load reads', async () => {
    const events: import('./model-source.ts').LoadProgress[] = [];
    await M3Encoder.load({ model: MODEL, dtype: 'q8', onProgress: (p) => events.push(p) });
    const files = new Set(events.map((e) => e.file));
    for (const f of ['config.json', 'tokenizer.json', 'sparse_linear.safetensors', 'colbert_linear.safetensors', 'onnx/model_quantized.onnx']) {
      expect(files).toContain(f);
    }
    const last = events.at(-1)!;
    expect(last.filesDone).toBe(last.filesSeen);
    expect(last.loadedBytes).toBe(last.totalBytes);
    const { statSync } = await import('node:fs');
    const onDisk = [...files].reduce((s, f) => s + statSync(`${MODEL}/${f}`).size, 0);
    expect(last.totalBytes).toBe(onDisk);
  });
});

describe('fp16 and q8 stay close to fp32', () => {
  // Limits ~5–10x the figures measured on this deterministic model (onnxruntime-node 1.30, x86-64):
  //   fp16: 1 − min cosine 2.45e-7, max |Δ| 3.11e-4     q8: min cosine 0.999865 (1 − cos 1.35e-4), max |Δ| 7.39e-3
  const LIMITS = {
    fp16: { minCos: 1 - 2e-6, maxAbs: 2e-3 },
    q8: { minCos: 1 - 1.35e-3, maxAbs: 4e-2 },
  } as const;
  it('drifts no further than measured (dense cosine and max |Δ|)', async () => {
    const texts = TEXTS.slice(0, 3);
    const base = await (await M3Encoder.load({ model: MODEL, dtype: 'fp32' })).encode(texts);
    for (const dtype of ['fp16', 'q8'] as const) {
      const out = await (await M3Encoder.load({ model: MODEL, dtype })).encode(texts);
      let worstCos = 1;
      let maxAbs = 0;
      out.forEach((e, t) => {
        const cos = e.dense!.reduce((s, x, i) => s + x * base[t].dense![i], 0);
        worstCos = Math.min(worstCos, cos);
        e.dense!.forEach((x, i) => (maxAbs = Math.max(maxAbs, Math.abs(x - base[t].dense![i]))));
      });
      console.log(`${dtype} vs fp32: min dense cosine ${worstCos.toFixed(6)} (1 − cos ${(1 - worstCos).toExponential(2)}), max |Δ| ${maxAbs.toExponential(2)}`);
      expect(worstCos).toBeGreaterThanOrEqual(LIMITS[dtype].minCos);
      expect(maxAbs).toBeLessThanOrEqual(LIMITS[dtype].maxAbs);
      expect(maxAbs).toBeGreaterThan(0); // a different graph really ran
    }
  });
});

describe('threads', () => {
  it('runs onnxruntime-node on the threads asked for, by default on every core (at most 8)', async () => {
    const { availableParallelism } = await import('node:os');
    const one = await M3Encoder.load({ model: MODEL, dtype: 'q8', threads: 1 });
    expect(one.info.threads).toEqual({ used: 1 });
    const dflt = await M3Encoder.load({ model: MODEL, dtype: 'q8' });
    expect(dflt.info.threads.used).toBe(Math.min(availableParallelism(), 8));
    // Same answers whatever the thread count.
    const [a] = await one.encode([TEXTS[1]]);
    const [b] = await dflt.encode([TEXTS[1]]);
    a.dense!.forEach((x, i) => expect(Math.abs(x - b.dense![i])).toBeLessThanOrEqual(1e-6));
    await expect(M3Encoder.load({ model: MODEL, threads: 0 })).rejects.toThrow(/threads must be an integer/);
  });
});

describe('model files that are missing, corrupt or the wrong shape', () => {
  const copy = () => {
    const dir = mkdtempSync(join(tmpdir(), 'm3-model-'));
    cpSync(MODEL, dir, { recursive: true });
    return dir;
  };

  it('names a missing ONNX file', async () => {
    const dir = copy();
    rmSync(join(dir, 'onnx/model.onnx'));
    await expect(M3Encoder.load({ model: dir, dtype: 'fp32' })).rejects.toThrow(/onnx\/model\.onnx/);
  });

  it('names a corrupt ONNX file', async () => {
    const dir = copy();
    writeFileSync(join(dir, 'onnx/model_quantized.onnx'), 'not a protobuf at all');
    await expect(M3Encoder.load({ model: dir, dtype: 'q8' })).rejects.toThrow(/model_quantized\.onnx/);
  });

  it('names a missing config and a missing folder', async () => {
    const dir = copy();
    rmSync(join(dir, 'config.json'));
    await expect(M3Encoder.load({ model: dir })).rejects.toThrow(/config\.json/);
    await expect(M3Encoder.load({ model: join(dir, 'nope') })).rejects.toThrow(/not found/);
  });

  it('names the tensor and both shapes of a wrong head', async () => {
    const dir = copy();
    writeFileSync(
      join(dir, 'sparse_linear.safetensors'),
      writeSafetensors({ weight: { shape: [1, 16], data: new Float32Array(16) }, bias: { shape: [1], data: new Float32Array(1) } }),
    );
    await expect(M3Encoder.load({ model: dir })).rejects.toThrow(/sparse_linear\.safetensors.*"weight".*\[1,16\].*\[1,32\]/);
  });

  it('loads a model without heads as dense-only and says so on encode', async () => {
    const dir = copy();
    rmSync(join(dir, 'sparse_linear.safetensors'));
    rmSync(join(dir, 'colbert_linear.safetensors'));
    const enc = await M3Encoder.load({ model: dir, dtype: 'q8' });
    expect(enc.info.heads).toEqual({ sparse: false, colbert: false });
    expect((await enc.encode(['x'], { sparse: false }))[0].dense).toHaveLength(32);
    await expect(enc.encode(['x'])).rejects.toThrow(/no sparse head/);
  });
});
