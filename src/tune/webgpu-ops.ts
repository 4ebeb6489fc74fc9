/**
 * MatrixOps on WebGPU compute. The cached hidden states are uploaded once, packed into storage buffers of at
 * most 128 MiB each (a text never straddles two); each step then uploads only W, b and row lists:
 * - project: one invocation per requested row, z = h_row·W + b;
 * - accumulate: invocation (j, s) sums coef·h_row[j] over slice s of the terms; the slices' partial sums
 *   are added on the CPU in f64 (fewer f32 round-offs than one long sum, and H·S invocations rather than H).
 * Arithmetic is f32 (JS runs f64): the e2e test compares the two to ~1e-4 relative.
 * Any WebGPU error (validation, out-of-memory, device lost) rejects; the caller falls back to JS.
 */
import type { CachedText } from './hidden-cache.ts';
import type { MatrixOps } from './matrix-ops.ts';
import type { SparseHeadModel, WeightTerm } from './sparse-model.ts';

// No @webgpu/types in this project: the few objects used here are typed loosely.
type Gpu = any;

const MAX_BINDING = 128 * 1024 * 1024;
const WG = 64;
const MAX_GROUPS = 65535;
// WebGPU's usage flags (GPUBufferUsage), spelled out so this module loads where the global is missing.
const MAP_READ = 0x0001;
const COPY_SRC = 0x0004;
const COPY_DST = 0x0008;
const UNIFORM = 0x0040;
const STORAGE = 0x0080;

const PROJECT_WGSL = /* wgsl */ `
struct Params { h: u32, n: u32, bias: f32, pad: u32 }
@group(0) @binding(0) var<storage, read> hid: array<f32>;
@group(0) @binding(1) var<storage, read> rows: array<u32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> z: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let k = g.x;
  if (k >= p.n) { return; }
  let base = rows[k] * p.h;
  var s = 0.0;
  for (var j = 0u; j < p.h; j++) { s += hid[base + j] * w[j]; }
  z[k] = s + p.bias;
}`;

const ACCUMULATE_WGSL = /* wgsl */ `
struct Params { h: u32, n: u32, per: u32, pad: u32 }
@group(0) @binding(0) var<storage, read> hid: array<f32>;
@group(0) @binding(1) var<storage, read> rows: array<u32>;
@group(0) @binding(2) var<storage, read> coef: array<f32>;
@group(0) @binding(3) var<storage, read_write> part: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let j = g.x;
  if (j >= p.h) { return; }
  let a = g.y * p.per;
  let b = min(a + p.per, p.n);
  var s = 0.0;
  for (var k = a; k < b; k++) { s += coef[k] * hid[rows[k] * p.h + j]; }
  part[g.y * p.h + j] = s;
}`;

interface Placed {
  chunk: number;
  row: number; // first row of the text in its chunk
}

export type WebGpuOpsResult = { ops: MatrixOps } | { reason: string };

/** WebGPU ops holding `texts`' hidden states, or why there are none (no navigator.gpu, no adapter, an error). */
export async function createWebGpuOps(texts: readonly CachedText[], H: number): Promise<WebGpuOpsResult> {
  const gpu: Gpu = (globalThis as any).navigator?.gpu;
  if (!gpu) return { reason: 'navigator.gpu is not available' };
  try {
    const adapter = await gpu.requestAdapter();
    if (!adapter) return { reason: 'navigator.gpu.requestAdapter() gave no adapter' };
    const binding = Math.min(MAX_BINDING, adapter.limits.maxStorageBufferBindingSize, adapter.limits.maxBufferSize);
    const device = await adapter.requestDevice({ requiredLimits: { maxStorageBufferBindingSize: binding, maxBufferSize: binding } });
    const ops = new WebGpuOps(device, H, binding);
    await ops.upload(texts);
    return { ops };
  } catch (e) {
    return { reason: `WebGPU setup failed: ${(e as Error).message ?? e}` };
  }
}

class WebGpuOps implements MatrixOps {
  readonly kind = 'webgpu' as const;
  private readonly chunks: Gpu[] = [];
  private readonly placed = new Map<CachedText, Placed>();
  private readonly project$: Gpu;
  private readonly accumulate$: Gpu;
  private lost: string | null = null;

  constructor(
    private readonly device: Gpu,
    private readonly H: number,
    private readonly binding: number,
  ) {
    const pipeline = (code: string) =>
      device.createComputePipeline({ layout: 'auto', compute: { module: device.createShaderModule({ code }), entryPoint: 'main' } });
    this.project$ = pipeline(PROJECT_WGSL);
    this.accumulate$ = pipeline(ACCUMULATE_WGSL);
    device.lost?.then((info: { message?: string }) => (this.lost = `WebGPU device lost: ${info?.message ?? 'unknown'}`));
  }

  /** Packs the texts into ≤ binding-sized storage buffers (each text whole, f32 as cached). */
  async upload(texts: readonly CachedText[]): Promise<void> {
    const rowBytes = this.H * 4;
    const plan: { texts: CachedText[]; rows: number }[] = [];
    for (const t of texts) {
      if (this.placed.has(t)) continue;
      const n = t.ids.length;
      if (n * rowBytes > this.binding) throw new Error(`a text of ${n} rows exceeds the ${this.binding}-byte binding`);
      let c = plan[plan.length - 1];
      if (!c || (c.rows + n) * rowBytes > this.binding) plan.push((c = { texts: [], rows: 0 }));
      this.placed.set(t, { chunk: plan.length - 1, row: c.rows });
      c.texts.push(t);
      c.rows += n;
    }
    await this.guard(() => {
      for (const c of plan) {
        const buf = this.device.createBuffer({ size: Math.max(16, c.rows * rowBytes), usage: STORAGE | COPY_DST });
        for (const t of c.texts)
          this.device.queue.writeBuffer(buf, this.placed.get(t)!.row * rowBytes, t.hidden.buffer, t.hidden.byteOffset, t.ids.length * rowBytes);
        this.chunks.push(buf);
      }
    });
  }

  project(model: SparseHeadModel, texts: readonly CachedText[]): Promise<Float32Array[]> {
    return this.guard(async () => {
      const out = texts.map((t) => new Float32Array(t.ids.length));
      const temp: Gpu[] = [];
      try {
        const w = this.storage(Float32Array.from(model.weight), temp);
        // Per chunk: the requested texts' rows, one invocation each, in as many dispatches as the grid allows.
        for (let ch = 0; ch < this.chunks.length; ch++) {
          const mine = texts.map((t, i) => [t, i] as const).filter(([t]) => this.where(t).chunk === ch);
          const n = mine.reduce((s, [t]) => s + t.ids.length, 0);
          if (n === 0) continue;
          const rows = new Uint32Array(n);
          let k = 0;
          for (const [t] of mine) for (let i = 0, r = this.where(t).row; i < t.ids.length; i++) rows[k++] = r + i;
          const z = new Float32Array(n);
          for (let at = 0; at < n; at += MAX_GROUPS * WG) {
            const m = Math.min(n - at, MAX_GROUPS * WG);
            const params = new ArrayBuffer(16);
            new Uint32Array(params, 0, 2).set([this.H, m]);
            new Float32Array(params, 8, 1)[0] = model.bias;
            z.set(await this.run(this.project$, [this.chunks[ch], this.storage(rows.subarray(at, at + m), temp), w], m, params, [Math.ceil(m / WG), 1]), at);
          }
          k = 0;
          for (const [t, i] of mine) {
            out[i].set(z.subarray(k, k + t.ids.length));
            k += t.ids.length;
          }
        }
      } finally {
        for (const b of temp) b.destroy();
      }
      return out;
    });
  }

  accumulate(_model: SparseHeadModel, terms: readonly WeightTerm[], out: Float64Array): Promise<void> {
    const H = this.H;
    return this.guard(async () => {
      const temp: Gpu[] = [];
      try {
        for (let ch = 0; ch < this.chunks.length; ch++) {
          const mine = terms.filter((t) => this.where(t.text).chunk === ch);
          if (mine.length === 0) continue;
          const rows = Uint32Array.from(mine, (t) => this.where(t.text).row + t.pos);
          const coef = Float32Array.from(mine, (t) => t.coef);
          // Slices of ≥ 64 terms, at most 256 of them: enough invocations to fill a GPU, partials that stay small.
          const per = Math.max(64, Math.ceil(mine.length / 256));
          const slices = Math.ceil(mine.length / per);
          const params = new Uint32Array([H, mine.length, per, 0]).buffer;
          const part = await this.run(this.accumulate$, [this.chunks[ch], this.storage(rows, temp), this.storage(coef, temp)], slices * H, params, [
            Math.ceil(H / WG),
            slices,
          ]);
          for (let s = 0; s < slices; s++) for (let j = 0; j < H; j++) out[j] += part[s * H + j];
        }
      } finally {
        for (const b of temp) b.destroy();
      }
    });
  }

  destroy(): void {
    for (const b of this.chunks) b.destroy();
    this.chunks.length = 0;
    this.device.destroy?.();
  }

  private where(t: CachedText): Placed {
    const p = this.placed.get(t);
    if (!p) throw new Error('a text was not uploaded to the GPU');
    return p;
  }

  /** A storage buffer holding `data`, freed by the caller with the others in `temp`. */
  private storage(data: Float32Array | Uint32Array, temp: Gpu[]): Gpu {
    const buf = this.device.createBuffer({ size: Math.max(16, data.byteLength), usage: STORAGE | COPY_DST });
    temp.push(buf);
    this.device.queue.writeBuffer(buf, 0, data.buffer, data.byteOffset, data.byteLength);
    return buf;
  }

  /** One dispatch of `pipeline` over bindings 0-2 (inputs), 3 (its f32 output of `outLen`) and 4 (params), read back. */
  private async run(pipeline: Gpu, inputs: Gpu[], outLen: number, params: ArrayBuffer, groups: [number, number]): Promise<Float32Array> {
    const bytes = Math.max(16, outLen * 4);
    const d = this.device;
    const outBuf = d.createBuffer({ size: bytes, usage: STORAGE | COPY_SRC });
    const read = d.createBuffer({ size: bytes, usage: MAP_READ | COPY_DST });
    const uni = d.createBuffer({ size: 16, usage: UNIFORM | COPY_DST });
    try {
      d.queue.writeBuffer(uni, 0, params);
      const bind = d.createBindGroup({
        layout: pipeline.getBindGroupLayout(0),
        entries: [...inputs, outBuf, uni].map((buffer, binding) => ({ binding, resource: { buffer } })),
      });
      const enc = d.createCommandEncoder();
      const pass = enc.beginComputePass();
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bind);
      pass.dispatchWorkgroups(groups[0], groups[1]);
      pass.end();
      enc.copyBufferToBuffer(outBuf, 0, read, 0, bytes);
      d.queue.submit([enc.finish()]);
      await read.mapAsync(1 /* GPUMapMode.READ */);
      const res = new Float32Array(read.getMappedRange().slice(0, outLen * 4));
      read.unmap();
      return res;
    } finally {
      outBuf.destroy();
      read.destroy();
      uni.destroy();
    }
  }

  /** Runs `f` inside validation and out-of-memory error scopes: a GPU error becomes a rejection. */
  private async guard<T>(f: () => T | Promise<T>): Promise<T> {
    if (this.lost) throw new Error(this.lost);
    const d = this.device;
    d.pushErrorScope('out-of-memory');
    d.pushErrorScope('validation');
    let value: T;
    try {
      value = await f();
    } finally {
      const validation = await d.popErrorScope();
      const oom = await d.popErrorScope();
      const err = validation ?? oom;
      // biome-ignore lint/correctness/noUnsafeFinally: the error scopes are popped even when f() threw, and a GPU error explains that throw
      if (err) throw new Error(`WebGPU error: ${err.message}`);
    }
    if (this.lost) throw new Error(this.lost);
    return value;
  }
}
