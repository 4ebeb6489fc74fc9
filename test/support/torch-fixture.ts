/**
 * Test support: writes zip archives and torch.save-shaped state dicts (a pickle + storages) in memory, so
 * tests can forge the hostile inputs the readers must refuse (bombs, shared storages, lying headers).
 */
import { deflateRawSync } from 'node:zlib';
import { crc32 } from '../../src/util/crc32.ts';

export interface ZipInput {
  name: string;
  data: Uint8Array;
  deflate?: boolean;
  /** Uncompressed size written in the directory (default: the real one). */
  declaredSize?: number;
}

export function makeZip(entries: ZipInput[]): Uint8Array {
  const enc = new TextEncoder();
  const locals: Uint8Array[] = [];
  const centrals: Uint8Array[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = enc.encode(e.name);
    const body = e.deflate ? new Uint8Array(deflateRawSync(e.data)) : e.data;
    const crc = crc32(e.data);
    const size = e.declaredSize ?? e.data.length;
    const local = new Uint8Array(30 + name.length + body.length);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint16(8, e.deflate ? 8 : 0, true);
    lv.setUint32(14, crc, true);
    lv.setUint32(18, body.length, true);
    lv.setUint32(22, size, true);
    lv.setUint16(26, name.length, true);
    local.set(name, 30);
    local.set(body, 30 + name.length);
    const central = new Uint8Array(46 + name.length);
    const cv = new DataView(central.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(10, e.deflate ? 8 : 0, true);
    cv.setUint32(16, crc, true);
    cv.setUint32(20, body.length, true);
    cv.setUint32(24, size, true);
    cv.setUint16(28, name.length, true);
    cv.setUint32(42, offset, true);
    central.set(name, 46);
    locals.push(local);
    centrals.push(central);
    offset += local.length;
  }
  const cdSize = centrals.reduce((n, c) => n + c.length, 0);
  const eocd = new Uint8Array(22);
  const ev = new DataView(eocd.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, entries.length, true);
  ev.setUint16(10, entries.length, true);
  ev.setUint32(12, cdSize, true);
  ev.setUint32(16, offset, true);
  return concat([...locals, ...centrals, eocd]);
}

export interface FakeTensor {
  key: string;
  storage: string;
  offset: number;
  shape: number[];
}

/**
 * A torch.save archive: `archive/data.pkl` (protocol 2) holding an OrderedDict-like dict of
 * _rebuild_tensor_v2 calls over float32 storages `archive/data/<key>`.
 */
export function makeTorchFile(tensors: FakeTensor[], storages: Record<string, Float32Array>): Uint8Array {
  const p: number[] = [0x80, 2, 0x7d, 0x28]; // PROTO 2, EMPTY_DICT, MARK
  const str = (s: string) => {
    const b = new TextEncoder().encode(s);
    p.push(0x58, b.length & 0xff, (b.length >> 8) & 0xff, (b.length >> 16) & 0xff, b.length >>> 24, ...b);
  };
  const int = (n: number) => p.push(0x4a, n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, (n >>> 24) & 0xff);
  const global = (m: string, n: string) => p.push(0x63, ...new TextEncoder().encode(`${m}\n${n}\n`));
  const ints = (xs: number[]) => {
    p.push(0x28);
    for (const x of xs) int(x);
    p.push(0x74);
  };
  for (const t of tensors) {
    const numel = storages[t.storage].length;
    const stride = t.shape.map((_, i) => t.shape.slice(i + 1).reduce((a, b) => a * b, 1));
    str(t.key);
    global('torch._utils', '_rebuild_tensor_v2');
    p.push(0x28); // MARK (args)
    p.push(0x28); // MARK (persistent id)
    str('storage');
    global('torch', 'FloatStorage');
    str(t.storage);
    str('cpu');
    int(numel);
    p.push(0x74, 0x51); // TUPLE, BINPERSID
    int(t.offset);
    ints(t.shape);
    ints(stride);
    p.push(0x89, 0x7d, 0x74, 0x52); // False, {}, TUPLE, REDUCE
  }
  p.push(0x75, 0x2e); // SETITEMS, STOP
  const entries: ZipInput[] = [
    { name: 'archive/data.pkl', data: Uint8Array.from(p) },
    { name: 'archive/byteorder', data: new TextEncoder().encode('little') },
  ];
  for (const [k, v] of Object.entries(storages)) entries.push({ name: `archive/data/${k}`, data: new Uint8Array(v.buffer, v.byteOffset, v.byteLength) });
  return makeZip(entries);
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, q) => n + q.length, 0));
  let at = 0;
  for (const q of parts) out.set(q, at), (at += q.length);
  return out;
}
