/**
 * A tuned sparse head as bytes, and its hash. Layout: "M3H1", u32 header length, a JSON header (identity,
 * options, metrics, bias, threshold), padding to 4 bytes, then weight f32[H] and the vocabulary extension
 * as three parallel arrays over the token ids it changed (ids u32, scale f32, shift f32): a 250k vocabulary
 * costs only the tokens the corpus touched.
 */
import type { SparseHead } from '../encoder/heads.ts';

export interface TunedHeadRecord {
  version: number;
  /** sha256 (hex) of what produces weights: W, b, the vocabulary map and the threshold. */
  hash: string;
  /** headHash of the base head files it was tuned from (the index's model identity). */
  baseHeadHash: string;
  modelId: string;
  hidden: number;
  createdAt: number;
  options: Record<string, unknown>;
  metrics: Record<string, unknown>;
  head: SparseHead;
}

const MAGIC = 0x3148334d; // "M3H1" little-endian

/** The canonical bytes a head's hash covers. */
function headBytes(head: SparseHead): Uint8Array {
  const { ids, scale, shift } = changedVocab(head);
  const n = head.weight.length;
  const buf = new ArrayBuffer(12 + 4 * n + 12 * ids.length);
  const v = new DataView(buf);
  v.setFloat32(0, head.bias, true);
  v.setFloat32(4, head.threshold ?? 0, true);
  v.setUint32(8, head.vocab ? head.vocab.scale.length : 0, true);
  const u8 = new Uint8Array(buf);
  let at = 12;
  for (const a of [head.weight, ids, scale, shift]) {
    u8.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), at);
    at += a.byteLength;
  }
  return u8;
}

function changedVocab(head: SparseHead): { ids: Uint32Array; scale: Float32Array; shift: Float32Array } {
  const out: number[] = [];
  const vs = head.vocab;
  if (vs) for (let t = 0; t < vs.scale.length; t++) if (vs.scale[t] !== 1 || vs.shift[t] !== 0) out.push(t);
  const ids = Uint32Array.from(out);
  return { ids, scale: Float32Array.from(out, (t) => vs!.scale[t]), shift: Float32Array.from(out, (t) => vs!.shift[t]) };
}

export async function hashHead(head: SparseHead): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', headBytes(head) as Uint8Array<ArrayBuffer>);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

export function encodeHead(rec: TunedHeadRecord): Uint8Array {
  const { ids, scale, shift } = changedVocab(rec.head);
  const header = {
    version: rec.version,
    hash: rec.hash,
    baseHeadHash: rec.baseHeadHash,
    modelId: rec.modelId,
    hidden: rec.hidden,
    createdAt: rec.createdAt,
    options: rec.options,
    metrics: rec.metrics,
    bias: rec.head.bias,
    threshold: rec.head.threshold ?? 0,
    vocabSize: rec.head.vocab ? rec.head.vocab.scale.length : 0,
    changed: ids.length,
  };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const pad = (4 - ((8 + json.length) % 4)) % 4;
  const body = 8 + json.length + pad;
  const out = new Uint8Array(body + 4 * rec.head.weight.length + 12 * ids.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, MAGIC, true);
  v.setUint32(4, json.length, true);
  out.set(json, 8);
  let at = body;
  for (const a of [rec.head.weight, ids, scale, shift]) {
    out.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), at);
    at += a.byteLength;
  }
  return out;
}

export function decodeHead(bytes: Uint8Array): TunedHeadRecord {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 8 || v.getUint32(0, true) !== MAGIC) throw new Error('not a tuned head file (bad magic)');
  const len = v.getUint32(4, true);
  const h = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + len)));
  let at = 8 + len + ((4 - ((8 + len) % 4)) % 4);
  const take = (n: number): Uint8Array => {
    if (at + n > bytes.length) throw new Error('tuned head file is truncated');
    const s = bytes.slice(at, at + n); // copy: aligned, and detached from the store's buffer
    at += n;
    return s;
  };
  const weight = new Float32Array(take(4 * h.hidden).buffer);
  const ids = new Uint32Array(take(4 * h.changed).buffer);
  const sc = new Float32Array(take(4 * h.changed).buffer);
  const sh = new Float32Array(take(4 * h.changed).buffer);
  const head: SparseHead = { weight, bias: h.bias };
  if (h.threshold) head.threshold = h.threshold;
  if (h.vocabSize) {
    const scale = new Float32Array(h.vocabSize).fill(1);
    const shift = new Float32Array(h.vocabSize);
    ids.forEach((t, i) => ((scale[t] = sc[i]), (shift[t] = sh[i])));
    head.vocab = { scale, shift };
  }
  return {
    version: h.version,
    hash: h.hash,
    baseHeadHash: h.baseHeadHash,
    modelId: h.modelId,
    hidden: h.hidden,
    createdAt: h.createdAt,
    options: h.options,
    metrics: h.metrics,
    head,
  };
}
