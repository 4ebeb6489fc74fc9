import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../store/memory-store.ts';
import { FakeEncoder } from '../../test/support/fake-encoder.ts';
import { M3Index } from './m3-index.ts';
import { exportStore, parsePortable, PortableImportError, writePortable } from './portable.ts';

const DOCS = [
  { id: 'a', text: 'red apples and green pears', metadata: { n: 1 } },
  { id: 'b', text: 'a <b>bold</b> claim about pears' },
  { id: 'c', text: 'boundary layers over flat plates' },
  { id: 'd', text: 'pears, apples, plums' },
];

async function filled(enc = new FakeEncoder({ dims: 16 })) {
  const store = new MemoryStore();
  const idx = await M3Index.open('src', { encoder: enc, store });
  await idx.add(DOCS, { batchSize: 2 });
  await idx.upsert([{ id: 'a', text: 'red apples only' }]);
  await idx.remove(['d']);
  return { idx, store, enc };
}

const identity = (e: FakeEncoder) => ({ modelId: e.info.modelId!, dims: e.info.hidden, headHash: e.info.headHash, dtype: String(e.info.dtype) });

describe('portable index file', () => {
  it('round-trips: the imported index answers like the original', async () => {
    const { idx, store, enc } = await filled();
    const bytes = await exportStore(store);
    const before = await idx.search('pears apples', { k: 5 });
    const target = new MemoryStore();
    await writePortable(target, await parsePortable(bytes, identity(enc)));
    const copy = await M3Index.open('dst', { encoder: enc, store: target });
    expect(copy.count()).toBe(3);
    expect((await copy.get('a'))?.text).toBe('red apples only');
    expect(await copy.get('d')).toBeUndefined();
    const after = await copy.search('pears apples', { k: 5 });
    expect(after.map((h) => [h.id, h.score])).toEqual(before.map((h) => [h.id, h.score]));
  });

  it('refuses another model, another schema version, a corrupt or foreign file, before writing', async () => {
    const { store, enc } = await filled();
    const bytes = await exportStore(store);
    const reason = async (b: Uint8Array, expect = identity(enc)) => {
      try {
        await parsePortable(b, expect);
        return 'accepted';
      } catch (e) {
        if (!(e instanceof PortableImportError)) throw e;
        return e.reason;
      }
    };
    expect(await reason(bytes, { ...identity(enc), modelId: 'Xenova/bge-m3' })).toMatch(/another model/);
    expect(await reason(bytes, { ...identity(enc), headHash: 'other' })).toMatch(/heads/);
    const flipped = bytes.slice();
    flipped[flipped.length - 10] ^= 0xff;
    expect(await reason(flipped)).toMatch(/checksum/);
    expect(await reason(bytes.slice(0, bytes.length - 5))).toMatch(/truncated/);
    expect(await reason(new TextEncoder().encode('{"hello": "json"}'))).toMatch(/not an m3-search index/);
    // Rewrite the header with another schema version.
    const hLen = new DataView(bytes.buffer).getUint32(8, true);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + hLen)));
    header.schemaVersion = 1;
    header.meta.schemaVersion = 1;
    const h = new TextEncoder().encode(JSON.stringify(header));
    const old = new Uint8Array(12 + h.length + bytes.length - 12 - hLen);
    old.set(bytes.subarray(0, 12));
    new DataView(old.buffer).setUint32(8, h.length, true);
    old.set(h, 12);
    old.set(bytes.subarray(12 + hLen), 12 + h.length);
    expect(await reason(old)).toMatch(/schema version 1/);
  });
});
