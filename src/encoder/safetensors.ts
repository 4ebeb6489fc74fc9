// Minimal safetensors reader/writer (https://github.com/huggingface/safetensors format): 8-byte little-endian
// header length, a JSON header {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {str: str}},
// then the raw little-endian tensor bytes. Used for the M3 head weights (sparse_linear / colbert_linear).
// The reader widens F16 / BF16 / F64 to Float32 because BAAI ships the heads in fp16.

export type SafetensorsDtype = 'F32' | 'F16' | 'BF16' | 'F64';

export interface SafetensorsTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  data: Float32Array;
}

export interface SafetensorsFile {
  tensors: Record<string, SafetensorsTensor>;
  metadata: Record<string, string>;
}

import { M3Error } from '../errors.ts';
import { float16BitsToFloat32, float32ToFloat16Bits } from './float16.ts';

/** A safetensors file was refused; the message names the file (and tensor) and why. */
export class SafetensorsError extends M3Error {
  override name = 'SafetensorsError';
  constructor(message: string) {
    super('FILE_REFUSED', message);
  }
}

const BYTES: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2, F64: 8 };
const MAX_HEADER = 100 * 1024 * 1024; // the reference implementation's limit

/**
 * Parse a safetensors buffer. `fileName` only labels errors. Throws on any structural problem (truncated
 * file, bad JSON, unknown dtype, offsets out of range or inconsistent with shape, overlapping tensors).
 */
export function readSafetensors(bytes: Uint8Array, fileName = '<safetensors>'): SafetensorsFile {
  const fail = (msg: string, tensor?: string): never => {
    throw new SafetensorsError(`safetensors ${fileName}${tensor !== undefined ? ` tensor "${tensor}"` : ''}: ${msg}`);
  };
  if (bytes.length < 8) fail(`file is ${bytes.length} bytes, shorter than the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = view.getBigUint64(0, true);
  if (headerLen > BigInt(Math.min(MAX_HEADER, bytes.length - 8)))
    fail(`header length ${headerLen} exceeds the file (${bytes.length} bytes) or the 100 MB limit`);
  const n = Number(headerLen);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch (e) {
    fail(`header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('header is not a JSON object');
  const dataStart = 8 + n;
  const dataLen = bytes.length - dataStart;
  const out: SafetensorsFile = { tensors: {}, metadata: {} };
  const spans: [number, number, string][] = [];
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) fail('__metadata__ is not an object');
      for (const [k, v] of Object.entries(entry as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`__metadata__.${k} is not a string`);
        out.metadata[k] = v as string;
      }
      continue;
    }
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e !== 'object' || e === null) fail('entry is not an object', name);
    if (typeof e.dtype !== 'string' || !(e.dtype in BYTES)) fail(`unsupported dtype ${JSON.stringify(e.dtype)}`, name);
    const dtype = e.dtype as SafetensorsDtype;
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) fail(`bad shape ${JSON.stringify(e.shape)}`, name);
    const shape = e.shape as number[];
    const offs = e.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((d) => Number.isSafeInteger(d) && d >= 0))
      fail(`bad data_offsets ${JSON.stringify(offs)}`, name);
    const [begin, end] = offs as number[];
    if (begin > end || end > dataLen) fail(`data_offsets [${begin}, ${end}] outside the ${dataLen}-byte data section`, name);
    const count = shape.reduce((a, b) => a * b, 1);
    if (end - begin !== count * BYTES[dtype])
      fail(`data_offsets span ${end - begin} bytes but shape [${shape}] of ${dtype} needs ${count * BYTES[dtype]}`, name);
    spans.push([begin, end, name]);
    const dv = new DataView(bytes.buffer, bytes.byteOffset + dataStart + begin, end - begin);
    const data = new Float32Array(count);
    // DataView reads: tensor data need not be aligned inside the file buffer.
    for (let i = 0; i < count; i++) {
      if (dtype === 'F32') data[i] = dv.getFloat32(i * 4, true);
      else if (dtype === 'F64') data[i] = dv.getFloat64(i * 8, true);
      else if (dtype === 'F16') data[i] = float16BitsToFloat32(dv.getUint16(i * 2, true));
      else data[i] = new Float32Array(Uint32Array.of(dv.getUint16(i * 2, true) << 16).buffer)[0]; // BF16
    }
    out.tensors[name] = { dtype, shape: [...shape], data };
  }
  spans.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  for (let i = 1; i < spans.length; i++) if (spans[i][0] < spans[i - 1][1]) fail(`data overlaps tensor "${spans[i - 1][2]}"`, spans[i][2]);
  return out;
}

/** Index of the first NaN or ±Infinity in `a`, or −1 (head weights must be finite to give scores). */
export function firstNonFinite(a: Float32Array): number {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return i;
  return -1;
}

/**
 * Serialise tensors as F32 (default) or F16 (rounded to nearest even). Keys are written sorted with contiguous offsets in that order, and the header is
 * space-padded to a multiple of 8 bytes (as the reference writer does) so the output is deterministic.
 */
export function writeSafetensors(
  tensors: Record<string, { shape: number[]; data: Float32Array; dtype?: 'F32' | 'F16' }>,
  metadata?: Record<string, string>,
): Uint8Array {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length) {
    const m: Record<string, string> = {};
    for (const k of Object.keys(metadata).sort()) m[k] = metadata[k];
    header.__metadata__ = m;
  }
  let offset = 0;
  for (const name of names) {
    const t = tensors[name];
    if (name === '__metadata__') throw new Error('safetensors: "__metadata__" is reserved and cannot name a tensor');
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) throw new Error(`safetensors tensor "${name}": shape [${t.shape}] does not match ${t.data.length} values`);
    const dtype = t.dtype ?? 'F32';
    if (dtype !== 'F32' && dtype !== 'F16') throw new Error(`safetensors tensor "${name}": cannot write dtype ${dtype}`);
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + BYTES[dtype] * count] };
    offset += BYTES[dtype] * count;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.length + offset);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let o = 8 + json.length;
  for (const name of names) {
    const { data: d, dtype } = tensors[name];
    if (dtype === 'F16') for (let i = 0; i < d.length; i++, o += 2) dv.setUint16(o, float32ToFloat16Bits(d[i]), true);
    else for (let i = 0; i < d.length; i++, o += 4) dv.setFloat32(o, d[i], true);
  }
  return out;
}
