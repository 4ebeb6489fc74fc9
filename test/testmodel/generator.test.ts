import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { float16BitsToFloat32, float32ToFloat16Bits } from '../../src/encoder/float16.ts';
import { modelFiles, sha256, sha256sumsText } from './make.ts';
import { normalArray } from './prng.ts';
import { quantizeAsymmetricUint8, quantizeSymmetricInt8, roundHalfEven } from './quantize.ts';
import { SPECIALS, VOCAB, WORD_MARK } from './vocab.ts';
import { generateWeights, tinyConfig } from './weights.ts';

const MODEL_DIR = fileURLToPath(new URL('../../public/models/tiny-m3/', import.meta.url));
const allVariants = { name: 'tiny-m3', variants: ['fp32', 'fp16', 'q8'] as ('fp32' | 'fp16' | 'q8')[] };

function generateSums(): [string, string][] {
  return modelFiles(tinyConfig(), allVariants).map((f) => [f.path, sha256(f.build())]);
}

describe('generator determinism', () => {
  it('two generations produce identical bytes for every file', () => {
    const a = generateSums();
    const b = generateSums();
    expect(a.map(([p]) => p)).toEqual([
      'colbert_linear.safetensors',
      'config.json',
      'onnx/model.onnx',
      'onnx/model_fp16.onnx',
      'onnx/model_quantized.onnx',
      'sparse_linear.safetensors',
      'special_tokens_map.json',
      'tokenizer.json',
      'tokenizer_config.json',
    ]);
    expect(b).toEqual(a);
  });

  it('matches the committed SHA256SUMS and the committed files (regenerate with npm run make-test-model)', () => {
    const sums = generateSums();
    expect(sha256sumsText(sums)).toBe(readFileSync(MODEL_DIR + 'SHA256SUMS', 'utf8'));
    for (const [path, hex] of sums) expect(sha256([readFileSync(MODEL_DIR + path)]), path).toBe(hex);
  });

  it('per-tensor PRNG streams are independent of generation order and differ by name', () => {
    const a = normalArray(1, 'x', 8, 1);
    normalArray(1, 'y', 1000, 1);
    expect(normalArray(1, 'x', 8, 1)).toEqual(a);
    expect(normalArray(1, 'y', 8, 1)).not.toEqual(a);
    expect(normalArray(2, 'x', 8, 1)).not.toEqual(a);
  });

  it('weights have the intended scales', () => {
    const w = generateWeights(tinyConfig());
    const std = (d: Float32Array) => {
      const m = d.reduce((s, x) => s + x, 0) / d.length;
      return Math.sqrt(d.reduce((s, x) => s + (x - m) ** 2, 0) / d.length);
    };
    expect(std(w.tensors.get('embeddings.word_embeddings.weight')!.data)).toBeCloseTo(0.1, 2);
    expect(std(w.tensors.get('encoder.layer.0.attention.self.query.weight')!.data)).toBeCloseTo(1 / Math.sqrt(32), 1);
    const gamma = w.tensors.get('encoder.layer.1.output.LayerNorm.weight')!.data;
    expect(Math.min(...gamma)).toBeGreaterThan(0.8);
    expect(Math.max(...gamma)).toBeLessThan(1.2);
    // padding_idx rows are zero, as nn.Embedding(padding_idx=1) initialises them
    const we = w.tensors.get('embeddings.word_embeddings.weight')!.data;
    expect(Array.from(we.subarray(32, 64)).every((x) => x === 0)).toBe(true);
  });
});

describe('fp16 conversion', () => {
  it('rounds to nearest even and handles the edges', () => {
    const cases: [number, number][] = [
      [0, 0x0000],
      [-0, 0x8000],
      [1, 0x3c00],
      [-2, 0xc000],
      [65504, 0x7bff],
      [65520, 0x7c00], // halfway to the next binade rounds up to Inf
      [65519, 0x7bff],
      [Infinity, 0x7c00],
      [2 ** -24, 0x0001], // smallest subnormal
      [2 ** -25, 0x0000], // tie → even (zero)
      [3 * 2 ** -25, 0x0002], // tie → even (2)
      [2 ** -14, 0x0400], // smallest normal
      [1 + 2 ** -11, 0x3c00], // tie between 1 and 1+2^-10 → even (1)
      [1 + 3 * 2 ** -11, 0x3c02], // tie → even (up)
      [0.1, 0x2e66],
    ];
    for (const [v, bits] of cases) expect(float32ToFloat16Bits(v), String(v)).toBe(bits);
    expect(Number.isNaN(float16BitsToFloat32(float32ToFloat16Bits(NaN)))).toBe(true);
    for (let h = 0; h < 0x7c00; h += 97) expect(float32ToFloat16Bits(float16BitsToFloat32(h))).toBe(h);
  });
});

describe('quantisation', () => {
  it('symmetric int8 and asymmetric uint8 reconstruct within half a step', () => {
    const w = normalArray(3, 'q', 1000, 0.5);
    const q = quantizeSymmetricInt8(w);
    const u = quantizeAsymmetricUint8(w);
    for (let i = 0; i < w.length; i++) {
      expect(Math.abs(q.data[i] * q.scale - w[i])).toBeLessThanOrEqual(q.scale / 2 + 1e-7);
      expect(Math.abs((u.data[i] - u.zeroPoint) * u.scale - w[i])).toBeLessThanOrEqual(u.scale / 2 + 1e-6);
    }
    expect([roundHalfEven(0.5), roundHalfEven(1.5), roundHalfEven(-2.5), roundHalfEven(2.4)]).toEqual([0, 2, -2, 2]);
  });
});

describe('vocabulary', () => {
  it('has XLM-R special ids, <mask> last, unique pieces and enough coverage', () => {
    expect(VOCAB.slice(0, 4).map(([p]) => p)).toEqual([SPECIALS.bos, SPECIALS.pad, SPECIALS.eos, SPECIALS.unk]);
    expect(VOCAB.at(-1)![0]).toBe(SPECIALS.mask);
    expect(new Set(VOCAB.map(([p]) => p)).size).toBe(VOCAB.length);
    expect(VOCAB.length).toBeGreaterThanOrEqual(8000);
    const pieces = new Set(VOCAB.map(([p]) => p));
    for (const w of ['flow', 'boundary', 'layer', 'pressure', 'supersonic', 'mach', 'wing', 'heat', 'transfer', 'shock', 'the'])
      expect(pieces.has(WORD_MARK + w), w).toBe(true);
    for (const s of ['ing', 'tion', 'ed', 's', 'a', 'Z', '7', '?', '中', 'カ', 'ひ', '한']) expect(pieces.has(s), s).toBe(true);
  });
});
