/**
 * A refused or failed import leaves the current index exactly as it was: FileStore files compared byte for
 * byte, IdbStore records compared whole. Forged files carry a valid SHA-256, so only the content checks
 * (ids against segments, blob lengths, keys) stand between them and the index.
 */
import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { openDB } from 'idb';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileStore } from '../store/file-store.ts';
import { IdbStore } from '../store/idb-store.ts';
import { MemoryStore } from '../store/memory-store.ts';
import { decodeSegmentFile, encodeSegmentFile } from '../store/segment-file.ts';
import type { DocRecord, MetaRecord, SegmentRecord, Store } from '../store/types.ts';
import { M3Index } from './m3-index.ts';
import { exportStore, parsePortable, PortableImportError, writePortable } from './portable.ts';
import { sha256Hex } from '../util/sha256.ts';
import { corpus } from '../../test/support/test-corpus.ts';

const MODEL = { modelId: 'precomputed', dims: 16, headHash: 'h' };
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** The parts of a valid export: meta and, per segment, the record and its documents. */
async function source(): Promise<{ meta: MetaRecord; parts: { seg: SegmentRecord; docs: DocRecord[] }[] }> {
  const store = new MemoryStore();
  const idx = await M3Index.open('src', { store, model: MODEL });
  await idx.add(
    corpus(40, 16, 11).map((d) => ({ ...d, id: `new-${d.id}` })),
    { batchSize: 20 },
  );
  const bytes = await exportStore(store);
  const hLen = new DataView(bytes.buffer).getUint32(8, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + hLen)));
  const parts: { seg: SegmentRecord; docs: DocRecord[] }[] = [];
  let at = 12 + hLen;
  for (const n of header.segments) {
    const d = decodeSegmentFile(bytes.slice(at, at + n));
    parts.push({ seg: d.segment, docs: d.docs() });
    at += n;
  }
  return { meta: header.meta, parts };
}

/** A portable file with a valid checksum around whatever segments it is given. */
async function forge(meta: MetaRecord, files: Uint8Array[]): Promise<Uint8Array> {
  const body = new Uint8Array(files.reduce((n, f) => n + f.length, 0));
  let at = 0;
  for (const f of files) body.set(f, at), (at += f.length);
  const h = new TextEncoder().encode(
    JSON.stringify({
      format: 'm3-search-index',
      schemaVersion: meta.schemaVersion,
      meta,
      segments: files.map((f) => f.length),
      sha256: await sha256Hex(body),
      exportedAt: 0,
    }),
  );
  const out = new Uint8Array(12 + h.length + body.length);
  out.set(new TextEncoder().encode('M3IX'));
  new DataView(out.buffer).setUint32(4, 1, true);
  new DataView(out.buffer).setUint32(8, h.length, true);
  out.set(h, 12);
  out.set(body, 12 + h.length);
  return out;
}

async function badFiles(): Promise<[string, Uint8Array, RegExp][]> {
  const { meta, parts } = await source();
  const enc = (ps: typeof parts) => ps.map((p) => encodeSegmentFile(p.seg, p.docs));
  // Documents of segment 2 under segment 1's ids: the counts agree, the ids don't.
  const swapped = [
    { seg: parts[0].seg, docs: parts[1].docs },
    { seg: parts[1].seg, docs: parts[0].docs },
  ];
  const short = { ...parts[0], seg: { ...parts[0].seg, dense: { ...parts[0].seg.dense!, codes: parts[0].seg.dense!.codes.slice(0, 100) } } };
  const dupKeys = { ...parts[1], seg: { ...parts[1].seg, keys: parts[0].seg.keys.slice() } };
  return [
    ['documents that do not match their segment ids', await forge(meta, enc(swapped)), /matches none of its rows/],
    ['a short dense blob', await forge(meta, enc([short, parts[1]])), /dense block holds 100 codes/],
    ['keys shared by two segments', await forge(meta, enc([parts[0], dupKeys])), /appears in two segments/],
    ['more documents than it says', await forge({ ...meta, docCount: 39 }, enc(parts)), /40 live documents, the description says 39/],
  ];
}

async function filledIndex(store: Store): Promise<void> {
  const idx = await M3Index.open('dst', { store, model: MODEL });
  await idx.add(corpus(50, 16, 3), { batchSize: 25 });
  await idx.remove(['d7']);
  idx.close();
}

describe('import: validated fully, replaced atomically', () => {
  it('FileStore: every refused file leaves the folder byte for byte as it was; a good one replaces it whole', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'm3imp-'));
    dirs.push(dir);
    await filledIndex(new FileStore(dir));
    const snap = () =>
      readdirSync(dir)
        .sort()
        .map((f) => [f, readFileSync(join(dir, f)).toString('base64')]);
    const before = snap();
    for (const [what, bytes, why] of await badFiles()) {
      const err = await parsePortable(bytes, { ...MODEL, dtype: '' }).then(
        () => null,
        (e) => e,
      );
      expect(err, what).toBeInstanceOf(PortableImportError);
      expect(err.reason, what).toMatch(why);
      expect(snap(), what).toEqual(before);
    }
    // A write that fails midway (a document that can't be serialised, after the first segment file is
    // written) removes what it wrote: the old index is untouched.
    const { meta, parts } = await source();
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    const docs = [...parts[0].docs, ...parts[1].docs.map((d, i) => (i === 3 ? { ...d, metadata: circular } : d))];
    const store = new FileStore(dir);
    await store.open();
    await expect(writePortable(store, { meta, segments: parts.map((p) => p.seg), docs })).rejects.toThrow(/circular/i);
    store.close();
    expect(snap()).toEqual(before);
    // A good file: the new index, nothing of the old.
    const good = await forge(
      meta,
      parts.map((p) => encodeSegmentFile(p.seg, p.docs)),
    );
    const s2 = new FileStore(dir);
    await s2.open();
    await writePortable(s2, await parsePortable(good));
    s2.close();
    const idx = await M3Index.open('dst', { store: new FileStore(dir, { readOnly: true }), model: MODEL });
    expect(idx.count()).toBe(40);
    expect(idx.has('d1')).toBe(false);
    expect((await idx.get('new-d5'))?.id).toBe('new-d5');
    idx.close();
  });

  it('IdbStore: a refused file or a failing write leaves every record as it was (one transaction)', async () => {
    const factory = new IDBFactory();
    await filledIndex(new IdbStore('dst', { indexedDB: factory }));
    const dump = async () => {
      const g = globalThis as { indexedDB: IDBFactory };
      const prev = g.indexedDB;
      g.indexedDB = factory;
      const db = await openDB('m3-search:dst');
      g.indexedDB = prev;
      const out: Record<string, unknown> = {};
      for (const name of db.objectStoreNames) out[name] = [await db.getAllKeys(name), await db.getAll(name)];
      db.close();
      return out;
    };
    const before = await dump();
    for (const [what, bytes] of await badFiles()) {
      await expect(parsePortable(bytes), what).rejects.toBeInstanceOf(PortableImportError);
      expect(await dump(), what).toEqual(before);
    }
    const { meta, parts } = await source();
    const store = new IdbStore('dst', { indexedDB: factory });
    await store.open();
    // A metadata value IndexedDB can't clone fails inside the transaction: it aborts whole.
    const docs = [...parts[0].docs, ...parts[1].docs];
    const segs = [parts[0].seg, { ...parts[1].seg, metadata: parts[1].seg.metadata.map((m, i) => (i === 2 ? { f: () => 1 } : m)) }];
    await expect(writePortable(store, { meta, segments: segs, docs })).rejects.toThrow();
    store.close();
    expect(await dump()).toEqual(before);
  });
});
