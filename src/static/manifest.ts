/**
 * Static index packages: the portable index (search/portable.ts) cut into content-addressed chunks with a
 * manifest, so a site can ship its index as plain static files and a browser can verify, resume and swap it.
 *
 *   OUT/manifest.json            StaticManifest (the only file that changes between versions)
 *   OUT/chunks/<sha256[0:32]>.bin  pieces of the segment files (segment-file.ts), each ≤ chunkBytes
 *
 * Chunk names derive from their content, so old and new versions can sit side by side on a server (and in
 * HTTP caches) and a deploy switches versions by replacing manifest.json alone.
 *
 * This module is browser-safe (no Node APIs): the loader validates manifests with it.
 */
import { M3Error } from '../errors.ts';
import { M3IndexMismatchError, modelMismatch } from '../store/errors.ts';
import { metaProblem } from '../store/segment-check.ts';
import { MIN_READ_SCHEMA, SCHEMA_VERSION, type MetaRecord, type ModelIdentity } from '../store/types.ts';

export const STATIC_FORMAT = 'm3-search-static';
/** Layout of the package itself; bumped when files or manifest fields change meaning. */
export const STATIC_PACKAGE_VERSION = 1;
export const MANIFEST_FILE = 'manifest.json';
export const DEFAULT_CHUNK_BYTES = 4 * 1024 * 1024;
/** Largest chunk a manifest may declare: a chunk is held in memory whole while it is verified. */
export const MAX_CHUNK_BYTES = 256 * 1024 * 1024;
/**
 * A chunk path: plain relative segments of letters, digits, `.`, `_`, `-`, none starting with `.` (so no
 * `.`/`..`) and none empty. Everything else — backslashes, spaces, control characters, `%`-escapes, `?`, `#`, `:` (schemes,
 * drive letters), a leading `/` (absolute or scheme-relative) — could resolve outside the package.
 */
const SAFE_PATH = /^[A-Za-z0-9_-][A-Za-z0-9._-]*(?:\/[A-Za-z0-9_-][A-Za-z0-9._-]*)*$/;

/** Whether `file` is a path this package format allows (see SAFE_PATH). */
export function isPackagePath(file: string): boolean {
  return SAFE_PATH.test(file);
}

export interface StaticChunk {
  /** Path relative to the manifest. */
  file: string;
  bytes: number;
  sha256: string;
}

export interface StaticSegment {
  seq: number;
  docs: number;
  bytes: number;
  /** Indexes into `chunks`, in order: the segment file is their concatenation. */
  chunks: number[];
}

export interface StaticManifest {
  format: typeof STATIC_FORMAT;
  packageVersion: number;
  schemaVersion: number;
  /** Content id of this version: changes whenever any chunk or the meta changes. */
  version: string;
  model: ModelIdentity;
  colbert: boolean;
  docCount: number;
  meta: MetaRecord;
  segments: StaticSegment[];
  chunks: StaticChunk[];
  totalBytes: number;
  createdAt: string;
}

/** Why a package was refused, in words a user (or a site's error page) can act on. */
export class StaticPackageError extends M3Error {
  override name = 'StaticPackageError';

  constructor(readonly reason: string) {
    super('PACKAGE_REFUSED', `static index refused: ${reason}`);
  }
}

const HEX64 = /^[0-9a-f]{64}$/;
const isCount = (n: unknown) => Number.isInteger(n) && (n as number) >= 0;
/** An untrusted value in a message: a template would call its toString, which a parsed object can break. */
const shown = (v: unknown): string => {
  try {
    return JSON.stringify(v) ?? typeof v;
  } catch {
    return typeof v;
  }
};

/**
 * Checks a parsed manifest completely (format, versions, model, structure) before a byte of the package is
 * fetched. With `expect`, the package must have been built by that model (id, dims, heads and dtype): otherwise
 * its vectors would be searched with the wrong encoder's queries. A model mismatch is an M3IndexMismatchError
 * (code MODEL_MISMATCH), as when an index is opened; everything else is a StaticPackageError.
 */
export function validateManifest(m: any, expect?: ModelIdentity): StaticManifest {
  if (!m || typeof m !== 'object' || m.format !== STATIC_FORMAT)
    throw new StaticPackageError('this is not an m3-search static package (manifest.json has no "format": "m3-search-static")');
  if (m.packageVersion !== STATIC_PACKAGE_VERSION)
    throw new StaticPackageError(`package format version ${shown(m.packageVersion)}; this version of m3-search reads version ${STATIC_PACKAGE_VERSION}`);
  const readable = Number.isInteger(m.schemaVersion) && m.schemaVersion >= MIN_READ_SCHEMA && m.schemaVersion <= SCHEMA_VERSION;
  if (!readable || !m.meta || typeof m.meta !== 'object' || m.meta.schemaVersion !== m.schemaVersion) {
    throw new StaticPackageError(
      `it was built with index schema version ${shown(m.schemaVersion)}; this version of m3-search reads versions ${MIN_READ_SCHEMA} to ${SCHEMA_VERSION}`,
    );
  }
  const metaBad = metaProblem(m.meta);
  if (metaBad) throw new StaticPackageError(`the manifest is corrupt (its index meta: ${metaBad})`);
  if (typeof m.version !== 'string' || !/^[0-9a-f]{8,64}$/.test(m.version)) throw new StaticPackageError('the manifest is corrupt (no version id)');
  const model = m.model;
  if (!model || typeof model.modelId !== 'string' || !isCount(model.dims) || typeof model.headHash !== 'string' || typeof model.dtype !== 'string')
    throw new StaticPackageError('the manifest is corrupt (no model identity)');
  if (model.modelId !== m.meta.modelId || model.dims !== m.meta.dims || model.headHash !== m.meta.headHash || model.dtype !== m.meta.dtype)
    throw new StaticPackageError('the manifest is corrupt (its model and its index meta disagree)');
  if (expect) {
    // The same comparison (and error) as opening an index; a head hash or dtype the page leaves unset is not compared.
    const page: ModelIdentity = { modelId: expect.modelId, dims: expect.dims, headHash: expect.headHash || model.headHash, dtype: expect.dtype || model.dtype };
    const built: ModelIdentity = { modelId: model.modelId, dims: model.dims, headHash: model.headHash, dtype: model.dtype };
    const diff = modelMismatch(built, page);
    if (diff.length)
      throw new M3IndexMismatchError(
        built,
        page,
        diff,
        'static index package',
        'rebuild the package with the model this page loads (m3-search index … --static)',
      );
  }
  if (!Array.isArray(m.chunks) || !Array.isArray(m.segments)) throw new StaticPackageError('the manifest is corrupt (no chunk list)');
  let total = 0;
  m.chunks.forEach((c: any, i: number) => {
    if (!c || typeof c.file !== 'string' || !isCount(c.bytes) || typeof c.sha256 !== 'string' || !HEX64.test(c.sha256))
      throw new StaticPackageError(`the manifest is corrupt (chunk ${i + 1} lacks a file, size or SHA-256)`);
    // Chunks must stay under the package folder: a manifest is data, never a way to make the page fetch elsewhere.
    if (!isPackagePath(c.file)) throw new StaticPackageError(`the manifest is corrupt (chunk ${i + 1} points outside the package: ${JSON.stringify(c.file)})`);
    if (c.bytes > MAX_CHUNK_BYTES)
      throw new StaticPackageError(`the manifest is corrupt (chunk ${i + 1} declares ${c.bytes} bytes; at most ${MAX_CHUNK_BYTES} are accepted)`);
    total += c.bytes;
  });
  if (total !== m.totalBytes) throw new StaticPackageError(`the manifest is corrupt (chunks add up to ${total} bytes, it says ${shown(m.totalBytes)})`);
  const used = new Set<number>();
  for (const s of m.segments) {
    if (!s || !isCount(s.seq) || !isCount(s.bytes) || !Array.isArray(s.chunks) || !s.chunks.length)
      throw new StaticPackageError('the manifest is corrupt (a segment lacks its chunks)');
    let sum = 0;
    for (const c of s.chunks) {
      if (!isCount(c) || c >= m.chunks.length || used.has(c))
        throw new StaticPackageError(`the manifest is corrupt (segment ${s.seq} names chunk ${shown(c)})`);
      used.add(c);
      sum += m.chunks[c].bytes;
    }
    if (sum !== s.bytes) throw new StaticPackageError(`the manifest is corrupt (segment ${s.seq}: chunks hold ${sum} bytes, it says ${s.bytes})`);
  }
  if (m.segments.map((s: StaticSegment) => s.seq).join() !== m.meta.segments.join())
    throw new StaticPackageError('the manifest is corrupt (its segments do not match its index meta)');
  if (m.docCount !== m.meta.docCount) throw new StaticPackageError('the manifest is corrupt (document counts disagree)');
  return m as StaticManifest;
}

/** Version id: SHA-256 over the meta's identity-relevant fields and every chunk hash, first 16 hex digits. */
export async function manifestVersion(meta: MetaRecord, chunks: StaticChunk[], sha256Hex: (b: Uint8Array) => Promise<string>): Promise<string> {
  const { updatedAt: _u, createdAt: _c, ...stable } = meta;
  const text = JSON.stringify({ meta: stable, chunks: chunks.map((c) => c.sha256) });
  return (await sha256Hex(new TextEncoder().encode(text))).slice(0, 16);
}
