/**
 * Which device an encoder runs on when WebGPU is possible: WebGPU output is checked against a reference
 * before it is used, and for 'auto' it must also beat WASM on the same probe.
 */
import type { DType, Device, GpuProbe, ResolvedDevice } from './device.ts';
import type { EncoderInfo, LoadOptions } from './load-options.ts';
import { readProbeFile } from './model-config.ts';
import type { ModelLocation } from './model-source.ts';
import { runtimeVersion, type Session } from './ort-session.ts';
import type { Transformers } from './transformers.ts';
import type { M3Embedding } from './types.ts';
import { readDecision, writeDecision, type DeviceChoice } from './verdict-cache.ts';
import { compareProbe, PROBE_TEXTS, toProbeAnswer } from './verify.ts';

/** What decideWebGpu needs from the load. */
export interface DecideContext {
  tf: Transformers;
  /** The encoder's info: verification, choice and fallbackReason are set on it. */
  info: EncoderInfo;
  /** Encodes PROBE_TEXTS on the session (dense, and sparse when the model has the head). */
  probe: (session: Session) => Promise<M3Embedding[]>;
  requested: Device;
  dtype: DType | undefined;
  plan: { device: ResolvedDevice; dtype: DType };
  gpu: GpuProbe;
  loc: ModelLocation;
  where: string;
  threads: number;
  verify: LoadOptions['verify'];
  runtime: string | undefined;
  open: (device: ResolvedDevice, dtype: DType) => Promise<Session>;
}

/**
 * WebGPU is trusted only after its probe answers agree with a reference (verify.ts). For 'auto' it must also
 * be faster: the probe runs on WASM too (its answers are the reference when the model ships none), and the
 * device with the shorter warm probe wins. The decision is cached (verdict-cache.ts), so only a page's first
 * load with this model, dtype, adapter and runtime pays for the second session and the probes.
 */
export async function decideWebGpu(c: DecideContext): Promise<Session> {
  const info = c.info;
  const timed = c.requested === 'auto';
  const gpuDtype = c.plan.dtype;
  // For 'auto' WASM competes with what it would run by default (q8 unless a WASM-able dtype was asked for);
  // for a named 'webgpu' it is only the reference, so it runs WebGPU's dtype where WASM can.
  const wasmDtype: DType = timed ? (c.dtype && c.dtype !== 'fp16' ? c.dtype : 'q8') : gpuDtype === 'fp16' ? 'q8' : gpuDtype;
  const key = {
    model: c.where,
    dtype: timed ? `${gpuDtype} vs wasm ${wasmDtype}` : gpuDtype,
    adapter: c.gpu.description,
    runtime: c.runtime ?? runtimeVersion(c.tf),
    mode: timed ? `auto, ${c.threads} WASM threads` : 'webgpu',
  };
  const started = performance.now();
  const cached = c.verify === 'always' ? undefined : await readDecision(key);
  if (cached && (!timed || cached.choice)) {
    info.verification = cached.verdict;
    const choice = cached.choice ?? (cached.verdict.ok ? { device: 'webgpu' as const, dtype: gpuDtype } : { device: 'wasm' as const, dtype: 'q8' as const });
    const session = await c.open(choice.device, choice.dtype);
    if (!cached.verdict.ok) info.fallbackReason = `WebGPU output failed verification: ${cached.verdict.reason}`;
    if (cached.choice) info.choice = { ...cached.choice, cached: true, addedMs: 0 };
    return session;
  }

  const gpuOpen = performance.now();
  const gpuSession = await c.open('webgpu', gpuDtype);
  const gpuOpenMs = performance.now() - gpuOpen;
  const gpuRun = await timeProbe(c, gpuSession);
  const known = await readProbeFile(c.loc, null); // optional; the verdict is cached, so offline never needs it
  const answers = known && sameTexts(known.texts, PROBE_TEXTS) ? known.answers[gpuDtype] : undefined;
  let wasmSession: Session | undefined;
  let wasmRun: Awaited<ReturnType<typeof timeProbe>> | undefined;
  let wasmOpenMs = 0;
  if (timed || !answers) {
    const t = performance.now();
    wasmSession = await c.open('wasm', wasmDtype);
    wasmOpenMs = performance.now() - t;
    wasmRun = await timeProbe(c, wasmSession);
  }
  const verdict = answers ? compareProbe(gpuRun.out, answers, 'known-answers') : compareProbe(gpuRun.out, wasmRun!.out.map(toProbeAnswer), 'wasm');
  info.verification = verdict;

  const timings: DeviceChoice['timings'] = { webgpu: { dtype: gpuDtype, ms: gpuRun.ms, firstMs: gpuRun.firstMs } };
  if (wasmRun) timings.wasm = { dtype: wasmDtype, ms: wasmRun.ms, firstMs: wasmRun.firstMs };
  const fmt = (d: 'webgpu' | 'wasm') => `${d === 'webgpu' ? 'WebGPU' : 'WASM'} (${timings[d]!.dtype}) ${timings[d]!.ms.toFixed(1)} ms`;
  let choice: DeviceChoice;
  if (!verdict.ok) {
    info.fallbackReason = `WebGPU output failed verification: ${verdict.reason}`;
    choice = { device: 'wasm', dtype: wasmSession?.dtype ?? 'q8', reason: info.fallbackReason, timings };
  } else if (timed && wasmRun!.ms < gpuRun.ms) {
    choice = { device: 'wasm', dtype: wasmDtype, reason: `WASM is faster: warm probe ${fmt('wasm')} against ${fmt('webgpu')}`, timings };
  } else {
    choice = {
      device: 'webgpu',
      dtype: gpuDtype,
      reason: timed ? `WebGPU is faster: warm probe ${fmt('webgpu')} against ${fmt('wasm')}` : 'WebGPU asked for by name and verified',
      timings,
    };
  }
  // Keep the winner, free the other graph.
  let session: Session;
  if (choice.device === 'webgpu') {
    session = gpuSession;
    await wasmSession?.model.dispose?.();
  } else {
    await gpuSession.model.dispose?.();
    session = wasmSession ?? (await c.open('wasm', 'q8'));
  }
  await writeDecision(key, { verdict, ...(timed ? { choice } : {}) });
  if (timed) {
    // What deciding cost on top of opening the winner: the other session and the probe runs.
    const winnerOpenMs = choice.device === 'webgpu' ? gpuOpenMs : wasmOpenMs;
    info.choice = { ...choice, cached: false, addedMs: Math.max(0, performance.now() - started - winnerOpenMs) };
  }
  return session;
}

/** Encodes the probe texts twice on a session: the first answers verification, the second is the timing. */
async function timeProbe(c: DecideContext, session: Session): Promise<{ out: M3Embedding[]; ms: number; firstMs: number }> {
  let t = performance.now();
  const out = await c.probe(session);
  const firstMs = performance.now() - t;
  t = performance.now();
  await c.probe(session);
  return { out, ms: performance.now() - t, firstMs };
}

function sameTexts(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((t, i) => t === b[i]);
}
