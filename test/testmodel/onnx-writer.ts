// Minimal protobuf encoder for the subset of onnx.proto this generator needs. Hand-written instead of a
// protobufjs schema so a 1.2 GB full-size graph can be emitted as a list of chunks (tensor bytes referenced,
// never copied into one giant buffer) and streamed to disk. Output is deterministic: fields in ascending
// order, no timestamps, fixed producer.
//
// Field numbers (onnx.proto, public): ModelProto{ir_version=1, producer_name=2, producer_version=3, domain=4,
// model_version=5, doc_string=6, graph=7, opset_import=8}; OperatorSetIdProto{domain=1, version=2};
// GraphProto{node=1, name=2, initializer=5, doc_string=10, input=11, output=12};
// NodeProto{input=1, output=2, name=3, op_type=4, attribute=5, domain=7};
// AttributeProto{name=1, f=2, i=3, t=5, ints=8, type=20}; TensorProto{dims=1, data_type=2, name=8, raw_data=9};
// ValueInfoProto{name=1, type=2}; TypeProto{tensor_type=1}; TypeProto.Tensor{elem_type=1, shape=2};
// TensorShapeProto{dim=1}; Dimension{dim_value=1, dim_param=2}.

/**
 * Bytes whose length is known now but whose content is made only when written: a full-size tensor is generated,
 * written and dropped one at a time, so a 2 GB model never sits in memory as a whole.
 */
export interface LazyBytes {
  length: number;
  produce(): Uint8Array;
}
export type Chunk = Uint8Array | LazyBytes;

export const isLazy = (c: Chunk): c is LazyBytes => !(c instanceof Uint8Array);
export const materialize = (c: Chunk): Uint8Array => {
  if (!isLazy(c)) return c;
  const b = c.produce();
  if (b.length !== c.length) throw new Error(`lazy chunk produced ${b.length} bytes, promised ${c.length}`);
  return b;
};

export const DataType = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7, BOOL: 9, FLOAT16: 10 } as const;
export type DataTypeId = (typeof DataType)[keyof typeof DataType];

const AttrType = { FLOAT: 1, INT: 2, TENSOR: 4, INTS: 7 } as const;

/** An encoded message as a chunk list plus its total byte length. */
export class PbMessage {
  readonly parts: Chunk[] = [];
  length = 0;
  private small: number[] = [];

  private flush(): void {
    if (this.small.length) {
      this.parts.push(Uint8Array.from(this.small));
      this.small = [];
    }
  }

  private byte(b: number): void {
    this.small.push(b);
    this.length++;
  }

  private varint(v: number | bigint): void {
    // int64 semantics: negatives are two's complement over 64 bits (10 bytes).
    let x = BigInt.asUintN(64, BigInt(v));
    while (x >= 0x80n) {
      this.byte(Number(x & 0x7fn) | 0x80);
      x >>= 7n;
    }
    this.byte(Number(x));
  }

  private tag(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }

  private raw(bytes: Chunk): void {
    if (isLazy(bytes)) {
      this.flush();
      this.parts.push(bytes);
    } else if (bytes.length < 64) {
      for (const b of bytes) this.small.push(b);
    } else {
      this.flush();
      this.parts.push(bytes);
    }
    this.length += bytes.length;
  }

  int(field: number, v: number | bigint): this {
    this.tag(field, 0);
    this.varint(v);
    return this;
  }

  float(field: number, v: number): this {
    this.tag(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.raw(b);
    return this;
  }

  bytes(field: number, b: Chunk): this {
    this.tag(field, 2);
    this.varint(b.length);
    this.raw(b);
    return this;
  }

  string(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }

  message(field: number, m: PbMessage): this {
    m.flush();
    this.tag(field, 2);
    this.varint(m.length);
    this.flush();
    for (const p of m.parts) this.parts.push(p);
    this.length += m.length;
    return this;
  }

  /** Chunks ready to write (call once the message is complete). */
  chunks(): Chunk[] {
    this.flush();
    return this.parts;
  }

  toBytes(): Uint8Array {
    const out = new Uint8Array(this.length);
    let o = 0;
    for (const p of this.chunks()) {
      out.set(materialize(p), o);
      o += p.length;
    }
    return out;
  }
}

export function bytesOf(a: ArrayBufferView): Uint8Array {
  // ONNX raw_data is little-endian; every platform this runs on (x86, ARM, WASM) is little-endian.
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

export function tensorProto(name: string, dataType: DataTypeId, dims: readonly number[], raw: Chunk): PbMessage {
  const t = new PbMessage();
  for (const d of dims) t.int(1, d);
  t.int(2, dataType);
  t.string(8, name);
  t.bytes(9, raw);
  return t;
}

/**
 * A tensor whose bytes live in an external data file (TensorProto external_data=13 {key=1, value=2},
 * data_location=14 EXTERNAL=1), as ONNX stores models over protobuf's 2 GB limit.
 */
export function externalTensorProto(name: string, dataType: DataTypeId, dims: readonly number[], location: string, offset: number, length: number): PbMessage {
  const t = new PbMessage();
  for (const d of dims) t.int(1, d);
  t.int(2, dataType);
  t.string(8, name);
  for (const [k, v] of [
    ['location', location],
    ['offset', String(offset)],
    ['length', String(length)],
  ]) {
    t.message(13, new PbMessage().string(1, k).string(2, v));
  }
  t.int(14, 1);
  return t;
}

export type AttrValue = { kind: 'int'; v: number } | { kind: 'float'; v: number } | { kind: 'ints'; v: readonly number[] } | { kind: 'tensor'; v: PbMessage };

export function nodeProto(
  opType: string,
  inputs: readonly string[],
  outputs: readonly string[],
  name: string,
  attrs: Record<string, AttrValue> = {},
): PbMessage {
  const n = new PbMessage();
  for (const i of inputs) n.string(1, i);
  for (const o of outputs) n.string(2, o);
  n.string(3, name);
  n.string(4, opType);
  for (const key of Object.keys(attrs).sort()) {
    const a = attrs[key];
    const m = new PbMessage().string(1, key);
    switch (a.kind) {
      case 'float':
        m.float(2, a.v).int(20, AttrType.FLOAT);
        break;
      case 'int':
        m.int(3, a.v).int(20, AttrType.INT);
        break;
      case 'tensor':
        m.message(5, a.v).int(20, AttrType.TENSOR);
        break;
      case 'ints':
        for (const x of a.v) m.int(8, x);
        m.int(20, AttrType.INTS);
        break;
    }
    n.message(5, m);
  }
  return n;
}

/** ValueInfoProto for a tensor; string dims become symbolic (dim_param). */
export function valueInfo(name: string, elemType: DataTypeId, dims: readonly (number | string)[]): PbMessage {
  const shape = new PbMessage();
  for (const d of dims) {
    const dim = new PbMessage();
    if (typeof d === 'string') dim.string(2, d);
    else dim.int(1, d);
    shape.message(1, dim);
  }
  const tensorType = new PbMessage().int(1, elemType).message(2, shape);
  const type = new PbMessage().message(1, tensorType);
  return new PbMessage().string(1, name).message(2, type);
}

export interface ModelParts {
  graphName: string;
  nodes: PbMessage[];
  initializers: PbMessage[];
  inputs: PbMessage[];
  outputs: PbMessage[];
  opset: number;
  docString?: string;
}

export const PRODUCER_NAME = 'm3-search/testmodel';
export const PRODUCER_VERSION = '1';

export function modelProto(p: ModelParts): PbMessage {
  const g = new PbMessage();
  for (const n of p.nodes) g.message(1, n);
  g.string(2, p.graphName);
  for (const t of p.initializers) g.message(5, t);
  if (p.docString) g.string(10, p.docString);
  for (const i of p.inputs) g.message(11, i);
  for (const o of p.outputs) g.message(12, o);
  const m = new PbMessage();
  m.int(1, 8); // IR version 8 (ONNX 1.10+), enough for opset 17
  m.string(2, PRODUCER_NAME);
  m.string(3, PRODUCER_VERSION);
  m.message(7, g);
  m.message(8, new PbMessage().string(1, '').int(2, p.opset));
  return m;
}
