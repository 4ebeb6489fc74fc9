/**
 * Downloading a static package's chunks: a few at a time, each checked for size and SHA-256, a cut transfer
 * resumed with a Range request, and every verified chunk kept in a cache so a reload resumes instead of
 * starting over.
 */
import { sha256Hex } from '../util/sha256.ts';
import { StaticPackageError, type StaticChunk, type StaticManifest } from './manifest.ts';
import type { StaticLoadOptions, StaticProgress } from './types.ts';

/** Verified chunks by SHA-256 (the pointer database's `chunks` store). */
export interface ChunkCache {
  get(sha: string): Promise<Uint8Array | undefined>;
  put(sha: string, bytes: Uint8Array): Promise<void>;
}

export async function downloadChunks(
  manifestUrl: string,
  m: StaticManifest,
  /** The chunk cache of an install (null: no cache, e.g. fetchStaticPackage). */
  cache: ChunkCache | null,
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
      const cached = cache ? await cache.get(c.sha256) : undefined;
      // A cached chunk is verified again: IndexedDB contents are not trusted blindly either.
      if (cached && cached.byteLength === c.bytes && (await sha256Hex(cached)) === c.sha256) {
        out[i] = cached;
        resumed++;
        loaded += c.bytes;
      } else {
        // validateManifest allows plain relative paths only; the resolved URL is checked as well.
        const url = new URL(c.file, manifestUrl);
        if (!url.href.startsWith(new URL('.', manifestUrl).href))
          throw new StaticPackageError(`the manifest is corrupt (chunk ${i + 1} points outside the package: ${JSON.stringify(c.file)})`);
        const r = await fetchChunk(url.href, c, i, m.chunks.length, f, opts, (n) => {
          loaded += n;
          bytesFetched += n;
          report();
        });
        out[i] = r.bytes;
        rangeResumes += r.rangeResumes;
        fetched++;
        // Kept until the install completes, so a reload mid-download resumes instead of starting over.
        if (cache) await cache.put(c.sha256, r.bytes).catch(() => {});
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
