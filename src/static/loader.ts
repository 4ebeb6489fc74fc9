/**
 * Browser side of static packages: download, verify, install into IndexedDB, switch atomically.
 *
 * Each version lives in its own index database `m3-search:<name>@<version>`; a small pointer database
 * `m3-search-static:<name>` records which one is current. An update:
 *   1. fetches and validates manifest.json (format, versions, model) — a refusal stops here;
 *   2. downloads every chunk (resuming a cut transfer with a Range request, reusing chunks verified by an
 *      earlier, interrupted load) and checks its size and SHA-256;
 *   3. decodes every segment and checks them against the manifest;
 *   4. writes them into the new version's database (one transaction, via writePortable);
 *   5. switches the pointer (one transaction), then deletes the old version's database.
 * Until step 5 the current index is untouched and keeps answering; any failure before it leaves it as it
 * was, with the reason in a StaticPackageError (or, for a package built by another model or dtype than the
 * page's encoder, an M3IndexMismatchError, the error opening such an index gives). Offline (the manifest can't be fetched), the current version
 * is opened as it is: a site searches offline from the first visit on.
 */
import { encoderIdentity } from '../search/index-identity.ts';
import { writePortable } from '../search/portable.ts';
import type { OpenOptions } from '../search/types.ts';
import { IdbStore } from '../store/idb-store.ts';
import { withLock } from '../util/web-locks.ts';
import { decodeSegmentFile } from '../store/segment-file.ts';
import { contentsProblem } from '../store/segment-check.ts';
import { SCHEMA_VERSION, type DocRecord, type ModelIdentity, type SegmentRecord } from '../store/types.ts';
import { downloadChunks } from './download.ts';
import { MANIFEST_FILE, StaticPackageError, validateManifest, type StaticManifest } from './manifest.ts';
import {
  clearChunkCache,
  databaseExists,
  deleteDatabase,
  getCachedChunk,
  getPointer,
  indexDbName,
  openPointerDb,
  type Pointer,
  putCachedChunk,
  putPointer,
  removeStale,
} from './pointer-db.ts';
import type { StaticLoadOptions, StaticLoadReport, StaticProgress } from './types.ts';

export type { StaticLoadOptions, StaticLoadReport, StaticProgress } from './types.ts';

/**
 * Installs (or confirms) the package at `url` and opens it with `open` (M3Index.fromStatic passes
 * M3Index.open: the loader does not import the index, so the two modules form no cycle).
 */
export async function openStaticPackage<T extends object>(
  url: string | URL,
  opts: StaticLoadOptions,
  open: (name: string, o: OpenOptions) => Promise<T>,
): Promise<T> {
  const report = await installStaticPackage(url, opts);
  const factory = opts.indexedDB ?? globalThis.indexedDB;
  const index = await open(report.indexName, {
    ...opts.open,
    ...(opts.encoder ? { encoder: opts.encoder } : {}),
    store: new IdbStore(report.indexName, { indexedDB: factory }),
  });
  // Only now, with the new index open, is the old version's database deleted (this closes it in any tab
  // still holding it; such a tab's index reports why).
  if (report.previous && report.previous !== report.indexName) void deleteDatabase(factory, indexDbName(report.previous)).catch(() => {});
  staticReports.set(index, report);
  opts.onProgress?.({
    phase: 'ready',
    loadedBytes: report.bytesFetched,
    totalBytes: report.bytesFetched,
    chunksDone: 0,
    chunks: 0,
    version: report.version,
    report,
  });
  return index;
}

const staticReports = new WeakMap<object, StaticLoadReport>();
/** What the load that opened `index` did (bytes, chunks, time, status), if it came from a static package. */
export function staticLoadReport(index: object): StaticLoadReport | undefined {
  return staticReports.get(index);
}

/** The install steps without opening the index: returns which database now holds the current version. */
export async function installStaticPackage(url: string | URL, opts: StaticLoadOptions = {}): Promise<StaticLoadReport> {
  const t0 = performance.now();
  const name = opts.name ?? 'site';
  const factory = opts.indexedDB ?? globalThis.indexedDB;
  if (!factory) throw new Error('IndexedDB is not available here');
  const f = opts.fetch ?? globalThis.fetch.bind(globalThis);
  const manifestUrl = toManifestUrl(url);
  const expect = expectedModel(opts);
  const progress = (p: Omit<StaticProgress, 'version'>, version: string | null) => opts.onProgress?.({ ...p, version });

  return withLock(`m3-search-static:${name}`, async () => {
    const db = await openPointerDb(factory, name);
    try {
      const current = await getPointer(db);
      progress({ phase: 'manifest', loadedBytes: 0, totalBytes: 0, chunksDone: 0, chunks: 0 }, current?.version ?? null);
      let raw: unknown;
      try {
        raw = await readManifest(f, manifestUrl, opts.signal);
      } catch (e) {
        if (opts.signal?.aborted) throw e;
        const reason = e instanceof StaticPackageError ? e.reason : `the network is unreachable (${(e as Error)?.message ?? e})`;
        // Offline, or the server misbehaves: the installed version keeps serving.
        if (current && (await databaseExists(factory, indexDbName(current.indexName)))) {
          return { ...nothingFetched('offline', current, t0), reason };
        }
        throw new StaticPackageError(`${reason}, and no earlier version is installed`);
      }
      const manifest = validateManifest(raw, expect);
      if (current?.version === manifest.version && (await databaseExists(factory, indexDbName(current.indexName)))) {
        return nothingFetched('current', current, t0);
      }
      const indexName = `${name}@${manifest.version}`;
      await removeStale(factory, name, [current?.indexName, indexName]);

      const got = await downloadChunks(
        manifestUrl,
        manifest,
        { get: (sha) => getCachedChunk(db, sha), put: (sha, b) => putCachedChunk(db, sha, b) },
        f,
        opts,
        (p) => progress(p, manifest.version),
      );
      progress(
        {
          phase: 'verify',
          loadedBytes: manifest.totalBytes,
          totalBytes: manifest.totalBytes,
          chunksDone: manifest.chunks.length,
          chunks: manifest.chunks.length,
        },
        manifest.version,
      );
      const parsed = decodePackage(manifest, got.chunks);

      progress(
        {
          phase: 'install',
          loadedBytes: manifest.totalBytes,
          totalBytes: manifest.totalBytes,
          chunksDone: manifest.chunks.length,
          chunks: manifest.chunks.length,
        },
        manifest.version,
      );
      const store = new IdbStore(indexName, { indexedDB: factory });
      try {
        await store.open();
        await writePortable(store, parsed);
      } catch (e) {
        store.close();
        await deleteDatabase(factory, indexDbName(indexName)).catch(() => {});
        throw new StaticPackageError(`the new version could not be stored (${(e as Error)?.name}: ${(e as Error)?.message}); the current index is kept`);
      }
      store.close();
      // The switch: one put in one transaction.
      await putPointer(db, { version: manifest.version, indexName, installedAt: Date.now(), manifestUrl });
      await clearChunkCache(db);
      return {
        status: 'installed',
        version: manifest.version,
        indexName,
        previous: current?.indexName ?? null,
        bytesFetched: got.bytesFetched,
        chunksFetched: got.fetched,
        chunksResumed: got.resumed,
        rangeResumes: got.rangeResumes,
        ms: performance.now() - t0,
      };
    } finally {
      db.close();
    }
  });
}

/**
 * Downloads a package and checks every chunk (size, SHA-256) and every segment against the manifest and the
 * model, without installing it: for code that writes the contents into an index of its own (the worker's
 * `importStatic`, which seeds an app's editable index with documents indexed at build time). A refusal
 * throws a StaticPackageError. Nothing is cached: a cut transfer resumes within this call only.
 */
export async function fetchStaticPackage(
  url: string | URL,
  opts: Pick<StaticLoadOptions, 'encoder' | 'model' | 'fetch' | 'signal' | 'retries' | 'concurrency' | 'onProgress'> = {},
): Promise<{ manifest: StaticManifest; contents: ReturnType<typeof decodePackage> }> {
  const f = opts.fetch ?? globalThis.fetch.bind(globalThis);
  const manifestUrl = toManifestUrl(url);
  let raw: unknown;
  try {
    raw = await readManifest(f, manifestUrl, opts.signal);
  } catch (e) {
    if (e instanceof StaticPackageError || opts.signal?.aborted) throw e;
    throw new StaticPackageError(`the network is unreachable (${(e as Error)?.message ?? e})`);
  }
  const manifest = validateManifest(raw, expectedModel(opts));
  const progress = (p: Omit<StaticProgress, 'version'>) => opts.onProgress?.({ ...p, version: manifest.version });
  const got = await downloadChunks(manifestUrl, manifest, null, f, opts, progress);
  progress({
    phase: 'verify',
    loadedBytes: manifest.totalBytes,
    totalBytes: manifest.totalBytes,
    chunksDone: manifest.chunks.length,
    chunks: manifest.chunks.length,
  });
  return { manifest, contents: decodePackage(manifest, got.chunks) };
}

/** The version currently installed under `name` (null when none), without any network access. */
export async function installedStaticVersion(name = 'site', factory: IDBFactory = globalThis.indexedDB): Promise<Pointer | null> {
  const db = await openPointerDb(factory, name);
  try {
    return (await getPointer(db)) ?? null;
  } finally {
    db.close();
  }
}

// ---------------------------------------------------------------- decode

function decodePackage(m: StaticManifest, chunks: Uint8Array[]): { meta: StaticManifest['meta']; segments: SegmentRecord[]; docs: DocRecord[] } {
  const segments: SegmentRecord[] = [];
  const perSegment: DocRecord[][] = [];
  const docs: DocRecord[] = [];
  for (const s of m.segments) {
    const bytes = new Uint8Array(s.bytes); // the sum of chunks that arrived and were verified
    let at = 0;
    for (const c of s.chunks) bytes.set(chunks[c], at), (at += chunks[c].byteLength);
    try {
      const d = decodeSegmentFile(bytes, `segment ${s.seq}`, {}, m.meta.dims);
      if (d.segment.seq !== s.seq) throw new Error(`segment ${s.seq} holds segment ${d.segment.seq}`);
      const segDocs = d.docs();
      if (segDocs.length !== s.docs) throw new Error(`segment ${s.seq} has ${segDocs.length} documents, the manifest says ${s.docs}`);
      segments.push(d.segment);
      perSegment.push(segDocs);
      for (const doc of segDocs) docs.push(doc);
    } catch (e) {
      throw new StaticPackageError(`the package is corrupt (${(e as Error)?.message ?? e})`);
    }
  }
  const problem = contentsProblem(m.meta, segments, perSegment);
  if (problem) throw new StaticPackageError(`the package is corrupt (${problem})`);
  return { meta: { ...m.meta, schemaVersion: SCHEMA_VERSION }, segments, docs };
}

/** The manifest's JSON; a StaticPackageError for an HTTP error or bad JSON, the fetch's own error when unreachable. */
async function readManifest(f: typeof fetch, manifestUrl: string, signal: AbortSignal | undefined): Promise<unknown> {
  const res = await f(manifestUrl, { cache: 'no-cache', signal });
  if (!res.ok) throw new StaticPackageError(`manifest.json could not be fetched (HTTP ${res.status})`);
  return res.json().catch(() => {
    throw new StaticPackageError('manifest.json is not valid JSON');
  });
}

function toManifestUrl(url: string | URL): string {
  const base = typeof location !== 'undefined' ? location.href : undefined;
  const u = new URL(String(url), base);
  if (!u.pathname.endsWith('.json')) u.pathname = u.pathname.replace(/\/?$/, '/') + MANIFEST_FILE;
  return u.href;
}

function expectedModel(opts: StaticLoadOptions): ModelIdentity | undefined {
  const e = opts.encoder?.info;
  if (e) return encoderIdentity(e);
  return opts.model;
}

/** The report of a load that kept the installed version and fetched no chunk. */
function nothingFetched(status: 'offline' | 'current', current: Pointer, t0: number): StaticLoadReport {
  return {
    status,
    version: current.version,
    indexName: current.indexName,
    previous: null,
    bytesFetched: 0,
    chunksFetched: 0,
    chunksResumed: 0,
    rangeResumes: 0,
    ms: performance.now() - t0,
  };
}
