/**
 * Segment merges' BM25 side (segment-merge.ts, write path only: kept out of the search path's bundle).
 */
import { encodeTermDict } from './bm25-terms.ts';
import { forEachBm25Term, runOf } from './bm25-postings.ts';
import { ByteWriter, readVarint } from './postings.ts';
import type { Bm25Block, Bm25DictBlock } from './types.ts';

/**
 * Blocks with positions (either layout) concatenated into one schema 6 block, the documents of blocks[j] from
 * docBase[j] on (segment merges). Each term's runs are copied byte for byte but for its df and the first gap of
 * each block's list: the same bytes encodeBm25 writes from the decoded postings, without decoding positions.
 */
export function concatBm25Blocks(blocks: readonly Bm25Block[], docBase: readonly number[], lengths: Uint32Array): Bm25DictBlock {
  const refs = new Map<string, number[]>(); // term → [block, term index, block, term index, …], blocks ascending
  let bytes = 16;
  blocks.forEach((b, j) => {
    if (!b.positions) throw new Error('concatBm25Blocks: a block without positions');
    bytes += b.postings.length;
    forEachBm25Term(b, (term, t) => {
      const r = refs.get(term);
      if (r) r.push(j, t);
      else refs.set(term, [j, t]);
    });
  });
  const terms = [...refs.keys()].sort();
  const w = new ByteWriter(bytes + terms.length * 4);
  const runLengths = new Uint32Array(terms.length);
  const df1 = new Uint8Array(terms.length);
  const at = { pos: 0 };
  let info = new Int32Array(0); // per run: postings start, postings end, run end, last doc
  for (let t = 0; t < terms.length; t++) {
    const start = w.length;
    const r = refs.get(terms[t])!;
    if (info.length < r.length * 2) info = new Int32Array(r.length * 4);
    let df = 0;
    for (let i = 0; i < r.length; i += 2) {
      const b = blocks[r[i]];
      const run = runOf(b, r[i + 1]);
      const end = run.end;
      at.pos = run.start;
      const n = run.df1 ? 1 : readVarint(b.postings, at, end);
      df += n;
      info[2 * i] = at.pos;
      let doc = -1;
      for (let e = 0; e < n; e++) {
        const v = readVarint(b.postings, at, end);
        doc += (v >>> 1) + 1;
        if (!(v & 1)) readVarint(b.postings, at, end);
      }
      info[2 * i + 1] = at.pos;
      info[2 * i + 2] = end;
      info[2 * i + 3] = doc;
    }
    if (df === 1) df1[t] = 1;
    else w.varint(df);
    let prev = -1;
    for (let i = 0; i < r.length; i += 2) {
      const { postings } = blocks[r[i]];
      at.pos = info[2 * i];
      const v = readVarint(postings, at, info[2 * i + 1]);
      const doc = docBase[r[i]] + (v >>> 1);
      w.varint((doc - prev - 1) * 2 + (v & 1));
      w.raw(postings.subarray(at.pos, info[2 * i + 1]));
      prev = docBase[r[i]] + info[2 * i + 3];
    }
    for (let i = 0; i < r.length; i += 2) w.raw(blocks[r[i]].postings.subarray(info[2 * i + 1], info[2 * i + 2]));
    runLengths[t] = w.length - start;
  }
  const { dict, dictIndex } = encodeTermDict(terms, runLengths, df1);
  return { dict, dictIndex, termCount: terms.length, postings: w.bytes(), lengths, positions: true };
}
