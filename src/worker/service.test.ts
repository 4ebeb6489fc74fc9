import { describe, expect, it } from 'vitest';
import { FakeEncoder } from '../search/fake-encoder.ts';
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
