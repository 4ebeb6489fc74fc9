// The real-shape generator's parts at a size a unit test affords: the padded vocabulary, lazily generated
// weights, and fp32 with ONNX external data (the layout of Xenova/bge-m3's 2.27 GB model.onnx + model.onnx_data).
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { AutoTokenizer, env } from '@huggingface/transformers';
import { modelFiles, writeModelDir, EXTERNAL_DATA_FILE } from './make.ts';
import { paddedVocab, SPECIALS, VOCAB } from './vocab.ts';
import { generateWeights, realShapeConfig, tinyConfig } from './weights.ts';
import { externalDataFormat } from '../../src/encoder/model-config.ts';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'm3-real-shape-'));
  dirs.push(d);
  return d;
};

describe('real-shape vocabulary', () => {
  const big = paddedVocab(250_002);
  it("has XLM-R's size, unique pieces, the specials where XLM-R has them and the tiny pieces unchanged", () => {
    expect(big.length).toBe(250_002);
    expect(new Set(big.map(([p]) => p)).size).toBe(250_002);
    expect(big.slice(0, 4).map(([p]) => p)).toEqual([SPECIALS.bos, SPECIALS.pad, SPECIALS.eos, SPECIALS.unk]);
    expect(big[250_001][0]).toBe(SPECIALS.mask);
    expect(big.slice(0, VOCAB.length - 1)).toEqual(VOCAB.slice(0, -1));
    const lowestReal = VOCAB.slice(4, -1).reduce((m, [, s]) => Math.min(m, s), 0);
    expect(big.slice(VOCAB.length - 1, -1).reduce((m, [, s]) => Math.max(m, s), -Infinity)).toBeLessThan(lowestReal);
    expect(() => paddedVocab(10)).toThrow(/smaller than the base/);
  });

  it('tokenises listed words as the tiny tokenizer does', async () => {
    const dir = tmp();
    const config = { ...tinyConfig(), vocabSize: 20_000 };
    writeModelDir(
      dir,
      modelFiles(config, { name: 'x', variants: [], realShape: true }).filter((f) => f.path.startsWith('tokenizer')),
      false,
    );
    env.allowLocalModels = true;
    const big = await AutoTokenizer.from_pretrained(dir);
    const tiny = await AutoTokenizer.from_pretrained('public/models/tiny-m3');
    const text = 'The boundary layer of a wing in supersonic flow.';
    expect(Array.from(big.encode(text))).toEqual(Array.from(tiny.encode(text)));
    expect(big.model_max_length).toBe(8192);
  });
});

describe('lazy weights', () => {
  it('give the same bytes as eager ones and keep nothing', () => {
    const eager = generateWeights(tinyConfig());
    const lazy = generateWeights(tinyConfig(), { lazy: true });
    const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
    for (const [name, t] of eager.tensors) expect(bytes(lazy.tensors.get(name)!.data).equals(bytes(t.data)), name).toBe(true);
    const w = lazy.tensors.get('embeddings.word_embeddings.weight')!;
    expect(w.data).not.toBe(w.data); // made afresh on each read
    expect(w.data.subarray(32, 64).every((x) => x === 0)).toBe(true); // the padding row
  });
});

describe('fp32 with external data', () => {
  it('model.onnx holds no weights, model.onnx_data holds them page-aligned, and ORT gives the inline model’s output', async () => {
    const inline = tmp();
    const ext = tmp();
    const config = tinyConfig();
    writeModelDir(inline, modelFiles(config, { name: 't', variants: ['fp32'] }), false);
    const files = modelFiles(config, { name: 't', variants: ['fp32'], realShape: true }).filter((f) => f.path.startsWith('onnx/'));
    expect(files.map((f) => f.path)).toEqual(['onnx/model.onnx', `onnx/${EXTERNAL_DATA_FILE}`]);
    writeModelDir(ext, files, false);
    const graph = statSync(join(ext, 'onnx/model.onnx')).size;
    const data = statSync(join(ext, 'onnx', EXTERNAL_DATA_FILE)).size;
    expect(graph).toBeLessThan(200_000);
    expect(graph + data).toBeGreaterThan(statSync(join(inline, 'onnx/model.onnx')).size);

    const ids = [0, 100, 200, 300, 2];
    const feeds = {
      input_ids: new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, ids.length]),
      attention_mask: new ort.Tensor('int64', BigInt64Array.from(ids.map(() => 1n)), [1, ids.length]),
    };
    const a = await ort.InferenceSession.create(join(inline, 'onnx/model.onnx'));
    const b = await ort.InferenceSession.create(join(ext, 'onnx/model.onnx')); // finds model.onnx_data beside it
    const ha = (await a.run(feeds)).last_hidden_state.data as Float32Array;
    const hb = (await b.run(feeds)).last_hidden_state.data as Float32Array;
    expect(hb).toEqual(ha);
    // and from bytes, as a browser gets it (the data file handed over by name)
    const c = await ort.InferenceSession.create(readFileSync(join(ext, 'onnx/model.onnx')), {
      externalData: [{ path: EXTERNAL_DATA_FILE, data: readFileSync(join(ext, 'onnx', EXTERNAL_DATA_FILE)) }],
    });
    expect((await c.run(feeds)).last_hidden_state.data).toEqual(ha);
    await Promise.all([a.release(), b.release(), c.release()]);
  });

  it('M3Encoder asks Transformers.js for model.onnx_data exactly when fp32 passes 2 GB', () => {
    const shape = (c: ReturnType<typeof realShapeConfig>) => ({
      vocabSize: c.vocabSize,
      hidden: c.hiddenSize,
      layers: c.numLayers,
      intermediate: c.intermediateSize,
      maxPositions: c.maxPositions,
    });
    expect(externalDataFormat({}, shape(realShapeConfig()))).toEqual({ 'model.onnx': true });
    expect(externalDataFormat({}, shape(tinyConfig() as any))).toBeUndefined();
    expect(externalDataFormat({ 'transformers.js_config': { use_external_data_format: false } }, shape(realShapeConfig()))).toBeUndefined();
  });
});
