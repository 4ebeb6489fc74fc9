import { createServer } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FakeEncoder } from '../../test/support/fake-encoder.ts';
import { M3Index } from '../search/m3-index.ts';
import { writeStaticPackage } from '../static/build.ts';
import { MemoryStore } from '../store/memory-store.ts';
import { M3Service } from './service.ts';

/** A service over in-memory stores and the hashing fake encoder; model "bad" fails to load. */
function service() {
  const stores = new Map<string, MemoryStore>();
  return new M3Service({
    makeStore: (name) => stores.get(name) ?? (stores.set(name, new MemoryStore()), stores.get(name)!),
    loadEncoder: async (o) => {
      if (o.model === 'bad') throw new Error('Model file missing: config.json in bad');
      return new FakeEncoder({ modelId: o.model, dims: 16 }) as any;
    },
  });
}

const docs = Array.from({ length: 50 }, (_, i) => ({ id: `d${i}`, text: `document ${i} about pears and ${i % 2 ? 'apples' : 'plums'}` }));

describe('M3Service (the worker body)', () => {
  it('keeps the current model when a new one fails to load', async () => {
    const s = service();
    await s.loadModel({ model: 'fake' });
    await s.openIndex('x');
    await s.ingest(docs.slice(0, 5));
    await expect(s.loadModel({ model: 'bad' })).rejects.toThrow(/config.json/);
    expect((await s.status()).encoder?.modelId).toBe('fake');
    expect((await s.search('pears')).hits.length).toBeGreaterThan(0);
  });

  it('searches with the query syntax and the structured form; syntax errors keep their name', async () => {
    const s = service();
    await s.loadModel({ model: 'fake' });
    await s.openIndex('x');
    await s.ingest(docs);
    const odd = (await s.search('+apples -"document 1"', { mode: 'hybrid', k: 50 })).hits.map((h) => h.id);
    expect(odd.length).toBe(24); // 25 with apples, less "document 1"
    expect(odd.every((id) => Number(id.slice(1)) % 2 === 1 && id !== 'd1')).toBe(true);
    const st = (await s.search({ must: ['plums'], mustNot: [{ prefix: 'app' }] }, { mode: 'bm25', k: 50 })).hits;
    expect(st.length).toBe(25);
    await expect(s.search('"pears')).rejects.toMatchObject({ name: 'QuerySyntaxError', position: 0 });
  });

  it('reports progress and stops at a batch boundary when cancelled', async () => {
    const s = service();
    await s.loadModel({ model: 'fake' });
    await s.openIndex('x');
    const seen: number[] = [];
    const run = s.ingest(docs, { batchSize: 10, task: 't1' }, (p) => {
      seen.push(p.done);
      void s.cancel('t1');
    });
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    expect(seen[0]).toBe(10);
    const n = await s.count();
    expect(n % 10).toBe(0); // whole batches only
    expect(n).toBeLessThan(50);
  });

  it('exports and imports, refusing a file from another model', async () => {
    const s = service();
    await s.loadModel({ model: 'fake' });
    await s.openIndex('x');
    await s.ingest(docs);
    const file = await s.exportIndex();
    await s.clear();
    expect(await s.count()).toBe(0);
    expect((await s.importIndex(file)).count).toBe(50);
    expect((await s.search('apples', { k: 3 })).hits).toHaveLength(3);

    const other = service();
    await other.loadModel({ model: 'other' });
    await other.openIndex('y');
    await other.ingest(docs.slice(0, 2));
    await expect(other.importIndex(file)).rejects.toThrow(/another model/);
    expect(await other.count()).toBe(2);
  });
});

describe('M3Service.importStatic (an index built at build time seeds an editable one)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'm3-service-static-'));
  // A static server over the package folder, as a site would serve it.
  const server = createServer((req, res) => {
    try {
      res.end(readFileSync(join(dir, decodeURIComponent(new URL(req.url!, 'http://x').pathname).replace(/^\/pkg\//, ''))));
    } catch {
      res.statusCode = 404;
      res.end();
    }
  });
  const ready = new Promise<string>((res) => server.listen(0, '127.0.0.1', () => res(`http://127.0.0.1:${(server.address() as { port: number }).port}/pkg/`)));
  afterAll(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('imports a verified package built with the same model, keeps it editable, refuses one from another model or a corrupt one', async () => {
    const store = new MemoryStore();
    const built = await M3Index.open('site', { encoder: new FakeEncoder({ modelId: 'fake', dims: 16 }), store });
    await built.add(docs);
    const manifest = await writeStaticPackage(store, dir, { chunkBytes: 4096 });
    expect(manifest.chunks.length).toBeGreaterThan(1);
    const url = await ready;

    const s = service();
    await s.loadModel({ model: 'fake' });
    await s.openIndex('x');
    await s.ingest([{ id: 'mine', text: 'a document of my own' }]);
    const phases = new Set<string>();
    const info = await s.importStatic(url, (p) => phases.add(p.phase));
    expect(info).toMatchObject({ count: 50, version: manifest.version, name: 'x' });
    expect(phases).toEqual(new Set(['download', 'verify']));
    expect(await s.get('mine')).toBeUndefined(); // replaced, like importIndex
    expect((await s.search('pears plums', { k: 3 })).hits).toHaveLength(3);
    await s.ingest([{ id: 'added', text: 'added after the import' }]);
    expect(await s.count()).toBe(51);

    const other = service();
    await other.loadModel({ model: 'other' });
    await other.openIndex('y');
    await other.ingest(docs.slice(0, 2));
    await expect(other.importStatic(url)).rejects.toThrow(/another model|model "fake"/);
    expect(await other.count()).toBe(2);
    // Another dtype (as the demo's q8 package on a page that runs fp32): refused before any write, and the
    // open index still answers.
    const q8Page = new M3Service({
      makeStore: () => new MemoryStore(),
      loadEncoder: async () => new FakeEncoder({ modelId: 'fake', dims: 16, dtype: 'q8' }) as any,
    });
    await q8Page.loadModel({ model: 'fake' });
    await q8Page.openIndex('z');
    await q8Page.ingest(docs.slice(0, 3));
    await expect(q8Page.importStatic(url)).rejects.toMatchObject({ name: 'M3IndexMismatchError', fields: ['dtype'] });
    await expect(q8Page.importIndex(await s.exportIndex())).rejects.toMatchObject({ name: 'M3IndexMismatchError', fields: ['dtype'] });
    expect(await q8Page.count()).toBe(3);
    expect((await q8Page.search('pears', { k: 3 })).hits.length).toBeGreaterThan(0);

    const chunk = join(dir, manifest.chunks[1].file);
    const bytes = readFileSync(chunk);
    bytes[10] ^= 0xff;
    writeFileSync(chunk, bytes);
    await expect(s.importStatic(url)).rejects.toMatchObject({ name: 'StaticPackageError', message: expect.stringMatching(/chunk 2 of \d+ .*corrupt/) });
    expect(await s.count()).toBe(51); // the open index as it was
    await expect(s.importStatic(url.replace('/pkg/', '/nothing/'))).rejects.toThrow(/manifest.json could not be fetched \(HTTP 404\)/);
  });
});
