import { describe, expect, it } from 'vitest';
import { M3Encoder } from '../encoder/m3-encoder.ts';
import { MemoryStore } from '../store/memory-store.ts';
import { M3Service } from './service.ts';

const docs = Array.from({ length: 24 }, (_, i) => ({
  id: `d${i}`,
  text: `${['boundary layer', 'shock wave', 'heat transfer'][i % 3]} report ${i}\nThe flow over a plate was measured at station ${i}. A layer formed near the ${['edge', 'nose', 'tail'][i % 3]}. Results agree with the theory.`,
}));

describe('M3Service tune (the worker body, real tiny model)', () => {
  it('tunes with progress, lists the version as active, reverts; cancel by task leaves the index as it was', async () => {
    const stores = new Map<string, MemoryStore>();
    const s = new M3Service({
      makeStore: (name) => stores.get(name) ?? (stores.set(name, new MemoryStore()), stores.get(name)!),
      loadEncoder: (o) => M3Encoder.load({ ...o, device: 'cpu', dtype: 'fp32' }),
    });
    await s.loadModel({ model: 'public/models/tiny-m3' });
    await s.openIndex('t');
    await s.ingest(docs);
    const phases = new Set<string>();
    const r = await s.tune({ maxEpochs: 2, teacher: 'none' }, (p) => phases.add(p.phase));
    expect(r.status).toBe('tuned');
    expect([...phases]).toEqual(expect.arrayContaining(['encode', 'train', 'reindex']));
    let h = await s.heads();
    expect(h.active).toEqual({ version: 1, hash: r.hash });
    expect(h.versions.map((v) => v.version)).toEqual([1]);

    const pending = s.tune({ maxEpochs: 50, patience: 50, teacher: 'none', task: 'job' }, (p) => p.phase === 'train' && void s.cancel('job'));
    await expect(pending).rejects.toThrow(/abort/);
    h = await s.heads();
    expect(h.active?.version).toBe(1);
    expect(h.versions.length).toBe(1);

    h = await s.revertTune();
    expect(h.active).toBeNull();
    expect((await s.status()).index?.count).toBe(24);
  });
});
