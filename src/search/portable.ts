/**
 * Export and import of a whole index as one file, through the Store interface only.
 *
 *   bytes 0..3   magic "M3IX"
 *   bytes 4..7   file format version (uint32 LE)
 *   bytes 8..11  header length H (uint32 LE)
 *   bytes 12..   header: UTF-8 JSON { format, schemaVersion, meta, segments: [byteLength…], sha256 }
 *   then the segment files (segment-file.ts, each carrying its documents) back to back.
 *
 * An import is checked completely (magic, versions, SHA-256 of the body, every segment decoded and checked
 * structurally, ids, keys and document records agreeing with each other and with the meta, the model
 * identity) before anything is written, and then written by Store.replace in one atomic step: a refused
 * file, or a failure while writing, leaves the current index exactly as it was.
 */
import { M3Error } from '../errors.ts';
import { contentsProblem } from '../store/segment-check.ts';
import { decodeSegmentFile, encodeSegmentFile } from '../store/segment-file.ts';
import { sha256Hex } from '../util/sha256.ts';
import { MIN_READ_SCHEMA, SCHEMA_VERSION, type DocRecord, type MetaRecord, type ModelIdentity, type SegmentRecord, type Store } from '../store/types.ts';

const MAGIC = 'M3IX';
export const PORTABLE_FORMAT_VERSION = 1;
const FORMAT = 'm3-search-index';

interface PortableHeader {
  format: string;
  schemaVersion: number;
  meta: MetaRecord;
  segments: number[];
  sha256: string;
  exportedAt: number;
}

export interface PortableIndex {
  meta: MetaRecord;
  segments: SegmentRecord[];
  docs: DocRecord[];
}

/** Thrown when a file is refused; `reason` says why in words a user can act on. */
export class PortableImportError extends M3Error {
  override name = 'PortableImportError';

  constructor(readonly reason: string) {
    super('IMPORT_REFUSED', `index file refused: ${reason}`);
  }
}

/** Reads everything a store holds into one file. */
export async function exportStore(store: Store): Promise<Uint8Array> {
  const meta = await store.readMeta();
  if (!meta) throw new Error('nothing to export: the index is empty and has no model recorded');
  const segments = meta.segments.length ? await store.readSegments(meta.segments) : [];
  const docs = await store.allDocs();
  const docsByKey = new Map(docs.map((d) => [d.key, d]));
  const files = segments.map((s) =>
    encodeSegmentFile(
      s,
      Array.from(s.keys, (k) => docsByKey.get(k)).filter((d): d is DocRecord => !!d),
    ),
  );
  const body = concat(files);
  const header: PortableHeader = {
    format: FORMAT,
    schemaVersion: meta.schemaVersion,
    meta,
    segments: files.map((f) => f.byteLength),
    sha256: await sha256Hex(body),
    exportedAt: Date.now(),
  };
  const headerBytes = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(12 + headerBytes.byteLength + body.byteLength);
  out.set(new TextEncoder().encode(MAGIC), 0);
  const dv = new DataView(out.buffer);
  dv.setUint32(4, PORTABLE_FORMAT_VERSION, true);
  dv.setUint32(8, headerBytes.byteLength, true);
  out.set(headerBytes, 12);
  out.set(body, 12 + headerBytes.byteLength);
  return out;
}

/**
 * Parses and verifies a file. With `expect`, the file must have been built by that model (id, dims and
 * head hash); otherwise its vectors would be silently mixed with the wrong encoder's queries.
 */
export async function parsePortable(bytes: Uint8Array, expect?: ModelIdentity): Promise<PortableIndex> {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('an index file must be a Uint8Array');
  if (bytes.byteLength < 12 || new TextDecoder().decode(bytes.subarray(0, 4)) !== MAGIC) {
    throw new PortableImportError('this is not an m3-search index file (its first bytes are not "M3IX")');
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = dv.getUint32(4, true);
  if (version !== PORTABLE_FORMAT_VERSION) {
    throw new PortableImportError(`file format version ${version}; this version of m3-search reads version ${PORTABLE_FORMAT_VERSION}`);
  }
  const hLen = dv.getUint32(8, true);
  if (12 + hLen > bytes.byteLength) throw new PortableImportError('the file is truncated (its header runs past the end)');
  let header: PortableHeader;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(12, 12 + hLen)));
  } catch {
    throw new PortableImportError('the file is corrupt (its header is not valid JSON)');
  }
  if (
    header?.format !== FORMAT ||
    !header.meta ||
    typeof header.meta !== 'object' ||
    !Array.isArray(header.segments) ||
    !header.segments.every((n) => Number.isSafeInteger(n) && n >= 0)
  ) {
    throw new PortableImportError('the file is corrupt (its header lacks the index description)');
  }
  const readable = (v: unknown) => Number.isInteger(v) && (v as number) >= MIN_READ_SCHEMA && (v as number) <= SCHEMA_VERSION;
  if (!readable(header.schemaVersion) || header.meta.schemaVersion !== header.schemaVersion) {
    throw new PortableImportError(
      `it was written with index schema version ${header.schemaVersion}; this version of m3-search reads versions ${MIN_READ_SCHEMA} to ${SCHEMA_VERSION}`,
    );
  }
  const body = bytes.subarray(12 + hLen);
  const total = header.segments.reduce((a, b) => a + b, 0);
  if (total !== body.byteLength) throw new PortableImportError(`the file is truncated or padded (body has ${body.byteLength} bytes, the header says ${total})`);
  if ((await sha256Hex(body)) !== header.sha256) throw new PortableImportError('the file is corrupt (SHA-256 checksum mismatch)');
  if (expect) {
    const m = header.meta;
    const diff: string[] = [];
    if (m.modelId !== expect.modelId) diff.push(`model "${m.modelId}" (loaded: "${expect.modelId}")`);
    if (m.dims !== expect.dims) diff.push(`${m.dims} dims (loaded: ${expect.dims})`);
    if (m.headHash !== expect.headHash) diff.push(`other sparse/ColBERT heads (hash ${m.headHash.slice(0, 8)}…, loaded ${expect.headHash.slice(0, 8)}…)`);
    if (diff.length) throw new PortableImportError(`it was built with another model: ${diff.join(', ')}`);
  }

  // Copy the body so segment views own aligned memory (decodeSegmentFile returns zero-copy views).
  const own = body.slice();
  const segments: SegmentRecord[] = [];
  const docs: DocRecord[] = [];
  const perSegment: DocRecord[][] = [];
  let at = 0;
  for (let i = 0; i < header.segments.length; i++) {
    const part = own.subarray(at, at + header.segments[i]);
    at += header.segments[i];
    try {
      const decoded = decodeSegmentFile(part, `segment ${i + 1} of ${header.segments.length}`, {}, header.meta.dims);
      segments.push(decoded.segment);
      perSegment.push(decoded.docs());
      for (const d of perSegment[i]) docs.push(d);
    } catch (e) {
      throw new PortableImportError(`the file is corrupt (${(e as Error)?.message ?? e})`);
    }
  }
  const problem = contentsProblem(header.meta, segments, perSegment);
  if (problem) throw new PortableImportError(`the file is corrupt (${problem})`);
  return { meta: { ...header.meta, schemaVersion: SCHEMA_VERSION }, segments, docs };
}

/**
 * Replaces a store's contents with a parsed file in one atomic step (Store.replace): a failure or a crash
 * leaves the old index as it was, never an empty one or a mix of old and new.
 */
export async function writePortable(store: Store, parsed: PortableIndex): Promise<void> {
  await store.withWriteLock(() => store.replace({ ...parsed.meta, updatedAt: Date.now() }, parsed.segments, parsed.docs));
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) out.set(p, at), (at += p.byteLength);
  return out;
}
