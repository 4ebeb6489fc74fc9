/**
 * The segment builder worker (segment-build-client.ts starts it): builds an add() batch's segment from its
 * packed rows, the same code as the main thread, and transfers the segment's buffers back.
 */
import { batchSegment, buffersOf, type PackedBatch, unpackBatch } from '../store/segment-batch.ts';
import type { SegmentRecord } from '../store/types.ts';

declare const self: DedicatedWorkerGlobalScope;

self.onmessage = (e: MessageEvent<{ job: number; batch: PackedBatch }>) => {
  const { job, batch } = e.data;
  let segment: SegmentRecord;
  try {
    segment = batchSegment(unpackBatch(batch));
  } catch (err) {
    // The main thread builds this batch again itself, so the error it throws is the library's own.
    self.postMessage({ job, error: String(err) });
    return;
  }
  self.postMessage({ job, segment }, buffersOf(segment));
};
