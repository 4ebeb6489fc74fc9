import { describe, expect, it } from 'vitest';
import { batchSegment, type BatchInput, buffersOf, packBatch, unpackBatch } from './segment-batch.ts';
import type { PreparedDoc } from './segment-builder.ts';

const dims = 8;
const vec = (seed: number, n = dims) => Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 7.3 + i) * (i % 3 ? 1 : 0.25));
const sparse = (seed: number) => ({ ids: Uint32Array.of(seed % 5, 10 + seed, 300 + (seed % 2)), weights: Float32Array.of(0.1 * seed + 0.01, 0.3, 0) });

/** Documents of every shape a batch holds: vectors of each kind or none, chunked passages with spans. */
function docs(): PreparedDoc[] {
  return [
    { key: 0, id: 'a', metadata: null, rows: [{ dense: vec(1), sparse: sparse(1), colbert: vec(2, dims * 3) }] },
    { key: 0, id: 'b', metadata: null, rows: [{ sparse: sparse(2) }] },
    {
      key: 0,
      id: 'c',
      metadata: null,
      rows: [
        { dense: vec(3), span: [0, 5] },
        { dense: vec(4), colbert: vec(5, dims), sparse: sparse(4), span: [5, 11] },
      ],
    },
    { key: 0, id: 'd', metadata: null, rows: [{}] },
  ];
}
const texts = ['shock wave', 'the wing the wing', 'heat transfer layer', ''];

describe('packBatch', () => {
  it('builds the same segment from the packed arrays as from the rows, for every ColBERT coding, with dense residuals, without BM25', () => {
    for (const colbertBits of [8, 1, 2, 4] as const)
      for (const [t, denseRefine] of [
        [texts, false],
        [null, true],
        [texts, true],
      ] as const) {
        const input: BatchInput = { docs: docs(), texts: t ? [...t] : null, analyzer: { stem: true }, opts: { dims, colbert: true, colbertBits, denseRefine } };
        const packed = packBatch(input);
        expect(packed).not.toBeNull();
        // A structured clone is what the worker receives.
        const seg = batchSegment(input);
        expect(batchSegment(unpackBatch(structuredClone(packed!)))).toEqual(seg);
        expect(!!seg.dense?.residual).toBe(denseRefine);
      }
  });

  it('leaves rows it would have to convert to the main thread', () => {
    const opts = { dims, colbert: false };
    const one = (row: PreparedDoc['rows'][number]): BatchInput => ({
      docs: [{ key: 0, id: 'x', metadata: null, rows: [row] }],
      texts: null,
      analyzer: undefined,
      opts,
    });
    expect(packBatch(one({ dense: Array.from(vec(1)) as unknown as Float32Array }))).toBeNull();
    expect(packBatch(one({ dense: vec(1, dims + 1) }))).toBeNull();
    expect(packBatch(one({ sparse: { ids: [1] as unknown as Uint32Array, weights: Float32Array.of(1) } }))).toBeNull();
    expect(packBatch(one({ denseQ: { codes: new Int8Array(dims), scale: 1 } }))).toBeNull();
    expect(packBatch(one({ dense: vec(1) }))).not.toBeNull();
  });
});

describe('buffersOf', () => {
  it('lists each buffer under a segment once', () => {
    const seg = batchSegment({ docs: docs(), texts, analyzer: undefined, opts: { dims, colbert: true } });
    const bufs = buffersOf(seg);
    expect(new Set(bufs).size).toBe(bufs.length);
    for (const a of [seg.keys, seg.rowDoc, seg.dense!.codes, seg.sparse!.postings, seg.bm25!.lengths]) expect(bufs).toContain(a.buffer);
  });
});
