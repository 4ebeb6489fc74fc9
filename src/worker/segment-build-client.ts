/**
 * Where an add() batch's segment is built: in a module worker where the runtime has one, so the main thread
 * only packs the rows and clones the segment into IndexedDB while the worker analyses and codes the next batch;
 * on the main thread elsewhere (Node, a page whose bundler or CSP keeps the worker from loading, inputs the
 * packing does not take). The segment is the same either way: both run segment-batch.ts's batchSegment.
 */
import { type BatchInput, batchSegment, buffersOf, packBatch } from '../store/segment-batch.ts';
import type { SegmentRecord } from '../store/types.ts';

interface Job {
  resolve: (s: SegmentRecord | null) => void;
}

/**
 * A worker idle this long is let go (its memory back); the next batch starts another, which compiles the
 * builders afresh (its first batches run slower: long enough that an app adding in chunks keeps one warm).
 */
const IDLE_MS = 60_000;

let worker: Worker | null = null;
/** Set once a worker failed to start: later batches build on the main thread. */
let unavailable = typeof Worker === 'undefined';
const jobs = new Map<number, Job>();
let nextJob = 0;
let idleTimer: ReturnType<typeof setTimeout> | undefined;
/** Batches built so far, by where (tests check the worker did the work). */
const built = { worker: 0, main: 0 };

/** How many batches the worker and the main thread built in this realm. */
export const builderCounts = (): { worker: number; main: number } => ({ ...built });

/** Whether batches go to a worker (so ingest can hand it the next batch before committing this one). */
export const builderWorkerAvailable = (): boolean => !unavailable;

/** Stops using the worker (a test's main-thread reference build; a page that wants none). */
export function useBuilderWorker(on: boolean): void {
  if (!on) stop();
  unavailable = !on || typeof Worker === 'undefined';
}

function stop(): void {
  clearTimeout(idleTimer);
  worker?.terminate();
  worker = null;
  for (const j of jobs.values()) j.resolve(null);
  jobs.clear();
}

function start(): Worker | null {
  if (worker) return worker;
  try {
    // The pattern Vite and webpack 5 bundle (the package build points it at the .js).
    worker = new Worker(new URL('./segment-build.worker.ts', import.meta.url), { type: 'module', name: 'm3-search segment builder' });
  } catch {
    unavailable = true;
    return null;
  }
  worker.onmessage = (e: MessageEvent<{ job: number; segment?: SegmentRecord; error?: string }>) => {
    const j = jobs.get(e.data.job);
    jobs.delete(e.data.job);
    j?.resolve(e.data.segment ?? null);
    if (!jobs.size) idleTimer = setTimeout(stop, IDLE_MS);
  };
  // A worker that cannot load (not bundled, blocked) reports here: its batches and later ones build here.
  worker.onerror = (e) => {
    e.preventDefault();
    unavailable = true;
    stop();
  };
  return worker;
}

/** The batch's segment (seq and keys 0), built in the worker where possible. */
export async function buildBatchSegment(input: BatchInput): Promise<SegmentRecord> {
  const packed = unavailable ? null : packBatch(input);
  const w = packed && start();
  if (!packed || !w) return onMainThread(input);
  clearTimeout(idleTimer);
  const job = nextJob++;
  const segment = await new Promise<SegmentRecord | null>((resolve) => {
    jobs.set(job, { resolve });
    w.postMessage({ job, batch: packed }, buffersOf([packed.dense, packed.sparseIds, packed.sparseWeights, packed.colbert, packed.spans]));
  });
  // null: the worker failed (its error is rebuilt here, as the library's own) or went away.
  if (!segment) return onMainThread(input);
  built.worker++;
  const meta = input.docs.map((d) => d.metadata);
  return meta.some((m) => m !== null) ? { ...segment, metadata: meta } : segment;
}

function onMainThread(input: BatchInput): SegmentRecord {
  built.main++;
  return batchSegment(input);
}
