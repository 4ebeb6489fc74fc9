/**
 * Switching the active sparse head of an index: back to the base head, or to a stored tuned version. Either
 * way every segment's sparse postings are re-made by that head (from cached hidden states where possible)
 * in one transaction.
 */
import { applyHeads } from '../encoder/heads.ts';
import type { M3Index } from '../search/m3-index.ts';
import { tuningAccess } from '../search/tuning-access.ts';
import type { EncoderLike } from '../search/types.ts';
import { abortError } from '../store/errors.ts';
import { buildSparse, type PreparedRow } from '../store/segment-builder.ts';
import type { SegmentRecord } from '../store/types.ts';
import type { TunedHeadRecord } from './head-codec.ts';
import { listHeads, readHead } from './head-store.ts';
import { HiddenCache } from './hidden-cache.ts';
import { type TunableEncoder, tunable } from './tunable.ts';
import type { TuneProgress } from './types.ts';

/** Goes back to the base head: sparse postings re-made by it (re-encoding, or from `cache`). */
export async function revertSparseHead(
  index: M3Index,
  opts: { cache?: HiddenCache; signal?: AbortSignal; onProgress?: (p: TuneProgress) => void } = {},
): Promise<void> {
  const encoder = tunable(index);
  const cache = opts.cache ?? new HiddenCache(encoder);
  await reindexSparse(index, encoder.withSparseHead(null), null, cache, encoder, opts.signal, (d, t) =>
    opts.onProgress?.({ phase: 'reindex', done: d, total: t }),
  );
}

/** Makes a stored tuned version active again (e.g. after a revert). */
export async function activateSparseHead(
  index: M3Index,
  version: number,
  opts: { cache?: HiddenCache; signal?: AbortSignal; onProgress?: (p: TuneProgress) => void } = {},
): Promise<void> {
  const encoder = tunable(index);
  const rec = await readHead(tuningAccess(index).store, version);
  if (!rec)
    throw new Error(
      `no tuned head v${version} in this index (have: ${(await listHeads(tuningAccess(index).store)).map((h) => h.version).join(', ') || 'none'})`,
    );
  if (rec.baseHeadHash !== encoder.info.headHash) throw new Error(`tuned head v${version} belongs to another base head`);
  const cache = opts.cache ?? new HiddenCache(encoder);
  await reindexSparse(index, encoder.withSparseHead(rec.head, { version: rec.version, hash: rec.hash }), rec, cache, encoder, opts.signal, (d, t) =>
    opts.onProgress?.({ phase: 'reindex', done: d, total: t }),
  );
}

export { listHeads as listSparseHeads };

/** Rebuilds every segment's sparse block with `view`'s head, from cached hidden states where possible. */
export async function reindexSparse(
  index: M3Index,
  view: EncoderLike,
  rec: TunedHeadRecord | null,
  cache: HiddenCache,
  encoder: TunableEncoder,
  signal: AbortSignal | undefined,
  onProgress: (done: number, total: number) => void,
): Promise<void> {
  const head = rec ? rec.head : encoder.getHeads().sparse!;
  const heads = { sparse: head };
  const H = encoder.info.hidden;
  const total = index.count();
  let done = 0;
  await tuningAccess(index).rewriteSparse(view, rec ? { version: rec.version, hash: rec.hash } : undefined, async (seg: SegmentRecord) => {
    if (signal?.aborted) throw abortError(signal.reason);
    const docs = await tuningAccess(index).store.getDocs(seg.ids);
    const texts: string[] = [];
    for (let r = 0; r < seg.rowDoc.length; r++) {
      const d = docs[seg.rowDoc[r]];
      const text = d?.text ?? '';
      // Only chunked documents' rows have spans (the others in the segment read [0, 0]).
      texts.push(d?.chunks && seg.rowSpans.length ? text.slice(seg.rowSpans[2 * r], seg.rowSpans[2 * r + 1]) : text);
    }
    const hidden = await cache.get(texts, { signal });
    const rows: PreparedRow[] = hidden.map((h) => ({
      sparse: applyHeads(h.hidden, 0, H, h.ids, heads, { dense: false, sparse: true, colbert: false }, h.truncated).sparse,
    }));
    done += seg.ids.length;
    onProgress(Math.min(done, total), total);
    if (signal?.aborted) throw abortError(signal.reason);
    return buildSparse(rows);
  });
}

/**
 * Sparse postings stored per live document: every segment's postings, over the live documents. Rows of
 * deleted documents count until compaction removes them (tuning compacts before it rewrites the postings).
 */
export function postingsPerDoc(index: M3Index): number {
  const n = index.count();
  return n ? tuningAccess(index).sparsePostings() / n : 0;
}
