// Builds the XLMRobertaModel ONNX graph (post-LN BERT, as exported by optimum/Xenova) from generated weights,
// in three flavours: fp32; fp16 (float16 weights and activations, int64 inputs, float16 output); q8 (ORT
// dynamic-quantisation pattern: DynamicQuantizeLinear → MatMulInteger → Cast → Mul(scale) for every weight
// MatMul, uint8 Gather + DequantizeLinear for the embedding tables).
import { toFloat16Array } from '../../src/encoder/float16.ts';
import {
  DataType,
  bytesOf,
  externalTensorProto,
  modelProto,
  nodeProto,
  tensorProto,
  valueInfo,
  type AttrValue,
  type Chunk,
  type DataTypeId,
  type PbMessage,
} from './onnx-writer.ts';
import { quantizeAsymmetricUint8, quantizeSymmetricInt8 } from './quantize.ts';
import { layerPrefix, type TestModelWeights } from './weights.ts';

export type Variant = 'fp32' | 'fp16' | 'q8';
export const OPSET = 17; // LayerNormalization is opset 17

/** [out, in] → [in, out] for ONNX MatMul(X, W). */
function transpose(data: Float32Array, out: number, inp: number): Float32Array {
  const t = new Float32Array(data.length);
  for (let o = 0; o < out; o++) for (let i = 0; i < inp; i++) t[i * out + o] = data[o * inp + i];
  return t;
}

/** A value computed on first use and dropped on request (a quantised tensor feeds two initializers). */
class Memo<T> {
  private v: T | undefined;
  constructor(private readonly fn: () => T) {}
  get(): T {
    return (this.v ??= this.fn());
  }
  drop(): void {
    this.v = undefined;
  }
}

const BYTES: Partial<Record<DataTypeId, number>> = {
  [DataType.FLOAT]: 4,
  [DataType.FLOAT16]: 2,
  [DataType.INT8]: 1,
  [DataType.UINT8]: 1,
  [DataType.INT64]: 8,
};
const count = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);
const lazy = (length: number, produce: () => Uint8Array): Chunk => ({ length, produce });

/** Tensors from this size up go to the external data file (onnx's convert_model_to_external_data default). */
const EXTERNAL_THRESHOLD = 1024;
/** Offsets in the data file are page-aligned so a runtime can map tensors in place. */
const EXTERNAL_ALIGN = 4096;

/** The external data file being assembled: chunks to write, in order, and its length so far. */
export interface ExternalData {
  location: string;
  chunks: Chunk[];
  length: number;
}

class GraphBuilder {
  nodes: PbMessage[] = [];
  inits: PbMessage[] = [];
  private names = new Set<string>();
  private counter = 0;
  constructor(
    readonly floatType: DataTypeId,
    readonly external?: ExternalData,
  ) {}

  private unique(base: string): string {
    let n = base;
    while (this.names.has(n)) n = `${base}_${++this.counter}`;
    this.names.add(n);
    return n;
  }
  private initName(name: string): string {
    if (this.names.has(name)) throw new Error(`duplicate initializer ${name}`);
    this.names.add(name);
    return name;
  }

  /** Initializer from float32 values (made when written), stored in the graph's float type. */
  floatInit(name: string, dims: number[], data: () => Float32Array): string {
    const fp16 = this.floatType === DataType.FLOAT16;
    return this.rawInit(
      name,
      this.floatType,
      dims,
      lazy(count(dims) * (fp16 ? 2 : 4), () => (fp16 ? bytesOf(toFloat16Array(data())) : bytesOf(data()))),
    );
  }
  rawInit(name: string, type: DataTypeId, dims: number[], raw: Chunk): string {
    if (BYTES[type] !== undefined && raw.length !== count(dims) * BYTES[type]!) throw new Error(`initializer ${name}: ${raw.length} bytes for [${dims}]`);
    const ext = this.external;
    if (ext && raw.length >= EXTERNAL_THRESHOLD) {
      const pad = (EXTERNAL_ALIGN - (ext.length % EXTERNAL_ALIGN)) % EXTERNAL_ALIGN;
      if (pad) ext.chunks.push(new Uint8Array(pad));
      const offset = ext.length + pad;
      ext.chunks.push(raw);
      ext.length = offset + raw.length;
      this.inits.push(externalTensorProto(this.initName(name), type, dims, ext.location, offset, raw.length));
    } else {
      this.inits.push(tensorProto(this.initName(name), type, dims, raw));
    }
    return name;
  }
  scalarF(name: string, v: number): string {
    return this.floatInit(name, [], () => Float32Array.of(v));
  }
  int64s(name: string, values: number[], dims: number[] = [values.length]): string {
    return this.rawInit(name, DataType.INT64, dims, bytesOf(BigInt64Array.from(values.map(BigInt))));
  }

  op(type: string, inputs: string[], name: string, attrs: Record<string, AttrValue> = {}, nOut = 1, outputs?: string[]): string[] {
    const nodeName = this.unique(name);
    const outs = outputs ?? Array.from({ length: nOut }, (_, i) => `${nodeName}_output_${i}`);
    this.nodes.push(nodeProto(type, inputs, outs, nodeName, attrs));
    return outs;
  }
  op1(type: string, inputs: string[], name: string, attrs: Record<string, AttrValue> = {}): string {
    return this.op(type, inputs, name, attrs)[0];
  }
}

export interface GraphOptions {
  variant: Variant;
  docString?: string;
  /** Store the large tensors in this external data file (fp32 over 2 GB, as Xenova/bge-m3 ships it). */
  externalData?: string;
}

/** The ONNX model and, when asked for, the chunks of its external data file. */
export interface BuiltModel {
  model: PbMessage;
  externalData?: ExternalData;
}

export function buildXlmr(weights: TestModelWeights, opts: GraphOptions): BuiltModel {
  const c = weights.config;
  const H = c.hiddenSize;
  const dh = H / c.numHeads;
  const fp16 = opts.variant === 'fp16';
  const q8 = opts.variant === 'q8';
  const external: ExternalData | undefined = opts.externalData ? { location: opts.externalData, chunks: [], length: 0 } : undefined;
  const g = new GraphBuilder(fp16 ? DataType.FLOAT16 : DataType.FLOAT, external);
  const T = (name: string) => {
    const t = weights.tensors.get(name);
    if (!t) throw new Error(`buildXlmrModel: missing tensor ${name}`);
    return t;
  };
  const i = (v: number): AttrValue => ({ kind: 'int', v });

  // Shared constants.
  const padId = g.int64s('pad_token_id', [c.padTokenId], []);
  const one64 = g.int64s('one_i64', [1], []);
  const axis1 = g.int64s('axis_1', [1], []);
  const zero64 = g.int64s('token_type_id', [0], []);
  const oneF = g.scalarF('one_f', 1);
  // torch.finfo(dtype).min, as HF's extended attention mask uses.
  const minF = g.scalarF('mask_min', fp16 ? -65504 : -3.4028234663852886e38);
  const sqrtDh = g.scalarF('sqrt_head_dim', Math.sqrt(dh));
  const sqrt2 = g.scalarF('sqrt_2', Math.SQRT2);
  const halfF = g.scalarF('half_f', 0.5);
  const headsShape = g.int64s('shape_heads', [0, 0, c.numHeads, dh]);
  const mergeShape = g.int64s('shape_merge', [0, 0, H]);
  const unsqAxes = g.int64s('mask_unsqueeze_axes', [1, 2]);

  // Embedding lookup; q8 gathers uint8 rows then dequantises (ORT's GatherQuant pattern).
  // Tensor data is read inside the producers, so a lazily generated weight exists only while it is written.
  const embed = (name: string, indices: string, scope: string) => {
    const t = T(name);
    if (!q8) return g.op1('Gather', [g.floatInit(name, t.shape, () => t.data), indices], `${scope}/Gather`);
    const q = new Memo(() => quantizeAsymmetricUint8(t.data));
    const qn = g.rawInit(
      `${name}_quantized`,
      DataType.UINT8,
      t.shape,
      lazy(count(t.shape), () => q.get().data),
    );
    const s = g.rawInit(
      `${name}_scale`,
      DataType.FLOAT,
      [],
      lazy(4, () => bytesOf(Float32Array.of(q.get().scale))),
    );
    const zp = g.rawInit(
      `${name}_zero_point`,
      DataType.UINT8,
      [],
      lazy(1, () => {
        const z = Uint8Array.of(q.get().zeroPoint);
        q.drop();
        return z;
      }),
    );
    const gathered = g.op1('Gather', [qn, indices], `${scope}/Gather_quant`);
    return g.op1('DequantizeLinear', [gathered, s, zp], `${scope}/DequantizeLinear`);
  };

  // x · Wᵀ + b for an nn.Linear named `prefix`.
  const linear = (x: string, prefix: string, scope: string) => {
    const W = T(`${prefix}.weight`);
    const [out, inp] = W.shape;
    const wt = () => transpose(W.data, out, inp);
    let y: string;
    if (q8) {
      const q = new Memo(() => quantizeSymmetricInt8(wt()));
      const wq = g.rawInit(
        `${prefix}.weight_quantized`,
        DataType.INT8,
        [inp, out],
        lazy(inp * out, () => bytesOf(q.get().data)),
      );
      const ws = g.rawInit(
        `${prefix}.weight_scale`,
        DataType.FLOAT,
        [],
        lazy(4, () => {
          const b = bytesOf(Float32Array.of(q.get().scale));
          q.drop();
          return b;
        }),
      );
      const wzp = g.rawInit(`${prefix}.weight_zero_point`, DataType.INT8, [], bytesOf(Int8Array.of(0)));
      const [xq, xs, xzp] = g.op('DynamicQuantizeLinear', [x], `${scope}/DynamicQuantizeLinear`, {}, 3);
      const mmi = g.op1('MatMulInteger', [xq, wq, xzp, wzp], `${scope}/MatMulInteger`);
      const f = g.op1('Cast', [mmi], `${scope}/Cast`, { to: i(DataType.FLOAT) });
      const scale = g.op1('Mul', [xs, ws], `${scope}/scale_Mul`);
      y = g.op1('Mul', [f, scale], `${scope}/output_Mul`);
    } else {
      y = g.op1('MatMul', [x, g.floatInit(`${prefix}.weight_t`, [inp, out], wt)], `${scope}/MatMul`);
    }
    const b = T(`${prefix}.bias`);
    return g.op1('Add', [y, g.floatInit(`${prefix}.bias`, b.shape, () => b.data)], `${scope}/Add`);
  };
  const layerNorm = (x: string, prefix: string, scope: string) => {
    const gm = T(`${prefix}.weight`);
    const bt = T(`${prefix}.bias`);
    return g.op1(
      'LayerNormalization',
      [x, g.floatInit(`${prefix}.weight`, gm.shape, () => gm.data), g.floatInit(`${prefix}.bias`, bt.shape, () => bt.data)],
      scope,
      { axis: i(-1), epsilon: { kind: 'float', v: c.layerNormEps } },
    );
  };

  // --- embeddings: RoBERTa position ids computed from input_ids inside the graph -------------------------
  const isPad = g.op1('Equal', ['input_ids', padId], '/embeddings/Equal');
  const notPad = g.op1('Not', [isPad], '/embeddings/Not');
  const mask64 = g.op1('Cast', [notPad], '/embeddings/Cast', { to: i(DataType.INT64) });
  const cum = g.op1('CumSum', [mask64, axis1], '/embeddings/CumSum');
  const masked = g.op1('Mul', [cum, mask64], '/embeddings/Mul');
  const posIds = g.op1('Add', [masked, one64], '/embeddings/Add_position'); // + padding_idx (1)
  const we = embed('embeddings.word_embeddings.weight', 'input_ids', '/embeddings/word_embeddings');
  const pe = embed('embeddings.position_embeddings.weight', posIds, '/embeddings/position_embeddings');
  const tt = T('embeddings.token_type_embeddings.weight');
  const te = g.op1(
    'Gather',
    [g.floatInit('embeddings.token_type_embeddings.weight', tt.shape, () => tt.data), zero64],
    '/embeddings/token_type_embeddings/Gather',
  );
  let emb = g.op1('Add', [we, te], '/embeddings/Add_token_type');
  emb = g.op1('Add', [emb, pe], '/embeddings/Add_position_embeddings');
  let x = layerNorm(emb, 'embeddings.LayerNorm', '/embeddings/LayerNorm');

  // --- additive attention mask [B, 1, 1, S]: (1 - mask) * finfo.min ------------------------------------
  const maskF = g.op1('Cast', ['attention_mask'], '/mask/Cast', { to: i(g.floatType) });
  const mask4 = g.op1('Unsqueeze', [maskF, unsqAxes], '/mask/Unsqueeze');
  const inv = g.op1('Sub', [oneF, mask4], '/mask/Sub');
  const addMask = g.op1('Mul', [inv, minF], '/mask/Mul');

  for (let l = 0; l < c.numLayers; l++) {
    const p = layerPrefix(l);
    const s = `/encoder/layer.${l}`;
    const heads = (t: string, name: string, perm: number[]) =>
      g.op1('Transpose', [g.op1('Reshape', [t, headsShape], `${s}/attention/self/${name}/Reshape`)], `${s}/attention/self/${name}/Transpose`, {
        perm: { kind: 'ints', v: perm },
      });
    const q = heads(linear(x, `${p}attention.self.query`, `${s}/attention/self/query`), 'query', [0, 2, 1, 3]);
    const k = heads(linear(x, `${p}attention.self.key`, `${s}/attention/self/key`), 'key', [0, 2, 3, 1]);
    const v = heads(linear(x, `${p}attention.self.value`, `${s}/attention/self/value`), 'value', [0, 2, 1, 3]);
    let scores = g.op1('MatMul', [q, k], `${s}/attention/self/MatMul`);
    scores = g.op1('Div', [scores, sqrtDh], `${s}/attention/self/Div`);
    scores = g.op1('Add', [scores, addMask], `${s}/attention/self/Add`);
    const probs = g.op1('Softmax', [scores], `${s}/attention/self/Softmax`, { axis: i(-1) });
    let ctx = g.op1('MatMul', [probs, v], `${s}/attention/self/MatMul_1`);
    ctx = g.op1('Transpose', [ctx], `${s}/attention/self/Transpose_ctx`, { perm: { kind: 'ints', v: [0, 2, 1, 3] } });
    ctx = g.op1('Reshape', [ctx, mergeShape], `${s}/attention/self/Reshape_ctx`);
    const attnOut = linear(ctx, `${p}attention.output.dense`, `${s}/attention/output/dense`);
    x = layerNorm(g.op1('Add', [attnOut, x], `${s}/attention/output/Add`), `${p}attention.output.LayerNorm`, `${s}/attention/output/LayerNorm`);
    // Exact GELU: 0.5 · h · (1 + erf(h / √2)), from primitive ops (no contrib Gelu).
    const h = linear(x, `${p}intermediate.dense`, `${s}/intermediate/dense`);
    const e = g.op1('Erf', [g.op1('Div', [h, sqrt2], `${s}/intermediate/Div`)], `${s}/intermediate/Erf`);
    const gl = g.op1('Mul', [g.op1('Mul', [h, g.op1('Add', [e, oneF], `${s}/intermediate/Add`)], `${s}/intermediate/Mul`), halfF], `${s}/intermediate/Mul_1`);
    const o = linear(gl, `${p}output.dense`, `${s}/output/dense`);
    x = layerNorm(g.op1('Add', [o, x], `${s}/output/Add`), `${p}output.LayerNorm`, `${s}/output/LayerNorm`);
  }
  g.op('Identity', [x], '/last_hidden_state/Identity', {}, 1, ['last_hidden_state']);

  const dims = ['batch_size', 'sequence_length'];
  const model = modelProto({
    graphName: 'main_graph',
    nodes: g.nodes,
    initializers: g.inits,
    inputs: [valueInfo('input_ids', DataType.INT64, dims), valueInfo('attention_mask', DataType.INT64, dims)],
    outputs: [valueInfo('last_hidden_state', g.floatType, [...dims, H])],
    opset: OPSET,
    docString: opts.docString,
  });
  return { model, externalData: external };
}
