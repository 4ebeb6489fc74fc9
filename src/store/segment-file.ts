/**
 * The FileStore's segment file: one self-describing binary per segment.
 *
 *   bytes 0..3   magic "M3SG"
 *   bytes 4..7   format version (uint32 LE): 3 (2 = postings as parallel arrays, schema ≤ 3; 1 = that without
 *                the checksum; both still read, their postings re-coded on read)
 *   bytes 8..11  header length H (uint32 LE)
 *   bytes 12..   header: UTF-8 JSON { seq, ids, metadata, scalars…, blobs: { name: [type, offset, length] } }
 *   (schema 5: a bit-coded ColBERT block is the blobs colbert.planes/colbert.steps and `colbertBits` in the header,
 *   an int8 one colbert.codes/colbert.scales as before; schema 6: a BM25 block is the blobs bm25.dict/bm25.dictIndex
 *   with `bm25TermCount` in the header instead of bm25.offsets and the `bm25Terms` strings — same format version,
 *   since meta.json's schema 6 keeps older versions of m3-search from opening the folder)
 *   then, padded to 8 bytes, the blobs back to back (each 8-byte aligned, little-endian typed arrays,
 *   offsets relative to the blob area), the last blob being the segment's DocRecords as UTF-8 JSON,
 *   raw-deflated when the writer passes a deflater (FileStore does: texts are most of a segment's bytes
 *   after the vectors and compress ~2–3×). This module itself stays free of Node APIs.
 *   Then (version 2) the CRC-32 of every byte before it (uint32 LE), and last the total file length
 *   (uint32 LE) — a torn file fails the length check, a flipped bit the checksum.
 *
 * Files are written whole (temp file + fsync + rename), so a reader sees either no file or all of it;
 * the trailer is a second line of defence against disks that lie about fsync, and against damage later.
 * Every offset and length in the header is checked against the file before it is used, and the decoded
 * segment must pass segmentProblem(): a damaged or forged file is refused with M3StorageError('CORRUPT').
 */
import { crc32 } from '../util/crc32.ts';
import { colbertArrays } from './colbert-bits.ts';
import { M3StorageError } from './errors.ts';
import { compactPostings, type LegacySegment } from './legacy-postings.ts';
import { segmentProblem } from './segment-check.ts';
import type { DocRecord, SegmentRecord } from './types.ts';

const MAGIC = 0x4753334d; // "M3SG" little-endian
/**
 * Segment file format written now; 1 (no checksum) and 2 (uncoded postings) are still read, and FileStore's
 * migration upgrades them.
 */
export const SEGMENT_FILE_VERSION = 3;

type ArrayName = 'Int8Array' | 'Uint8Array' | 'Uint16Array' | 'Uint32Array' | 'Float32Array';
type Typed = Int8Array | Uint8Array | Uint16Array | Uint32Array | Float32Array;
const CTORS = { Int8Array, Uint8Array, Uint16Array, Uint32Array, Float32Array } as const;

interface Header {
  seq: number;
  ids: string[];
  metadata: (Record<string, unknown> | null)[];
  denseDims: number | null;
  colbertDims: number | null;
  /** Schema 5: bits per dimension of a bit-plane ColBERT block (absent or null: int8). */
  colbertBits?: number | null;
  sparseScale: number | null;
  /** Format 3: the sparse block's token and entry counts. */
  sparseTokens?: number | null;
  sparseEntries?: number | null;
  /** Schema 6: the sparse block's single-entry tokens store no list length. */
  sparseSingles?: true;
  bm25Terms: string[] | null;
  /** Schema 6: the BM25 block's term count (its terms front-coded in the blob bm25.dict; bm25Terms null). */
  bm25TermCount?: number;
  /** Schema 5: the BM25 block holds term positions (postings.ts). */
  bm25Positions?: true;
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
  if (seg.dense?.residual) arrays.push(['dense.residual', seg.dense.residual]);
  if (seg.sparse)
    arrays.push(['sparse.groupTokens', seg.sparse.groupTokens], ['sparse.groupOffsets', seg.sparse.groupOffsets], ['sparse.postings', seg.sparse.postings]);
  if (seg.colbert) for (const [name, a] of colbertArrays(seg.colbert)) arrays.push([`colbert.${name}`, a]);
  const bm = seg.bm25;
  if (bm?.dict) arrays.push(['bm25.dict', bm.dict], ['bm25.dictIndex', bm.dictIndex], ['bm25.postings', bm.postings], ['bm25.lengths', bm.lengths]);
  else if (bm) arrays.push(['bm25.offsets', bm.offsets], ['bm25.postings', bm.postings], ['bm25.lengths', bm.lengths]);
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
    ...(seg.colbert?.codec === 'bits' ? { colbertBits: seg.colbert.bits } : {}),
    sparseScale: seg.sparse?.scale ?? null,
    sparseTokens: seg.sparse?.tokens ?? null,
    sparseEntries: seg.sparse?.entries ?? null,
    ...(seg.sparse?.singles ? { sparseSingles: true as const } : {}),
    bm25Terms: bm?.terms ?? null,
    ...(bm?.dict ? { bm25TermCount: bm.termCount } : {}),
    ...(seg.bm25?.positions ? { bm25Positions: true as const } : {}),
    blobs,
    docs: [off, docsBytes.byteLength],
    docsCodec: codec.deflate ? 'deflate-raw' : 'json',
  };
  const headerBytes = new TextEncoder().encode(JSON.stringify(header));
  const blobStart = align8(12 + headerBytes.byteLength);
  const total = blobStart + align8(off + docsBytes.byteLength) + 8;
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, MAGIC, true);
  dv.setUint32(4, SEGMENT_FILE_VERSION, true);
  dv.setUint32(8, headerBytes.byteLength, true);
  out.set(headerBytes, 12);
  for (const [name, a] of arrays) {
    out.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), blobStart + blobs[name][1]);
  }
  out.set(docsBytes, blobStart + off);
  dv.setUint32(total - 8, crc32(out.subarray(0, total - 8)), true);
  dv.setUint32(total - 4, total, true);
  return out;
}

/**
 * An older file in the current format: decoded (and so checked) first, so a damaged file is refused rather
 * than sealed with a fresh checksum; its postings come out re-coded, everything else the same.
 */
export function upgradeSegmentFile(bytes: Uint8Array, where: string, codec: DocsCodec = {}): Uint8Array {
  const d = decodeSegmentFile(bytes, where, codec);
  if (d.version === SEGMENT_FILE_VERSION) return bytes;
  return encodeSegmentFile(d.segment, d.docs(), codec);
}

export interface DecodedSegmentFile {
  segment: SegmentRecord;
  /** The segment's documents, parsed on first use (an open needs only the vectors). */
  docs: () => DocRecord[];
  /** Format version of the file (1 = before checksums, 2 = before coded postings). */
  version?: number;
}

/**
 * Decodes and checks a segment file. `where` names it in errors (a path, or "segment 3 of the import");
 * every error is an M3StorageError('CORRUPT') that starts with it. `dims`: the index's, when known.
 */
export function decodeSegmentFile(bytes: Uint8Array, where = 'segment file', codec: DocsCodec = {}, dims?: number): DecodedSegmentFile {
  const bad = (why: string): never => {
    throw new M3StorageError('CORRUPT', `${where}: ${why}`);
  };
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.byteLength < 16 || dv.getUint32(0, true) !== MAGIC) bad('not an m3-search segment (its first bytes are not "M3SG")');
  const version = dv.getUint32(4, true);
  if (version !== 1 && version !== 2 && version !== SEGMENT_FILE_VERSION)
    bad(`segment format ${version} is not one this version of m3-search reads (1 to ${SEGMENT_FILE_VERSION})`);
  if (dv.getUint32(bytes.byteLength - 4, true) !== bytes.byteLength)
    bad(`truncated or padded (${bytes.byteLength} bytes, its trailer says ${dv.getUint32(bytes.byteLength - 4, true)})`);
  const end = version === 1 ? bytes.byteLength - 4 : bytes.byteLength - 8; // where blobs must end
  if (version >= 2 && crc32(bytes.subarray(0, end)) !== dv.getUint32(end, true)) bad('checksum mismatch: the file was damaged after it was written');
  const hLen = dv.getUint32(8, true);
  if (12 + hLen > end) bad('its header runs past the end');
  let header: Header;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(12, 12 + hLen)));
  } catch (e) {
    return bad(`its header is not valid JSON (${(e as Error).message})`);
  }
  if (!header || typeof header !== 'object' || !header.blobs || typeof header.blobs !== 'object' || !Array.isArray(header.docs))
    bad('its header lacks the block table');
  const blobStart = align8(12 + hLen);
  const arr = <T extends Typed>(name: string): T => {
    const b = header.blobs[name];
    if (!Array.isArray(b) || b.length !== 3) return bad(`block ${name} is missing`);
    const [type, off, len] = b;
    const Ctor = Object.hasOwn(CTORS, type) ? CTORS[type] : undefined;
    if (!Ctor || !isCount(off) || !isCount(len)) return bad(`block ${name} is described as ${JSON.stringify(b)}`);
    const from = blobStart + off;
    if (from + len * Ctor.BYTES_PER_ELEMENT > end) bad(`block ${name} (${len} × ${type} at ${off}) runs past the end`);
    const at = bytes.byteOffset + from;
    // Zero-copy view when aligned (always, for buffers we allocated); copy otherwise.
    if (at % Ctor.BYTES_PER_ELEMENT === 0) return new Ctor(bytes.buffer as ArrayBuffer, at, len) as T;
    return new Ctor(bytes.slice(from, from + len * Ctor.BYTES_PER_ELEMENT).buffer) as T;
  };
  const has = (name: string) => Object.hasOwn(header.blobs, name);
  let segment: SegmentRecord;
  try {
    const legacy: LegacySegment = {
      seq: header.seq,
      keys: arr('keys'),
      ids: header.ids,
      metadata: header.metadata,
      rowDoc: arr('rowDoc'),
      rowSpans: arr('rowSpans'),
      dense: has('dense.codes')
        ? {
            dims: header.denseDims!,
            codes: arr('dense.codes'),
            scales: arr('dense.scales'),
            ...(has('dense.residual') ? { residual: arr<Uint8Array>('dense.residual') } : {}),
          }
        : null,
      sparse:
        version >= 3
          ? has('sparse.postings')
            ? {
                groupTokens: arr('sparse.groupTokens'),
                groupOffsets: arr('sparse.groupOffsets'),
                postings: arr('sparse.postings'),
                tokens: header.sparseTokens!,
                entries: header.sparseEntries!,
                scale: header.sparseScale!,
                ...(header.sparseSingles !== undefined ? { singles: header.sparseSingles } : {}),
              }
            : null
          : has('sparse.tokens')
            ? {
                tokens: arr<Uint32Array>('sparse.tokens'),
                offsets: arr<Uint32Array>('sparse.offsets'),
                rows: arr('sparse.rows'),
                weights: arr('sparse.weights'),
                scale: header.sparseScale!,
              }
            : null,
      colbert: has('colbert.planes')
        ? {
            codec: 'bits',
            dims: header.colbertDims!,
            bits: header.colbertBits as 1 | 2 | 4,
            rowOffsets: arr('colbert.rowOffsets'),
            planes: arr('colbert.planes'),
            steps: arr('colbert.steps'),
          }
        : has('colbert.codes')
          ? { dims: header.colbertDims!, rowOffsets: arr('colbert.rowOffsets'), codes: arr('colbert.codes'), scales: arr('colbert.scales') }
          : null,
      bm25: has('bm25.dict')
        ? {
            dict: arr<Uint8Array>('bm25.dict'),
            dictIndex: arr('bm25.dictIndex'),
            termCount: header.bm25TermCount!,
            postings: arr('bm25.postings'),
            lengths: arr('bm25.lengths'),
            ...(header.bm25Positions !== undefined ? { positions: header.bm25Positions } : {}),
          }
        : !has('bm25.offsets')
          ? null
          : version >= 3
            ? {
                terms: header.bm25Terms!,
                offsets: arr<Uint32Array>('bm25.offsets'),
                postings: arr('bm25.postings'),
                lengths: arr('bm25.lengths'),
                ...(header.bm25Positions !== undefined ? { positions: header.bm25Positions } : {}),
              }
            : {
                terms: header.bm25Terms!,
                offsets: arr<Uint32Array>('bm25.offsets'),
                docs: arr('bm25.docs'),
                tfs: arr('bm25.tfs'),
                lengths: arr('bm25.lengths'),
              },
    };
    segment = version >= 3 ? (legacy as SegmentRecord) : compactPostings(legacy);
  } catch (e) {
    if (e instanceof M3StorageError) throw e;
    return bad(`its blocks are inconsistent (${(e as Error).message})`);
  }
  const problem = segmentProblem(segment, dims);
  if (problem) bad(problem);
  const [dOff, dLen] = header.docs;
  if (!isCount(dOff) || !isCount(dLen) || blobStart + dOff + dLen > end) bad('its document block runs past the end');
  const docsBytes = bytes.subarray(blobStart + dOff, blobStart + dOff + dLen);
  let docs: DocRecord[] | null = null;
  const deflated = header.docsCodec === 'deflate-raw';
  if (deflated && !codec.inflate) bad('documents are deflated; pass an inflater');
  const readDocs = (): DocRecord[] => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(deflated ? codec.inflate!(docsBytes) : docsBytes));
    } catch (e) {
      return bad(`its documents cannot be read (${(e as Error).message})`);
    }
    if (
      !Array.isArray(parsed) ||
      parsed.some((d) => !d || typeof d !== 'object' || typeof d.id !== 'string' || typeof d.text !== 'string' || !Number.isInteger(d.key))
    ) {
      bad('its document records are malformed');
    }
    return parsed as DocRecord[];
  };
  return { segment, version, docs: () => (docs ??= readDocs()) };
}

const isCount = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0;

function align8(n: number): number {
  return (n + 7) & ~7;
}
