import 'fake-indexeddb/auto'; // idb's instanceof checks need the IDB globals
import { IDBFactory } from 'fake-indexeddb';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { M3Encoder } from '../encoder/m3-encoder.ts';
import { M3Index } from '../search/m3-index.ts';
import { FileStore } from '../store/file-store.ts';
import { IdbStore } from '../store/idb-store.ts';
import { MemoryStore } from '../store/memory-store.ts';
import type { Store } from '../store/types.ts';
import { WORDS_EN } from '../../test/testmodel/vocab.ts';
import { decodeHead, encodeHead, hashHead } from './head-codec.ts';
import { listHeads } from './head-store.ts';
import { HiddenCache } from './hidden-cache.ts';
import { checkPairs, minePseudoQueries, parsePairs, splitHeldOut } from './pairs.ts';
import { mulberry32 } from '../util/random.ts';
import { postingsPerDoc, revertSparseHead, tuneSparseHead } from './tune.ts';
import { tuningAccess } from '../search/tuning-access.ts';

const MODEL = 'public/models/tiny-m3';
let enc: M3Encoder;

/** Documents made of the tiny tokenizer's words: a title line, then sentences sharing topic words. */
function docs(n: number, seed = 1): { id: string; text: string }[] {
  const words = WORDS_EN.filter((w) => /^[a-z]{3,}$/.test(w));
  const r = mulberry32(seed);
  const pick = () => words[Math.floor(r() * words.length)];
  return Array.from({ length: n }, (_, d) => {
    const topic = [pick(), pick(), pick()];
    const sentence = () => Array.from({ length: 6 + Math.floor(r() * 6) }, (_, k) => (k % 3 === 0 ? topic[k % 3] : pick())).join(' ') + '.';
    return { id: `d${d}`, text: `${topic.join(' ')} ${pick()}\n${sentence()} ${sentence()} ${sentence()} ${sentence()}` };
  });
}

const quick = { maxEpochs: 2, teacher: 'none' as const };

beforeAll(async () => {
  enc = await M3Encoder.load({ model: MODEL, dtype: 'fp32', device: 'cpu' });
});

describe('pairs', () => {
  it('mines titles and held-out sentences with their spans; splits held-out by document', () => {
    const ds = docs(10);
    const pairs = minePseudoQueries(ds, { sentencesPerDoc: 2 });
    expect(pairs.filter((p) => p.source === 'title').length).toBe(10);
    expect(pairs.filter((p) => p.source === 'sentence').length).toBe(20);
    for (const p of pairs) expect(ds.find((d) => d.id === p.docId)!.text.slice(p.span![0], p.span![1])).toBe(p.query);
    const { train, heldOut } = splitHeldOut(pairs, 0.3);
    const trainDocs = new Set(train.map((p) => p.docId));
    expect(heldOut.length).toBeGreaterThan(0);
    expect(heldOut.some((p) => trainDocs.has(p.docId))).toBe(false);
  });

  it('parses JSON lines and TSV; unknown ids are reported and skipped', () => {
    const pairs = parsePairs('{"query":"wing flutter","docId":"d1"}\nshock waves\td404\n\n{"query":"x","doc_id":7}');
    expect(pairs.map((p) => p.docId)).toEqual(['d1', 'd404', '7']);
    const { ok, unknownIds } = checkPairs(pairs, (id) => id === 'd1');
    expect(ok.length).toBe(1);
    expect(unknownIds.sort()).toEqual(['7', 'd404']);
    expect(() => parsePairs('no tab here')).toThrow(/line 1/);
  });
});

describe('head codec', () => {
  it('round-trips a head with its vocabulary map; the hash covers what produces weights', async () => {
    const scale = new Float32Array(20).fill(1);
    const shift = new Float32Array(20);
    scale[5] = 2;
    shift[7] = -0.5;
    const head = { weight: Float32Array.from([0.1, -0.2, 0.3]), bias: 0.05, vocab: { scale, shift }, threshold: 0.01 };
    const rec = {
      version: 3,
      hash: await hashHead(head),
      baseHeadHash: 'b',
      modelId: 'm',
      hidden: 3,
      createdAt: 1,
      options: { l1: 1 },
      metrics: { x: 1 },
      head,
    };
    const back = decodeHead(encodeHead(rec));
    expect(back.version).toBe(3);
    expect(Array.from(back.head.weight)).toEqual(Array.from(head.weight));
    expect(back.head.vocab!.scale[5]).toBe(2);
    expect(back.head.vocab!.shift[7]).toBe(-0.5);
    expect(back.head.threshold).toBeCloseTo(0.01, 7);
    expect(await hashHead(back.head)).toBe(rec.hash);
    expect(await hashHead({ ...head, threshold: 0.02 })).not.toBe(rec.hash);
  });
});

describe('tuneSparseHead', () => {
  it('empty index: a clear error', async () => {
    const index = await M3Index.open('empty', { encoder: enc, store: new MemoryStore() });
    await expect(tuneSparseHead(index)).rejects.toThrow(/index is empty/);
  });

  it('pairs naming only unknown documents: an error naming them; mixed pairs: unknown ones reported and skipped', async () => {
    const index = await M3Index.open('unknown', { encoder: enc, store: new MemoryStore() });
    await index.add(docs(12));
    await expect(tuneSparseHead(index, { pairs: [{ query: 'wing', docId: 'nope' }] })).rejects.toThrow(/no training pairs.*nope/);
    const r = await tuneSparseHead(index, {
      ...quick,
      pairs: [
        { query: 'wing', docId: 'nope' },
        { query: 'flow over a body', docId: 'd1' },
      ],
      pseudoQueries: true,
      activate: false,
    });
    expect(r.pairs.unknownIds).toEqual(['nope']);
    expect(r.pairs.skipped).toBe(1);
    expect(r.pairs.bySource.user).toBe(1);
  });

  it('tunes, persists the head as a version, rewrites the postings; reopen uses it; revert goes back (FileStore)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'm3-tune-'));
    try {
      await roundTrip(() => new FileStore(dir));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the same with IndexedDB (fake-indexeddb)', async () => {
    const factory = new IDBFactory();
    await roundTrip(() => new IdbStore('tune-idb', { indexedDB: factory, persist: false }));
  });

  it('a NaN / exploding run leaves the active head and the postings as they were, with the reason', async () => {
    const store = new MemoryStore();
    const index = await M3Index.open('nan', { encoder: enc, store });
    await index.add(docs(16));
    const before = await index.search('the', { mode: 'sparse', includeText: false });
    const r = await tuneSparseHead(index, { ...quick, lr: 1e30, vocabLr: 1e30, clip: 0 });
    expect(r.status).toBe('failed');
    expect(r.reason).toMatch(/previous head is kept/);
    expect(tuningAccess(index).meta.sparseHead).toBeUndefined();
    expect(await listHeads(store)).toEqual([]);
    expect(await index.search('the', { mode: 'sparse', includeText: false })).toEqual(before);
  });

  it('a WebGPU failure mid-training falls back to JS from the same start, and says so', async () => {
    // A stand-in adapter whose device takes every call and then fails the first read-back (as a lost device
    // would): the run restarts in JS and must end exactly where a plain JS run does.
    const device: any = new Proxy(function () {}, {
      get: (_t, k) =>
        k === 'then' || k === 'lost'
          ? undefined
          : k === 'mapAsync'
            ? () => Promise.reject(new Error('simulated device loss'))
            : k === 'popErrorScope'
              ? async () => null
              : device,
      apply: () => device,
    });
    const limits = { maxStorageBufferBindingSize: 1 << 27, maxBufferSize: 1 << 27 };
    const run = async (compute: 'auto' | 'js') => {
      const index = await M3Index.open('gpu-fail', { encoder: enc, store: new MemoryStore() });
      await index.add(docs(16));
      const r = await tuneSparseHead(index, { ...quick, compute, seed: 2, activate: false });
      index.close();
      return r;
    };
    vi.stubGlobal('navigator', { gpu: { requestAdapter: async () => ({ limits, requestDevice: async () => device }) } });
    let viaGpu: Awaited<ReturnType<typeof run>>;
    try {
      viaGpu = await run('auto');
    } finally {
      vi.unstubAllGlobals();
    }
    const js = await run('js');
    expect(viaGpu.status).toBe('tuned');
    expect(viaGpu.compute).toEqual({ requested: 'auto', used: 'js', reason: expect.stringMatching(/WebGPU failed during training \(simulated device loss\)/) });
    expect(viaGpu.hash).toBe(js.hash);
  });

  it('cancel mid-training leaves the active head and the index untouched', async () => {
    const store = new MemoryStore();
    const index = await M3Index.open('cancel', { encoder: enc, store });
    await index.add(docs(16));
    const metaBefore = structuredClone(tuningAccess(index).meta);
    const ctl = new AbortController();
    const run = tuneSparseHead(index, {
      maxEpochs: 50,
      patience: 50,
      teacher: 'none',
      signal: ctl.signal,
      onProgress: (p) => p.phase === 'train' && p.done >= 3 && ctl.abort(),
    });
    await expect(run).rejects.toThrow(/abort/);
    expect(tuningAccess(index).meta).toEqual(metaBefore);
    expect(tuningAccess(index).encoder).toBe(enc);
    expect(await listHeads(store)).toEqual([]);
  });

  it('the hidden-state cache honours its byte bound', async () => {
    const cache = new HiddenCache(enc, { maxBytes: 40_000 });
    const texts = docs(20).map((d) => d.text);
    const out = await cache.get(texts);
    expect(out.length).toBe(20);
    expect(cache.bytes).toBeLessThanOrEqual(40_000);
    expect(cache.size).toBeLessThan(20);
    await cache.get(texts.slice(-2));
    expect(cache.hits).toBe(2); // the most recent ones stayed
  });
});

async function roundTrip(makeStore: () => Store): Promise<void> {
  const corpus = docs(30);
  let index = await M3Index.open('rt', { encoder: enc, store: makeStore() });
  await index.add(corpus);
  const query = corpus[0].text.split('\n')[0];
  const base = await index.search(query, { mode: 'sparse', includeText: false });
  const postingsBase = postingsPerDoc(index);
  const blocksBase = await sparseBlocks(index);
  const r = await tuneSparseHead(index, { ...quick, prune: 0.5 });
  expect(r.status).toBe('tuned');
  // Node has no navigator.gpu: 'auto' trains in JS and says why.
  expect(r.compute).toEqual({ requested: 'auto', used: 'js', reason: 'navigator.gpu is not available' });
  expect(r.version).toBe(1);
  expect(r.postingsPerDoc.before).toBeCloseTo(postingsBase, 6);
  expect(r.postingsPerDoc.after).toBeLessThan(postingsBase); // the pruning threshold drops postings
  expect(tuningAccess(index).meta.sparseHead).toEqual({ version: 1, hash: r.hash });
  const tuned = await index.search(query, { mode: 'sparse', includeText: false });
  expect(base.length).toBeGreaterThan(0);
  expect(tuned.map((h) => h.score)).not.toEqual(base.map((h) => h.score));
  index.close();

  // Reopen with the plain encoder: the index knows its postings came from v1 and encodes queries with it.
  index = await M3Index.open('rt', { encoder: enc, store: makeStore() });
  expect(tuningAccess(index).meta.sparseHead?.version).toBe(1);
  expect((tuningAccess(index).encoder as M3Encoder).info.sparseHead).toEqual({ version: 1, hash: r.hash });
  expect(await index.search(query, { mode: 'sparse', includeText: false })).toEqual(tuned);
  const heads = await listHeads(tuningAccess(index).store);
  expect(heads.map((h) => h.version)).toEqual([1]);
  expect(heads[0].options.prune).toBe(0.5);
  expect(heads[0].metrics.heldOutAfter).toBeDefined();

  expect(await sparseBlocks(index)).not.toEqual(blocksBase);
  await revertSparseHead(index);
  expect(tuningAccess(index).meta.sparseHead).toBeUndefined();
  // The base head re-makes the very postings it made before: every sparse block byte for byte.
  expect(await sparseBlocks(index)).toEqual(blocksBase);
  expect(postingsPerDoc(index)).toBe(postingsBase);
  index.close();
  index = await M3Index.open('rt', { encoder: enc, store: makeStore() });
  expect(tuningAccess(index).encoder).toBe(enc);
  expect(await sparseBlocks(index)).toEqual(blocksBase);
  const reverted = await index.search(query, { mode: 'sparse', includeText: false });
  // The whole hit list, ids and scores to the last bit.
  expect(reverted.length).toBe(base.length);
  reverted.forEach((h, i) => {
    expect(h.id).toBe(base[i].id);
    expect(h.score === base[i].score, `${h.id}: ${h.score} vs ${base[i].score}`).toBe(true);
  });
  expect(reverted).toEqual(base);
  expect((await listHeads(tuningAccess(index).store)).length).toBe(1); // the version stays available
  index.close();
}

/**
 * Every stored segment's sparse block as bytes, segments in key order (a rewrite renumbers them): each field
 * of the block by name, typed arrays as hex of their bytes, numbers by their float64 bits.
 */
async function sparseBlocks(index: M3Index): Promise<string[][]> {
  const segs = await tuningAccess(index).store.readSegments(tuningAccess(index).meta.segments);
  segs.sort((a, b) => a.keys[0] - b.keys[0]);
  const hex = (v: ArrayBufferView) => Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex');
  return segs.map((seg) => {
    const block = seg.sparse as unknown as Record<string, unknown>;
    expect(block).toBeTruthy();
    return Object.keys(block)
      .sort()
      .map((k) => {
        const v = block[k];
        if (ArrayBuffer.isView(v)) return `${k}:${v.constructor.name}:${hex(v)}`;
        if (typeof v === 'number') return `${k}:${hex(Float64Array.of(v))}`;
        return `${k}:${JSON.stringify(v)}`;
      });
  });
}

afterAll(async () => {
  await enc?.dispose();
});
