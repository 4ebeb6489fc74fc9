/**
 * Static packages in Node: build → load into (fake) IndexedDB, a second load that finds the version
 * current, an offline load, atomic replacement, every refusal leaving the current index answering, and
 * cut transfers that resume (Range) or fail cleanly. The same flows run in real Chromium in
 * e2e/static.spec.ts.
 */
import 'fake-indexeddb/auto'; // idb's instanceof checks need the IDB globals
import { IDBFactory } from 'fake-indexeddb';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FakeEncoder } from '../../test/support/fake-encoder.ts';
import { M3Index } from '../search/m3-index.ts';
import { M3IndexMismatchError } from '../store/errors.ts';
import { MemoryStore } from '../store/memory-store.ts';
import { writeStaticPackage } from './build.ts';
import { installedStaticVersion, staticLoadReport, type StaticLoadOptions } from './loader.ts';
import { loadStaticIndex } from './load-index.ts';
import { StaticPackageError, validateManifest, type StaticManifest } from './manifest.ts';

const tmp = mkdtempSync(join(tmpdir(), 'm3-static-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const enc = new FakeEncoder({ dims: 16 });
const BASE = 'https://site.example/search-index/';

const TEXTS = [
  'boundary layer flow over a flat plate',
  'supersonic shock waves on a swept wing',
  'heat transfer in hypersonic flow',
  'laminar to turbulent transition in pipes',
  'vortex shedding behind a cylinder',
  'pressure distribution on an aerofoil',
];

/** Builds a package of `n` documents (texts cycle, ids unique) into a fresh folder. */
async function build(tag: string, n: number, chunkBytes = 2048, encoder = enc): Promise<{ dir: string; manifest: StaticManifest }> {
  const store = new MemoryStore();
  const idx = await M3Index.open(tag, { encoder, store });
  await idx.add(
    Array.from({ length: n }, (_, i) => ({ id: `${tag}-${i}`, text: `${TEXTS[i % TEXTS.length]} ${tag} number ${i}`, metadata: { i } })),
    { batchSize: 20 },
  );
  const dir = join(tmp, tag);
  const manifest = await writeStaticPackage(store, dir, { chunkBytes });
  return { dir, manifest };
}

type Fault = (path: string, init: RequestInit | undefined, attempt: number) => Response | 'pass' | Promise<Response | 'pass'>;

/** fetch over a package folder: Range requests answered with 206 (as static servers do), faults injectable. */
function server(dir: string, fault?: Fault) {
  const log: { path: string; range: string | null }[] = [];
  const attempts = new Map<string, number>();
  const f = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const url = new URL(String(input));
    if (!url.href.startsWith(BASE)) throw new TypeError(`fetch to another origin: ${url.href}`);
    const path = url.pathname.slice(new URL(BASE).pathname.length);
    const range = new Headers(init?.headers).get('range');
    log.push({ path, range });
    const n = (attempts.get(path) ?? 0) + 1;
    attempts.set(path, n);
    if (fault) {
      const r = await fault(path, init, n);
      if (r !== 'pass') return r;
    }
    let body: Uint8Array<ArrayBuffer>;
    try {
      body = new Uint8Array(readFileSync(join(dir, path)));
    } catch {
      return new Response('not found', { status: 404 });
    }
    const m = range && /^bytes=(\d+)-$/.exec(range);
    if (m) {
      const start = Number(m[1]);
      return new Response(body.slice(start), { status: 206, headers: { 'content-range': `bytes ${start}-${body.length - 1}/${body.length}` } });
    }
    return new Response(body, { status: 200 });
  };
  return { fetch: f as typeof fetch, log };
}

const offline = (async () => {
  throw new TypeError('Failed to fetch');
}) as unknown as typeof fetch;

/** The model-mismatch refusal a load ends in (anything else fails the test). */
async function mismatch(p: Promise<unknown>): Promise<M3IndexMismatchError> {
  const e = await p.then(
    () => new Error('accepted'),
    (e) => e,
  );
  if (!(e instanceof M3IndexMismatchError)) throw e;
  expect(e.code).toBe('MODEL_MISMATCH');
  return e;
}

async function ids(idx: M3Index, q: string) {
  return (await idx.search(q, { k: 3, includeText: false })).map((h) => h.id);
}

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'accepted';
  } catch (e) {
    if (!(e instanceof StaticPackageError)) throw e;
    return e.reason;
  }
}

describe('static index packages', () => {
  it('build → load: same answers as the source, then "current" without downloads, then offline', async () => {
    const { dir, manifest } = await build('v1', 50);
    expect(manifest.chunks.length).toBeGreaterThan(3); // 2 KiB chunks: segments span several
    const factory = new IDBFactory();
    const srv = server(dir);
    const phases = new Set<string>();
    const opts: StaticLoadOptions = { name: 'docs', encoder: enc, indexedDB: factory, fetch: srv.fetch, onProgress: (p) => phases.add(p.phase) };
    const idx = await loadStaticIndex(BASE, opts);
    expect([...phases]).toEqual(['manifest', 'download', 'verify', 'install', 'ready']);
    const r = staticLoadReport(idx)!;
    expect(r).toMatchObject({
      status: 'installed',
      version: manifest.version,
      bytesFetched: manifest.totalBytes,
      chunksFetched: manifest.chunks.length,
      chunksResumed: 0,
    });
    expect(idx.count()).toBe(50);
    expect((await ids(idx, 'shock waves swept wing number 1'))[0]).toBe('v1-1');
    expect(await idx.get('v1-7')).toEqual({ id: 'v1-7', text: `${TEXTS[1]} v1 number 7`, metadata: { i: 7 } });
    idx.close();

    const again = await M3Index.fromStatic(BASE, opts);
    expect(staticLoadReport(again)).toMatchObject({ status: 'current', bytesFetched: 0 });
    expect(again.count()).toBe(50);
    again.close();

    const off = await loadStaticIndex(BASE, { ...opts, fetch: offline });
    expect(staticLoadReport(off)).toMatchObject({ status: 'offline', version: manifest.version });
    expect(staticLoadReport(off)!.reason).toMatch(/network/);
    expect((await ids(off, 'vortex shedding cylinder number 4'))[0]).toBe('v1-4');
    off.close();
  });

  it('replaces an older version atomically: the old one answers until the new one is complete', async () => {
    const v1 = await build('a1', 30);
    const v2 = await build('a2', 45);
    const factory = new IDBFactory();
    // One URL, two deploys: the folder behind it changes.
    let dir = v1.dir;
    const f = ((i: RequestInfo | URL, init?: RequestInit) => server(dir).fetch(i, init)) as typeof fetch;
    const opts = { name: 'docs', encoder: enc, indexedDB: factory, fetch: f };
    const old = await loadStaticIndex(BASE, opts);
    expect(old.count()).toBe(30);
    dir = v2.dir;
    let oldAnswered = 0;
    const next = await loadStaticIndex(BASE, {
      ...opts,
      onProgress: async (p) => {
        // Mid-download and mid-install, the old index still answers.
        if (p.phase === 'download' || p.phase === 'install') if ((await ids(old, 'heat transfer')).length) oldAnswered++;
      },
    });
    expect(oldAnswered).toBeGreaterThan(0);
    expect(next.count()).toBe(45);
    expect(staticLoadReport(next)).toMatchObject({ status: 'installed', version: v2.manifest.version, previous: `docs@${v1.manifest.version}` });
    expect((await installedStaticVersion('docs', factory))?.version).toBe(v2.manifest.version);
    await new Promise((r) => setTimeout(r, 50));
    const names = (await factory.databases()).map((d) => d.name).sort();
    expect(names).toEqual([`m3-search-static:docs`, `m3-search:docs@${v2.manifest.version}`]);
    expect(() => old.count() && old.search('x')).toThrow(/another tab upgraded or deleted|closed/);
    next.close();
  });

  it('refuses a bad checksum, a missing chunk, another model, an unknown schema or package version, a chunk outside the package — before anything changes', async () => {
    const good = await build('g1', 20);
    const factory = new IDBFactory();
    const opts = { name: 'docs', encoder: enc, indexedDB: factory };
    const current = await loadStaticIndex(BASE, { ...opts, fetch: server(good.dir).fetch });
    const before = (await factory.databases()).map((d) => d.name).sort();

    const bad = await build('b1', 25);
    const chunk = bad.manifest.chunks[1].file;
    const flipped = server(bad.dir, (path) => {
      if (path !== chunk) return 'pass';
      const b = new Uint8Array(readFileSync(join(bad.dir, path)));
      b[10] ^= 0xff;
      return new Response(b);
    });
    const missing = server(bad.dir, (path) => (path === chunk ? new Response('gone', { status: 404 }) : 'pass'));
    const editManifest = (edit: (m: any) => void) =>
      server(bad.dir, (path) => {
        if (path !== 'manifest.json') return 'pass';
        const m = JSON.parse(readFileSync(join(bad.dir, path), 'utf8'));
        edit(m);
        return new Response(JSON.stringify(m));
      });
    const reasons = {
      checksum: await refusal(loadStaticIndex(BASE, { ...opts, fetch: flipped.fetch })),
      missing: await refusal(loadStaticIndex(BASE, { ...opts, fetch: missing.fetch })),
      model: await mismatch(loadStaticIndex(BASE, { ...opts, encoder: new FakeEncoder({ dims: 16, modelId: 'BAAI/bge-m3' }), fetch: server(bad.dir).fetch })),
      dims: await mismatch(loadStaticIndex(BASE, { ...opts, encoder: new FakeEncoder({ dims: 8 }), fetch: server(bad.dir).fetch })),
      heads: await mismatch(loadStaticIndex(BASE, { ...opts, encoder: new FakeEncoder({ dims: 16, headHash: 'tuned-2' }), fetch: server(bad.dir).fetch })),
      schema: await refusal(loadStaticIndex(BASE, { ...opts, fetch: editManifest((m) => ((m.schemaVersion = 9), (m.meta.schemaVersion = 9))).fetch })),
      packageVersion: await refusal(loadStaticIndex(BASE, { ...opts, fetch: editManifest((m) => (m.packageVersion = 2)).fetch })),
      outside: await refusal(loadStaticIndex(BASE, { ...opts, fetch: editManifest((m) => (m.chunks[0].file = '../../secret.bin')).fetch })),
      foreign: await refusal(loadStaticIndex(BASE, { ...opts, fetch: editManifest((m) => (m.format = 'pagefind')).fetch })),
    };
    expect(reasons.checksum).toMatch(/chunk 2 of \d+ .* is corrupt \(SHA-256 checksum mismatch\)/);
    expect(reasons.missing).toMatch(/chunk 2 of \d+ .* is missing \(HTTP 404\)/);
    expect(reasons.model.fields).toEqual(['model id']);
    expect(reasons.model.message).toMatch(
      /^static index package was built with model "fake-m3" \(dims 16, .*\) but opened with model "BAAI\/bge-m3" \(dims 16, .*\); rebuild the package/,
    );
    expect(reasons.dims.fields).toEqual(['dims']);
    expect(reasons.heads.fields).toEqual(['head hash']);
    expect([reasons.heads.stored.headHash, reasons.heads.given.headHash]).toEqual([enc.info.headHash, 'tuned-2']);
    expect(reasons.schema).toMatch(/schema version 9; this version of m3-search reads versions 2 to \d+/);
    expect(reasons.packageVersion).toMatch(/package format version 2/);
    expect(reasons.outside).toMatch(/points outside the package/);
    expect(reasons.foreign).toMatch(/not an m3-search static package/);

    // Nothing replaced, nothing left behind; the current index answers.
    await new Promise((r) => setTimeout(r, 50));
    expect((await factory.databases()).map((d) => d.name).sort()).toEqual(before);
    expect((await installedStaticVersion('docs', factory))?.version).toBe(good.manifest.version);
    expect(current.count()).toBe(20);
    expect(await ids(current, 'boundary layer')).toContain('g1-0');
    current.close();
  });

  it('a package built at one dtype is refused by a page whose encoder uses another, both ways, before any chunk is fetched', async () => {
    const fp32 = await build('d32', 8, 2048, new FakeEncoder({ dims: 16, dtype: 'fp32' }));
    const q8 = await build('dq8', 8, 2048, new FakeEncoder({ dims: 16, dtype: 'q8' }));
    expect([fp32.manifest.model.dtype, q8.manifest.model.dtype]).toEqual(['fp32', 'q8']);
    for (const [pkg, page] of [
      [fp32, 'q8'],
      [q8, 'fp32'],
    ] as const) {
      const built = pkg.manifest.model.dtype;
      const factory = new IDBFactory();
      const srv = server(pkg.dir);
      const e = await mismatch(
        loadStaticIndex(BASE, { name: 'docs', indexedDB: factory, encoder: new FakeEncoder({ dims: 16, dtype: page }), fetch: srv.fetch }),
      );
      expect(e.fields).toEqual(['dtype']);
      expect([e.stored.dtype, e.given.dtype]).toEqual([built, page]);
      expect(e.message).toContain(
        `static index package was built with model "fake-m3" (dims 16, head fake-head-1, dtype ${built}) but opened with model "fake-m3" (dims 16, head fake-head-1, dtype ${page}) (differs in dtype)`,
      );
      expect(e.message).toContain(`load the encoder with { dtype: '${built}' }`);
      // Refused on the manifest alone: no chunk requested, nothing installed.
      expect(srv.log.map((l) => l.path)).toEqual(['manifest.json']);
      expect(await installedStaticVersion('docs', factory)).toBeNull();
      // The page's own dtype loads and answers.
      const ok = await loadStaticIndex(BASE, {
        name: 'docs',
        indexedDB: factory,
        encoder: new FakeEncoder({ dims: 16, dtype: built }),
        fetch: server(pkg.dir).fetch,
      });
      expect(ok.info.dtype).toBe(built);
      expect(await ids(ok, 'boundary layer')).toContain(`${built === 'fp32' ? 'd32' : 'dq8'}-0`);
      ok.close();
    }
    // Without an encoder, { model } is compared the same way; a dtype it leaves unset is not compared.
    const id = { modelId: 'fake-m3', dims: 16, headHash: 'fake-head-1' };
    expect(validateManifest(structuredClone(q8.manifest), { ...id, dtype: 'q8' }).version).toBe(q8.manifest.version);
    expect(validateManifest(structuredClone(q8.manifest), { ...id, dtype: '' }).version).toBe(q8.manifest.version);
    expect(() => validateManifest(structuredClone(q8.manifest), { ...id, dtype: 'fp16' })).toThrow(M3IndexMismatchError);
    // A manifest whose model names another dtype than its index meta, or none, is corrupt.
    const lying = structuredClone(q8.manifest) as any;
    lying.model.dtype = 'fp32';
    expect(() => validateManifest(lying, { ...id, dtype: 'fp32' })).toThrow(/its model and its index meta disagree/);
    delete lying.model.dtype;
    expect(() => validateManifest(lying)).toThrow(/no model identity/);
  });

  it('chunk paths: only plain relative paths inside the package; a huge declared size is refused before any allocation', async () => {
    const good = await build('p1', 10);
    const hostile = [
      '\\\\host\\x.bin',
      'chunks\\x.bin',
      ' //host/x.bin',
      '//host/x.bin',
      '/etc/x.bin',
      'ht\ttps://evil.example/x.bin',
      'https://evil.example/x.bin',
      '%2e%2e/x.bin',
      'chunks/%2E%2E/%2e%2e/x.bin',
      '../x.bin',
      'chunks/../../x.bin',
      './x.bin',
      'x.bin ',
      'chunks//x.bin',
      'a\u0000.bin',
      'chunks/x.bin?y',
      'chunks/x.bin#y',
      '',
      'C:/x.bin',
      'data:,x',
    ];
    for (const file of hostile) {
      const m = structuredClone(good.manifest) as any;
      m.chunks[0].file = file;
      expect(() => validateManifest(m), JSON.stringify(file)).toThrow(/points outside the package|lacks a file/);
    }
    const fine = structuredClone(good.manifest) as any;
    fine.chunks[0].file = 'chunks/sub-dir/x_1.bin';
    expect(() => validateManifest(fine)).not.toThrow();
    // 1e12 bytes: refused by the manifest check, with words, not a RangeError from an allocation.
    const factory = new IDBFactory();
    const huge = server(good.dir, (path) => {
      if (path !== 'manifest.json') return 'pass';
      const m = JSON.parse(readFileSync(join(good.dir, path), 'utf8'));
      const extra = 1e12 - m.chunks[0].bytes;
      m.chunks[0].bytes = 1e12;
      m.totalBytes += extra;
      m.segments[0].bytes += extra;
      return new Response(JSON.stringify(m));
    });
    expect(await refusal(loadStaticIndex(BASE, { name: 'huge', encoder: enc, indexedDB: factory, fetch: huge.fetch }))).toMatch(
      /chunk 1 declares 1000000000000 bytes; at most \d+ are accepted/,
    );
  });

  it('a cut transfer resumes with a Range request; without Range support it restarts the chunk; past the retries it fails cleanly', async () => {
    const { dir, manifest } = await build('t1', 40);
    const target = manifest.chunks[2];
    const half = Math.floor(target.bytes / 2);
    const file = () => new Uint8Array(readFileSync(join(dir, target.file)));
    /** A body that delivers `n` bytes, then the connection drops. */
    const dropping = (b: Uint8Array, n: number) => {
      let sent = false;
      return new Response(
        new ReadableStream({
          pull(c) {
            // First read: the bytes; second read: the drop (erroring at once would discard the queued bytes).
            if (!sent) (sent = true), c.enqueue(b.slice(0, n));
            else c.error(new TypeError('network error'));
          },
        }),
      );
    };

    const withRange = server(dir, (path, _i, n) => (path === target.file && n === 1 ? dropping(file(), half) : 'pass'));
    const a = await loadStaticIndex(BASE, { name: 'r1', encoder: enc, indexedDB: new IDBFactory(), fetch: withRange.fetch });
    expect(staticLoadReport(a)).toMatchObject({ status: 'installed', rangeResumes: 1, bytesFetched: manifest.totalBytes });
    expect(withRange.log.filter((l) => l.path === target.file).map((l) => l.range)).toEqual([null, `bytes=${half}-`]);
    expect(a.count()).toBe(40);
    a.close();

    // A short body (Content-Length says less, e.g. a proxy cut it), and a server that ignores Range.
    const noRange = server(dir, (path, _i, n) => {
      if (path !== target.file) return 'pass';
      return n === 1 ? new Response(file().slice(0, half)) : new Response(file()); // 200 both times
    });
    const b = await loadStaticIndex(BASE, { name: 'r2', encoder: enc, indexedDB: new IDBFactory(), fetch: noRange.fetch });
    expect(staticLoadReport(b)).toMatchObject({ status: 'installed', rangeResumes: 0 });
    expect(b.count()).toBe(40);
    b.close();

    const factory = new IDBFactory();
    const always = server(dir, (path) => (path === target.file ? dropping(file(), 100) : 'pass'));
    expect(await refusal(loadStaticIndex(BASE, { name: 'r3', encoder: enc, indexedDB: factory, fetch: always.fetch, retries: 2 }))).toMatch(
      /chunk 3 of \d+ .* could not be downloaded whole: the connection dropped after \d+ of \d+ bytes \(3 attempts\)/,
    );
    expect(await installedStaticVersion('r3', factory)).toBeNull();
    expect((await factory.databases()).map((d) => d.name)).toEqual(['m3-search-static:r3']);

    // The reload after that failure resumes: the chunks verified before are not fetched again.
    const healed = server(dir);
    const c = await loadStaticIndex(BASE, { name: 'r3', encoder: enc, indexedDB: factory, fetch: healed.fetch });
    const rep = staticLoadReport(c)!;
    expect(rep.status).toBe('installed');
    expect(rep.chunksResumed).toBeGreaterThan(0);
    expect(rep.chunksResumed + rep.chunksFetched).toBe(manifest.chunks.length);
    expect(rep.bytesFetched).toBeLessThan(manifest.totalBytes);
    expect(c.count()).toBe(40);
    c.close();
  });

  it('an empty index packages and loads; a manifest that is not JSON is refused with nothing installed', async () => {
    const store = new MemoryStore();
    const idx = await M3Index.open('e', { encoder: enc, store });
    await idx.add([{ id: 'x', text: 'one' }]);
    await idx.remove(['x']);
    const dir = join(tmp, 'empty');
    const m = await writeStaticPackage(store, dir);
    expect(m.docCount).toBe(0);
    const loaded = await loadStaticIndex(BASE, { name: 'e', encoder: enc, indexedDB: new IDBFactory(), fetch: server(dir).fetch });
    expect(loaded.count()).toBe(0);
    expect(await loaded.search('one')).toEqual([]);
    loaded.close();
    writeFileSync(join(tmp, 'notjson.json'), '<html>');
    const factory = new IDBFactory();
    expect(
      await refusal(
        loadStaticIndex(BASE, { name: 'n', indexedDB: factory, fetch: server(tmp, (p) => (p === 'manifest.json' ? new Response('<html>') : 'pass')).fetch }),
      ),
    ).toMatch(/not valid JSON, and no earlier version/);
  });
});
