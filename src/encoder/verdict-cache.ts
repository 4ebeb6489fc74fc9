/**
 * Remembers a device decision (the WebGPU verification verdict and, for 'auto', which device won the timed
 * probe) per model, dtype, adapter, runtime version and thread count, so a page load does not pay the probe
 * every time. Anything in the key changing (a new driver, an upgraded ORT, another model) re-verifies.
 * IndexedDB (not localStorage) so it also works inside a worker.
 */
import { openDB } from 'idb';
import type { DType, ResolvedDevice } from './device.ts';
import type { Verdict } from './verify.ts';

const DB = 'm3-search-device';
const STORE = 'verdicts';

/** One device's probe run: how long the probe texts took to encode there. */
export interface ProbeTiming {
  dtype: DType;
  /** The second (warm) probe run: what the choice compares. */
  ms: number;
  /** The first run, which also pays for shader compilation / kernel set-up. */
  firstMs: number;
}

/** Which device 'auto' (or a named device) settled on, and why. Kept in encoder.info and in the cache. */
export interface DeviceChoice {
  device: ResolvedDevice;
  dtype: DType;
  reason: string;
  /** Probe times per device that ran it. */
  timings: Partial<Record<'webgpu' | 'wasm', ProbeTiming>>;
}

export interface CachedDecision {
  verdict: Verdict;
  /** Present when 'auto' timed WebGPU against WASM. */
  choice?: DeviceChoice;
}

/** What a cached decision depends on: change any of these and the devices are probed again. */
export interface DecisionKey {
  /** Where the model came from (URL, hub id or folder). */
  model: string;
  /** The dtype WebGPU runs (and the WASM dtype it was timed against, for 'auto'). */
  dtype: string;
  /** The adapter's vendor / architecture / device / description. */
  adapter: string;
  /** Transformers.js and onnxruntime-web versions. */
  runtime: string;
  /** 'auto' (timed choice) or 'webgpu' (verification only); WASM thread count for 'auto'. */
  mode: string;
}

export function decisionKey(k: DecisionKey): string {
  // JSON, not a joined string: no field can bleed into another.
  return JSON.stringify([k.model, k.dtype, k.adapter, k.runtime, k.mode]);
}

function open() {
  return openDB(DB, 1, {
    upgrade(db) {
      db.createObjectStore(STORE);
    },
  });
}

export async function readDecision(key: DecisionKey): Promise<CachedDecision | undefined> {
  if (typeof indexedDB === 'undefined') return undefined;
  try {
    const db = await open();
    const v = await db.get(STORE, decisionKey(key));
    db.close();
    // Entries written before choices were cached hold a bare Verdict: treat them as a miss.
    return v && typeof v === 'object' && 'verdict' in v ? (v as CachedDecision) : undefined;
  } catch {
    return undefined; // a cache miss costs one probe, never a failure
  }
}

export async function writeDecision(key: DecisionKey, decision: CachedDecision): Promise<void> {
  if (typeof indexedDB === 'undefined') return;
  try {
    const db = await open();
    await db.put(STORE, decision, decisionKey(key));
    db.close();
  } catch {
    /* best effort */
  }
}
