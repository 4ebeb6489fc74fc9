import { describe, expect, it } from 'vitest';
import { M3Error } from '../errors.ts';
import { M3ClosedError, M3IndexMismatchError } from '../store/errors.ts';
import { MemoryStore } from '../store/memory-store.ts';
import { FakeEncoder } from '../../test/support/fake-encoder.ts';
import { M3Index } from './m3-index.ts';
import { tuningAccess } from './tuning-access.ts';

const DOCS = [
  { id: 'a', text: 'The flows were measured over a plate.' },
  { id: 'b', text: 'A study of shock waves.' },
];

const ids = async (idx: M3Index, q: string) => (await idx.search(q, { mode: 'bm25', includeText: false })).map((h) => h.id);

describe('OpenOptions.analyzer', () => {
  it('stems when asked, is stored with the index, and is used again on a reopen without it', async () => {
    const store = new MemoryStore();
    const encoder = new FakeEncoder();
    const plain = await M3Index.open('p', { encoder, store: new MemoryStore() });
    await plain.add(DOCS);
    expect(await ids(plain, 'flow')).toEqual([]); // 'flows' is another term without stemming

    let idx = await M3Index.open('s', { encoder, store, analyzer: { stem: true } });
    await idx.add(DOCS);
    expect(await ids(idx, 'flow')).toEqual(['a']);
    expect(await ids(idx, 'waving')).toEqual(['b']);
    expect(tuningAccess(idx).meta.analyzer).toEqual({ stem: true });
    idx.close();

    idx = await M3Index.open('s', { encoder, store });
    expect(await ids(idx, 'flow')).toEqual(['a']);
    idx.close();
    idx = await M3Index.open('s', { encoder, store, analyzer: { stem: true } }); // the same options: no mismatch
    expect(idx.count()).toBe(2);
    idx.close();
  });

  it('other analyzer options than the stored ones are a mismatch: refused, reset or re-embedded', async () => {
    const store = new MemoryStore();
    const encoder = new FakeEncoder();
    const idx = await M3Index.open('m', { encoder, store, analyzer: { stem: true, stopWords: ['of', 'a'] } });
    await idx.add(DOCS);
    idx.close();

    const err = await M3Index.open('m', { encoder, store, analyzer: { stem: false } }).catch((e) => e);
    expect(err).toBeInstanceOf(M3IndexMismatchError);
    expect(err.code).toBe('MODEL_MISMATCH');
    expect(err.fields).toEqual(['analyzer']);
    // A stop-word list compares as a set.
    (await M3Index.open('m', { encoder, store, analyzer: { stopWords: ['a', 'of', 'a'], stem: true } })).close();

    const re = await M3Index.open('m', { encoder, store, analyzer: {}, onMismatch: 're-embed' });
    expect(re.count()).toBe(2);
    expect(await ids(re, 'flow')).toEqual([]); // re-indexed without stemming
    expect(await ids(re, 'flows')).toEqual(['a']);
    expect(tuningAccess(re).meta.analyzer).toBeUndefined();
    re.close();

    const reset = await M3Index.open('m', { encoder, store, analyzer: { stem: true }, onMismatch: 'reset' });
    expect(reset.count()).toBe(0);
    reset.close();
  });
});

describe('a closed index', () => {
  it('throws M3ClosedError (code CLOSED) from every read and write', async () => {
    const idx = await M3Index.open('c', { encoder: new FakeEncoder(), store: new MemoryStore() });
    await idx.add(DOCS);
    idx.close();
    const calls: (() => Promise<unknown>)[] = [
      () => idx.search('flow'),
      () => idx.add([{ id: 'z', text: 'z' }]),
      () => idx.remove(['a']),
      () => idx.get('a'),
      () => idx.compact(),
      () => idx.clear(),
    ];
    for (const call of calls) {
      const e = (await call().then(
        () => null,
        (x: unknown) => x,
      )) as M3ClosedError;
      expect(e).toBeInstanceOf(M3ClosedError);
      expect(e).toBeInstanceOf(M3Error);
      expect(e.code).toBe('CLOSED');
      expect(e.name).toBe('M3ClosedError');
    }
    expect(() => idx.count()).toThrow(M3ClosedError);
  });
});
