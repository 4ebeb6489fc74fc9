// Playwright drives M3Index through this page: the library's public exports, the deterministic test encoder,
// the corpus fixtures, and a few read-only helpers that look at the raw IndexedDB (tests check the stored
// state independently of the index code).
import * as lib from '../../src/index.ts';
import { FakeEncoder, words } from '../../test/support/fake-encoder.ts';
import { corpus, gaussianUnit, randomSparse, randomText, refDense, refSparse } from '../../test/support/test-corpus.ts';
import { mulberry32 as rng } from '../../src/util/random.ts';
import { DenseMatrix } from '../../src/rank/dense-scan.ts';
import { decodeDoc, decoderModel, docSpans, resolveModel } from '../../src/store/text-code.ts';
import { wasmKernelSupported } from '../../src/rank/dense-scan-wasm.ts';
import { randomRows, referenceScore } from '../../src/rank/dense-scan-reference.ts';
import { segmentChecksum } from '../../src/store/segment-check.ts';
import { findSparseList } from '../../src/store/sparse-postings.ts';
import { builderCounts, useBuilderWorker } from '../../src/worker/segment-build-client.ts';

type IndexDoc = lib.IndexDoc;

/**
 * Document `i` of a family: a random unit dense vector, random sparse weights plus one sparse token no other
 * document has (`tokenBase + i`), and a text holding one word no other document has (`${prefix}u${i}`).
 * Seeded by (prefix, i) alone, so a test can regenerate any document it expects to find.
 */
function familyDoc(prefix: string, i: number, dims: number, tokenBase: number): IndexDoc {
  let seed = 0;
  for (const c of prefix) seed = (Math.imul(seed, 31) + c.charCodeAt(0)) >>> 0;
  const r = rng((seed ^ Math.imul(i + 1, 2654435761)) >>> 0);
  const dense = gaussianUnit(r, dims);
  const sp = randomSparse(r, 12);
  const ids = Uint32Array.from([...sp.ids, tokenBase + i]);
  const weights = Float32Array.from([...sp.weights, 0.4]);
  return {
    id: `${prefix}-${i}`,
    text: `${randomText(r, 6)} ${uniqueWord(prefix, i)} ${randomText(r, 3)}`,
    metadata: { family: prefix, i },
    embedding: { dense, sparse: { ids, weights }, tokens: 10, truncated: false },
  };
}

function uniqueWord(prefix: string, i: number): string {
  return `${prefix}u${i}`;
}

function familyDocs(prefix: string, from: number, n: number, dims: number, tokenBase: number): IndexDoc[] {
  return Array.from({ length: n }, (_, j) => familyDoc(prefix, from + j, dims, tokenBase));
}

function request<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((res, rej) => {
    r.onsuccess = () => res(r.result);
    r.onerror = () => rej(r.error);
  });
}

/**
 * Reads an index's database directly (no idb, no M3Index): the meta record, every segment (its seq, keys and
 * ids) and every document record's id and key. Opens without a version and aborts the upgrade if the database
 * does not exist, so it never creates or upgrades anything.
 *
 * It deliberately does not ask indexedDB.databases() first: after an unclean shutdown (every browser process
 * SIGKILLed mid-write), Chromium 156 sometimes treats the origin's LevelDB as corrupt when databases() is the
 * first IndexedDB call, and deletes the origin's whole IndexedDB (3 of 80 kills with plain IndexedDB, none of
 * 80 when open() comes first).
 */
/** Every segment record of an index as stored (checksum included), typed arrays as `Type[...]`: for comparing builds. */
async function rawSegments(name: string): Promise<string> {
  const db = await request(indexedDB.open(`m3-search:${name}`));
  try {
    const segs = await request(db.transaction('segments', 'readonly').objectStore('segments').getAll());
    return JSON.stringify(segs, (_k, v) => (ArrayBuffer.isView(v) ? `${v.constructor.name}[${Array.from(v as Uint8Array).join(',')}]` : v));
  } finally {
    db.close();
  }
}

async function rawDump(name: string): Promise<{
  exists: boolean;
  meta: any;
  segments: { seq: number; keys: number[]; ids: string[] }[];
  docs: { id: string; key: number; text: string }[];
}> {
  const dbName = `m3-search:${name}`;
  const db = await new Promise<IDBDatabase | null>((res, rej) => {
    const r = indexedDB.open(dbName);
    let missing = false;
    r.onupgradeneeded = () => {
      missing = true; // version 0: the database does not exist; abort so it is not created
      r.transaction!.abort();
    };
    r.onsuccess = () => res(r.result);
    r.onerror = (e) => {
      if (!missing) return rej(r.error);
      e.preventDefault();
      res(null);
    };
  });
  if (!db) return { exists: false, meta: null, segments: [], docs: [] };
  try {
    // Texts live in records of consecutive rows per segment, key [seq, group] (coded with a text model, whose
    // records have seq -1; deflate-raw JSON of [text, spans?] per row; or plain `docs` after a v2 migration); a
    // document record is a live row (not tombstoned) whose block has an entry for it.
    const tx = db.transaction(['meta', 'segments', 'texts'], 'readonly');
    const [meta, segs, blocks] = await Promise.all([
      request(tx.objectStore('meta').get('meta')),
      request(tx.objectStore('segments').getAll()),
      request(tx.objectStore('texts').getAll()),
    ]);
    const dead = new Set<number>((meta as any)?.tombstones ?? []);
    // Records come back in key order [seq, group]: a segment's rows are its groups' entries, concatenated.
    const bySeq = new Map<number, any[]>();
    const models = new Map((blocks as any[]).filter((b) => b.seq === -1).map((b) => [b.g, b.model]));
    for (const b of blocks as any[]) {
      if (b.seq === -1) continue;
      let entries: any[];
      if (b.c) {
        const m = decoderModel(resolveModel(models, b.m)!)!;
        const at = docSpans(b.c, b.n)!;
        entries = Array.from({ length: b.n }, (_, i) => decodeDoc(b.c, at[i], at[i + 1], m));
      } else entries = b.docs ?? JSON.parse(await new Response(new Blob([b.z]).stream().pipeThrough(new DecompressionStream('deflate-raw'))).text());
      bySeq.set(b.seq, [...(bySeq.get(b.seq) ?? []), ...entries]);
    }
    const docs: { id: string; key: number; text: string }[] = [];
    for (const s of segs as any[]) {
      const entries = bySeq.get(s.seq);
      if (!entries) continue;
      s.ids.forEach((id: string, i: number) => {
        if (entries[i] && !dead.has(s.keys[i])) docs.push({ id, key: s.keys[i], text: entries[i][0] });
      });
    }
    return {
      exists: true,
      meta: meta ?? null,
      segments: (segs as any[]).map((s) => ({ seq: s.seq, keys: Array.from(s.keys as Uint32Array), ids: s.ids })),
      docs,
    };
  } finally {
    db.close();
  }
}

/**
 * Forges a segment record the way only a deliberate edit can: points the first entry of `token`'s sparse list in the
 * segment holding `docId` at row 127 (past a segment of fewer rows) and reseals the record's checksum. Returns its seq
 * and every segment's [seq, checksum] after the edit.
 */
async function forgeSparseList(name: string, docId: string, token: number): Promise<{ seq: number; checksums: [number, number][] }> {
  const db = await new Promise<IDBDatabase>((res, rej) => {
    const r = indexedDB.open(`m3-search:${name}`);
    r.onsuccess = () => res(r.result);
    r.onerror = () => rej(r.error);
  });
  try {
    const segs = await request(db.transaction('segments').objectStore('segments').getAll());
    const seg = segs.find((s) => s.ids.includes(docId));
    const at = { pos: 0, end: 0 };
    if (!seg || !findSparseList(seg.sparse, token, at) || seg.sparse.postings[at.pos] >= 0x80)
      throw new Error(`no one-byte list of token ${token} beside ${docId}`);
    seg.sparse.postings[at.pos] = 0x7f;
    seg.checksum = segmentChecksum(seg);
    const tx = db.transaction('segments', 'readwrite');
    tx.objectStore('segments').put(seg);
    await new Promise((res, rej) => {
      tx.oncomplete = res;
      tx.onerror = () => rej(tx.error);
    });
    return { seq: seg.seq, checksums: await segmentChecksums(db) };
  } finally {
    db.close();
  }
}

/** Every segment record's [seq, checksum] (`db` open, or the index's database opened for the call). */
async function segmentChecksums(db: IDBDatabase | string): Promise<[number, number][]> {
  if (typeof db === 'string') {
    const name = db;
    const open = await new Promise<IDBDatabase>((res, rej) => {
      const r = indexedDB.open(`m3-search:${name}`);
      r.onsuccess = () => res(r.result);
      r.onerror = () => rej(r.error);
    });
    try {
      return await segmentChecksums(open);
    } finally {
      open.close();
    }
  }
  const segs = await request(db.transaction('segments').objectStore('segments').getAll());
  return segs.map((s) => [s.seq, s.checksum]);
}

function deleteDatabase(name: string): Promise<void> {
  return new Promise((res, rej) => {
    const r = indexedDB.deleteDatabase(`m3-search:${name}`);
    r.onsuccess = () => res();
    r.onerror = () => rej(r.error);
    r.onblocked = () => rej(new Error(`deleting m3-search:${name} is blocked by an open connection`));
  });
}

(window as any).m3index = {
  ...lib,
  dense: { DenseMatrix, wasmKernelSupported, randomRows, referenceScore },
  FakeEncoder,
  words,
  corpus,
  rng,
  gaussianUnit,
  randomSparse,
  randomText,
  refDense,
  refSparse,
  familyDoc,
  familyDocs,
  uniqueWord,
  rawDump,
  rawSegments,
  builder: { builderCounts, useBuilderWorker },
  deleteDatabase,
  forgeSparseList,
  segmentChecksums,
};
(window as any).m3Ready = true;
