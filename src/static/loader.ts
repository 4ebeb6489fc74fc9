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
 * was, with the reason in a StaticPackageError. Offline (the manifest can't be fetched), the current version
 * is opened as it is: a site searches offline from the first visit on.
 */
import { deleteDB, openDB, type DBSchema, type IDBPDatabase } from 'idb';
import { encoderIdentity } from '../search/index-identity.ts';
import { writePortable } from '../search/portable.ts';
import type { EncoderLike, OpenOptions } from '../search/types.ts';
import { withFactory } from '../store/idb-factory.ts';
import { IdbStore } from '../store/idb-store.ts';
import { sha256Hex } from '../util/sha256.ts';
import { withLock } from '../util/web-locks.ts';
import { decodeSegmentFile } from '../store/segment-file.ts';
import { contentsProblem } from '../store/segment-check.ts';
import { SCHEMA_VERSION, type DocRecord, type ModelIdentity, type SegmentRecord } from '../store/types.ts';
import { MANIFEST_FILE, StaticPackageError, validateManifest, type StaticChunk, type StaticManifest } from './manifest.ts';

export interface StaticProgress {
  phase: 'manifest' | 'download' | 'verify' | 'install' | 'ready';
  /** Bytes of chunks received (or taken from an interrupted earlier load) so far. */
  loadedBytes: number;
  totalBytes: number;
  chunksDone: number;
  chunks: number;
  version: string | null;
  /** Set with phase 'ready'. */
  report?: StaticLoadReport;
}

export interface StaticLoadReport {
  /** installed: a new version was written; current: already installed; offline: manifest unreachable, current version used. */
  status: 'installed' | 'current' | 'offline';
  version: string;
  indexName: string;
  previous: string | null;
  bytesFetched: number;
  chunksFetched: number;
  /** Chunks reused from an interrupted earlier load (verified again before use). */
  chunksResumed: number;
  /** Range requests that resumed a cut transfer. */
  rangeResumes: number;
  ms: number;
  /** Why the network was not used (offline). */
  reason?: string;
}

export interface StaticLoadOptions {
  /** Name of the index on this origin (default 'site'): packages of one name replace each other. */
  name?: string;
  /** The page's encoder: the package must have been built by the same model. */
  encoder?: EncoderLike;
  /** Without an encoder: the model identity the package must have. */
  model?: ModelIdentity;
  onProgress?: (p: StaticProgress) => void;
  signal?: AbortSignal;
  /** Attempts per chunk after the first (default 3): a cut transfer resumes where it stopped. */
  retries?: number;
  /** Chunk downloads at once (default 4). */
  concurrency?: number;
  fetch?: typeof fetch;
  indexedDB?: IDBFactory;
  /** Options for the M3Index that loadStaticIndex opens (store and encoder are set by the loader). */
  open?: Omit<OpenOptions, 'store' | 'encoder' | 'model'>;
}

const POINTER_VERSION = 1;
const pointerDbName = (name: string) => `m3-search-static:${name}`;
const indexDbName = (indexName: string) => `m3-search:${indexName}`;

interface Pointer {
  version: string;
  indexName: string;
  installedAt: number;
  manifestUrl: string;
}

/**
 * Installs (or confirms) the package at `url` and opens it with `open` (M3Index.fromStatic passes
 * M3Index.open: the loader does not import the index, so the two modules form no cycle).
 */
export async function openStaticPackage<T extends object>(url: string | URL, opts: StaticLoadOptions, open: (name: string, o: OpenOptions) => Promise<T>): Promise<T> {
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
  opts.onProgress?.({ phase: 'ready', loadedBytes: report.bytesFetched, totalBytes: report.bytesFetched, chunksDone: 0, chunks: 0, version: report.version, report });
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
        const res = await f(manifestUrl, { cache: 'no-cache', signal: opts.signal });
        if (!res.ok) throw new StaticPackageError(`manifest.json could not be fetched (HTTP ${res.status})`);
        raw = await res.json().catch(() => {
          throw new StaticPackageError('manifest.json is not valid JSON');
        });
      } catch (e) {
        if (opts.signal?.aborted) throw e;
        const reason = e instanceof StaticPackageError ? e.reason : `the network is unreachable (${(e as Error)?.message ?? e})`;
        // Offline, or the server misbehaves: the installed version keeps serving.
        if (current && (await databaseExists(factory, indexDbName(current.indexName)))) {
          return { status: 'offline', version: current.version, indexName: current.indexName, previous: null, bytesFetched: 0, chunksFetched: 0, chunksResumed: 0, rangeResumes: 0, ms: performance.now() - t0, reason };
        }
        throw new StaticPackageError(`${reason}, and no earlier version is installed`);
      }
      const manifest = validateManifest(raw, expect);
      if (current?.version === manifest.version && (await databaseExists(factory, indexDbName(current.indexName)))) {
        return { status: 'current', version: current.version, indexName: current.indexName, previous: null, bytesFetched: 0, chunksFetched: 0, chunksResumed: 0, rangeResumes: 0, ms: performance.now() - t0 };
      }
      const indexName = `${name}@${manifest.version}`;
      await removeStale(factory, name, [current?.indexName, indexName]);

      const got = await downloadChunks(manifestUrl, manifest, db, f, opts, (p) => progress(p, manifest.version));
      progress({ phase: 'verify', loadedBytes: manifest.totalBytes, totalBytes: manifest.totalBytes, chunksDone: manifest.chunks.length, chunks: manifest.chunks.length }, manifest.version);
      const parsed = decodePackage(manifest, got.chunks);

      progress({ phase: 'install', loadedBytes: manifest.totalBytes, totalBytes: manifest.totalBytes, chunksDone: manifest.chunks.length, chunks: manifest.chunks.length }, manifest.version);
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
    const res = await f(manifestUrl, { cache: 'no-cache', signal: opts.signal });
    if (!res.ok) throw new StaticPackageError(`manifest.json could not be fetched (HTTP ${res.status})`);
    raw = await res.json().catch(() => {
      throw new StaticPackageError('manifest.json is not valid JSON');
    });
  } catch (e) {
    if (e instanceof StaticPackageError || opts.signal?.aborted) throw e;
    throw new StaticPackageError(`the network is unreachable (${(e as Error)?.message ?? e})`);
  }
  const manifest = validateManifest(raw, expectedModel(opts));
  const progress = (p: Omit<StaticProgress, 'version'>) => opts.onProgress?.({ ...p, version: manifest.version });
  const got = await downloadChunks(manifestUrl, manifest, null, f, opts, progress);
  progress({ phase: 'verify', loadedBytes: manifest.totalBytes, totalBytes: manifest.totalBytes, chunksDone: manifest.chunks.length, chunks: manifest.chunks.length });
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

// ---------------------------------------------------------------- download

async function downloadChunks(
  manifestUrl: string,
  m: StaticManifest,
  /** The chunk cache of an install (null: no cache, e.g. fetchStaticPackage). */
  db: IDBPDatabase<PointerDb> | null,
  f: typeof fetch,
  opts: StaticLoadOptions,
  onProgress: (p: Omit<StaticProgress, 'version'>) => void,
): Promise<{ chunks: Uint8Array[]; bytesFetched: number; fetched: number; resumed: number; rangeResumes: number }> {
  const out: Uint8Array[] = new Array(m.chunks.length);
  let loaded = 0;
  let done = 0;
  let bytesFetched = 0;
  let fetched = 0;
  let resumed = 0;
  let rangeResumes = 0;
  const report = () => onProgress({ phase: 'download', loadedBytes: loaded, totalBytes: m.totalBytes, chunksDone: done, chunks: m.chunks.length });
  let next = 0;
  let failed: unknown = null;
  const worker = async () => {
    while (next < m.chunks.length && !failed) {
      const i = next++;
      const c = m.chunks[i];
      if (opts.signal?.aborted) throw opts.signal.reason ?? new DOMException('aborted', 'AbortError');
      const cached = db ? await getCachedChunk(db, c.sha256) : undefined;
      // A cached chunk is verified again: IndexedDB contents are not trusted blindly either.
      if (cached && cached.byteLength === c.bytes && (await sha256Hex(cached)) === c.sha256) {
        out[i] = cached;
        resumed++;
        loaded += c.bytes;
      } else {
        // validateManifest allows plain relative paths only; the resolved URL is checked as well.
        const url = new URL(c.file, manifestUrl);
        if (!url.href.startsWith(new URL('.', manifestUrl).href)) throw new StaticPackageError(`the manifest is corrupt (chunk ${i + 1} points outside the package: ${JSON.stringify(c.file)})`);
        const r = await fetchChunk(url.href, c, i, m.chunks.length, f, opts, (n) => {
          loaded += n;
          bytesFetched += n;
          report();
        });
        out[i] = r.bytes;
        rangeResumes += r.rangeResumes;
        fetched++;
        // Kept until the install completes, so a reload mid-download resumes instead of starting over.
        if (db) await putCachedChunk(db, c.sha256, r.bytes).catch(() => {});
      }
      done++;
      report();
    }
  };
  // On a failure, chunks already in flight still finish and are cached: the next load resumes from them.
  await Promise.all(
    Array.from({ length: Math.min(opts.concurrency ?? 4, m.chunks.length) }, () =>
      worker().catch((e) => {
        failed ??= e;
      }),
    ),
  );
  if (failed) throw failed;
  return { chunks: out, bytesFetched, fetched, resumed, rangeResumes };
}

async function fetchChunk(
  url: string,
  c: StaticChunk,
  i: number,
  n: number,
  f: typeof fetch,
  opts: StaticLoadOptions,
  onBytes: (n: number) => void,
): Promise<{ bytes: Uint8Array; rangeResumes: number }> {
  const where = `chunk ${i + 1} of ${n} (${c.file})`;
  // Received pieces, joined once whole: memory follows the bytes that arrived, never the size a manifest
  // claims (validateManifest bounds that too).
  let parts: Uint8Array[] = [];
  const attempts = 1 + (opts.retries ?? 3);
  let got = 0;
  let rangeResumes = 0;
  let last = '';
  const take = (b: Uint8Array) => {
    if (got + b.byteLength > c.bytes) throw new StaticPackageError(`${where} is larger than the manifest says (over ${c.bytes} bytes)`);
    parts.push(b);
    got += b.byteLength;
    onBytes(b.byteLength);
  };
  for (let a = 0; a < attempts && got < c.bytes; a++) {
    let res: Response;
    try {
      res = await f(url, { signal: opts.signal, ...(got > 0 ? { headers: { Range: `bytes=${got}-` }, cache: 'no-store' as RequestCache } : {}) });
    } catch (e) {
      if (opts.signal?.aborted) throw e;
      last = `network error (${(e as Error)?.message ?? e})`;
      continue;
    }
    if (res.status === 404 || res.status === 410) throw new StaticPackageError(`${where} is missing (HTTP ${res.status})`);
    if (!res.ok) {
      last = `HTTP ${res.status}`;
      continue;
    }
    if (got > 0) {
      const start = res.status === 206 ? Number(/bytes (\d+)-/.exec(res.headers.get('content-range') ?? '')?.[1]) : NaN;
      if (start === got) rangeResumes++;
      else {
        // The server sent the whole file (no Range support) or another range: start this chunk over.
        onBytes(-got);
        got = 0;
        parts = [];
      }
    }
    try {
      const reader = res.body?.getReader();
      if (!reader) take(new Uint8Array(await res.arrayBuffer()));
      else {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          try {
            take(value);
          } catch (e) {
            void reader.cancel().catch(() => {});
            throw e;
          }
        }
      }
    } catch (e) {
      if (e instanceof StaticPackageError || opts.signal?.aborted) throw e;
      last = `the connection dropped after ${got} of ${c.bytes} bytes`;
      continue;
    }
    if (got < c.bytes) last = `truncated: ${got} of ${c.bytes} bytes arrived`;
  }
  if (got < c.bytes) throw new StaticPackageError(`${where} could not be downloaded whole: ${last} (${attempts} attempts)`);
  const buf = parts.length === 1 ? parts[0] : new Uint8Array(c.bytes);
  if (parts.length !== 1) for (let at = 0, k = 0; k < parts.length; at += parts[k].byteLength, k++) buf.set(parts[k], at);
  if ((await sha256Hex(buf)) !== c.sha256) throw new StaticPackageError(`${where} is corrupt (SHA-256 checksum mismatch)`);
  return { bytes: buf, rangeResumes };
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

// ---------------------------------------------------------------- IndexedDB plumbing

interface PointerDb extends DBSchema {
  state: { key: string; value: Pointer };
  /** Verified chunks of a load in progress, by SHA-256: a reload resumes from them. */
  chunks: { key: string; value: Uint8Array };
}

function openPointerDb(factory: IDBFactory, name: string): Promise<IDBPDatabase<PointerDb>> {
  return withFactory(factory, () =>
    openDB<PointerDb>(pointerDbName(name), POINTER_VERSION, {
      upgrade(db) {
        if (!db.objectStoreNames.contains('state')) db.createObjectStore('state');
        if (!db.objectStoreNames.contains('chunks')) db.createObjectStore('chunks');
      },
      // Another tab deletes or upgrades it: let go at once.
      blocking(_current, _next, event) {
        (event.target as IDBDatabase).close();
      },
    }),
  );
}

async function getPointer(db: IDBPDatabase<PointerDb>): Promise<Pointer | undefined> {
  return db.get('state', 'current');
}

async function putPointer(db: IDBPDatabase<PointerDb>, p: Pointer): Promise<void> {
  const tx = db.transaction('state', 'readwrite', { durability: 'strict' });
  await Promise.all([tx.store.put(p, 'current'), tx.done]);
}

async function getCachedChunk(db: IDBPDatabase<PointerDb>, sha: string): Promise<Uint8Array | undefined> {
  return db.get('chunks', sha);
}

async function putCachedChunk(db: IDBPDatabase<PointerDb>, sha: string, bytes: Uint8Array): Promise<void> {
  await db.put('chunks', bytes, sha);
}

/** The whole cache goes: chunks of abandoned versions are garbage once a version is installed. */
async function clearChunkCache(db: IDBPDatabase<PointerDb>): Promise<void> {
  await db.clear('chunks');
}

/**
 * Whether a database exists, found by opening it and aborting the upgrade a missing one would need. Not by
 * `databases()`: after an unclean shutdown Chromium 156 was seen discarding an origin's IndexedDB when a
 * listing was the first call to it (e2e/index.spec.ts notes).
 */
async function databaseExists(factory: IDBFactory, dbName: string): Promise<boolean> {
  let missing = false;
  try {
    const db = await withFactory(factory, () =>
      openDB(dbName, undefined, {
        upgrade(_db, oldVersion, _newVersion, tx) {
          if (oldVersion !== 0) return;
          missing = true;
          tx.abort(); // leaves no empty database behind
        },
      }),
    );
    db.close();
    return true;
  } catch (e) {
    if (missing) return false;
    throw e;
  }
}

function deleteDatabase(factory: IDBFactory, dbName: string): Promise<void> {
  return withFactory(factory, () => deleteDB(dbName));
}

/** Databases of versions that never became current (a load killed mid-install) or were superseded. */
async function removeStale(factory: IDBFactory, name: string, keep: (string | undefined)[]): Promise<void> {
  if (typeof factory.databases !== 'function') return;
  const prefix = indexDbName(`${name}@`);
  const keepNames = new Set(keep.filter(Boolean).map((k) => indexDbName(k!)));
  for (const d of await factory.databases()) {
    if (d.name?.startsWith(prefix) && !keepNames.has(d.name)) void deleteDatabase(factory, d.name).catch(() => {});
  }
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
