/**
 * The FileStore's segment file: one self-describing binary per segment.
 *
 *   bytes 0..3   magic "M3SG"
 *   bytes 4..7   format version (uint32 LE) = 1
 *   bytes 8..11  header length H (uint32 LE)
 *   bytes 12..   header: UTF-8 JSON { seq, ids, metadata, scalars…, blobs: { name: [type, offset, length] } }
 *   then, padded to 8 bytes, the blobs back to back (each 8-byte aligned, little-endian typed arrays,
 *   offsets relative to the blob area), the last blob being the segment's DocRecords as UTF-8 JSON,
 *   raw-deflated when the writer passes a deflater (FileStore does: texts are most of a segment's bytes
 *   after the vectors and compress ~2–3×). This module itself stays free of Node APIs.
 *   The last 4 bytes: total file length (uint32 LE) — a torn file fails this check.
 *
 * Files are written whole (temp file + fsync + rename), so a reader sees either no file or all of it;
 * the length trailer is a second line of defence against disks that lie about fsync.
 */
import type { DocRecord, SegmentRecord } from './types.ts';

const MAGIC = 0x4753334d; // "M3SG" little-endian
const VERSION = 1;

type ArrayName = 'Int8Array' | 'Uint8Array' | 'Uint16Array' | 'Uint32Array' | 'Float32Array';
type Typed = Int8Array | Uint8Array | Uint16Array | Uint32Array | Float32Array;
const CTORS = { Int8Array, Uint8Array, Uint16Array, Uint32Array, Float32Array } as const;

interface Header {
  seq: number;
  ids: string[];
  metadata: (Record<string, unknown> | null)[];
  denseDims: number | null;
  colbertDims: number | null;
  sparseScale: number | null;
  bm25Terms: string[] | null;
  blobs: Record<string, [ArrayName, number, number]>; // type, byte offset, element count
  docs: [number, number]; // byte offset, byte length
  docsCodec: 'deflate-raw' | 'json';
}

export interface DocsCodec {
  deflate?: (bytes: Uint8Array) => Uint8Array;
  inflate?: (bytes: Uint8Array) => Uint8Array;
}

export function encodeSegmentFile(seg: SegmentRecord, docs: DocRecord[], codec: DocsCodec = {}): Uint8Array {
  const arrays: [string, Typed][] = [
    ['keys', seg.keys],
    ['rowDoc', seg.rowDoc],
    ['rowSpans', seg.rowSpans],
  ];
  if (seg.dense) arrays.push(['dense.codes', seg.dense.codes], ['dense.scales', seg.dense.scales]);
  if (seg.sparse)
    arrays.push(
      ['sparse.tokens', seg.sparse.tokens],
      ['sparse.offsets', seg.sparse.offsets],
      ['sparse.rows', seg.sparse.rows],
      ['sparse.weights', seg.sparse.weights],
    );
  if (seg.colbert)
    arrays.push(
      ['colbert.rowOffsets', seg.colbert.rowOffsets],
      ['colbert.codes', seg.colbert.codes],
      ['colbert.scales', seg.colbert.scales],
    );
  if (seg.bm25)
    arrays.push(
      ['bm25.offsets', seg.bm25.offsets],
      ['bm25.docs', seg.bm25.docs],
      ['bm25.tfs', seg.bm25.tfs],
      ['bm25.lengths', seg.bm25.lengths],
    );
  const blobs: Header['blobs'] = {};
  let off = 0;
  for (const [name, a] of arrays) {
    blobs[name] = [a.constructor.name as ArrayName, off, a.length];
    off = align8(off + a.byteLength);
  }
  const json = new TextEncoder().encode(JSON.stringify(docs));
  const docsBytes = codec.deflate ? codec.deflate(json) : json;
  const header: Header = {
    seq: seg.seq,
    ids: seg.ids,
    metadata: seg.metadata,
    denseDims: seg.dense?.dims ?? null,
    colbertDims: seg.colbert?.dims ?? null,
    sparseScale: seg.sparse?.scale ?? null,
    bm25Terms: seg.bm25?.terms ?? null,
    blobs,
    docs: [off, docsBytes.byteLength],
    docsCodec: codec.deflate ? 'deflate-raw' : 'json',
  };
  const headerBytes = new TextEncoder().encode(JSON.stringify(header));
  const blobStart = align8(12 + headerBytes.byteLength);
  const total = blobStart + align8(off + docsBytes.byteLength) + 4;
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, MAGIC, true);
  dv.setUint32(4, VERSION, true);
  dv.setUint32(8, headerBytes.byteLength, true);
  out.set(headerBytes, 12);
  for (const [name, a] of arrays) {
    out.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), blobStart + blobs[name][1]);
  }
  out.set(docsBytes, blobStart + off);
  dv.setUint32(total - 4, total, true);
  return out;
}

export interface DecodedSegmentFile {
  segment: SegmentRecord;
  /** The segment's documents, parsed on first use (an open needs only the vectors). */
  docs: () => DocRecord[];
}

export function decodeSegmentFile(bytes: Uint8Array, where = 'segment file', codec: DocsCodec = {}): DecodedSegmentFile {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.byteLength < 16 || dv.getUint32(0, true) !== MAGIC) throw new Error(`${where}: not an m3-search segment`);
  if (dv.getUint32(4, true) !== VERSION) throw new Error(`${where}: unsupported segment format ${dv.getUint32(4, true)}`);
  if (dv.getUint32(bytes.byteLength - 4, true) !== bytes.byteLength) throw new Error(`${where}: truncated`);
  const hLen = dv.getUint32(8, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + hLen))) as Header;
  const blobStart = align8(12 + hLen);
  const arr = <T extends Typed>(name: string): T => {
    const [type, off, len] = header.blobs[name];
    const Ctor = CTORS[type];
    const at = bytes.byteOffset + blobStart + off;
    // Zero-copy view when aligned (always, for buffers we allocated); copy otherwise.
    if (at % Ctor.BYTES_PER_ELEMENT === 0) return new Ctor(bytes.buffer as ArrayBuffer, at, len) as T;
    return new Ctor(bytes.slice(blobStart + off, blobStart + off + len * Ctor.BYTES_PER_ELEMENT).buffer) as T;
  };
  const has = (name: string) => name in header.blobs;
  const segment: SegmentRecord = {
    seq: header.seq,
    keys: arr('keys'),
    ids: header.ids,
    metadata: header.metadata,
    rowDoc: arr('rowDoc'),
    rowSpans: arr('rowSpans'),
    dense: has('dense.codes')
      ? { dims: header.denseDims!, codes: arr('dense.codes'), scales: arr('dense.scales') }
      : null,
    sparse: has('sparse.tokens')
      ? {
          tokens: arr('sparse.tokens'),
          offsets: arr('sparse.offsets'),
          rows: arr('sparse.rows'),
          weights: arr('sparse.weights'),
          scale: header.sparseScale!,
        }
      : null,
    colbert: has('colbert.codes')
      ? { dims: header.colbertDims!, rowOffsets: arr('colbert.rowOffsets'), codes: arr('colbert.codes'), scales: arr('colbert.scales') }
      : null,
    bm25: has('bm25.offsets')
      ? {
          terms: header.bm25Terms!,
          offsets: arr('bm25.offsets'),
          docs: arr('bm25.docs'),
          tfs: arr('bm25.tfs'),
          lengths: arr('bm25.lengths'),
        }
      : null,
  };
  const [dOff, dLen] = header.docs;
  const docsBytes = bytes.subarray(blobStart + dOff, blobStart + dOff + dLen);
  let docs: DocRecord[] | null = null;
  const deflated = header.docsCodec === 'deflate-raw';
  if (deflated && !codec.inflate) throw new Error(`${where}: documents are deflated; pass an inflater`);
  return {
    segment,
    docs: () => (docs ??= JSON.parse(new TextDecoder().decode(deflated ? codec.inflate!(docsBytes) : docsBytes)) as DocRecord[]),
  };
}

function align8(n: number): number {
  return (n + 7) & ~7;
}
