/**
 * What a write needs to build segments, loaded by IndexWriter on the first write (a dynamic import): a page
 * that only opens and searches an index does not ship it (the search path's size budget, scripts/check-size.mjs).
 */
export { segmentBytes } from '../store/segment-builder.ts';
export { builderWorkerAvailable, buildBatchSegment } from '../worker/segment-build-client.ts';
export { concatSegments, mergeSegments } from '../store/segment-merge.ts';
