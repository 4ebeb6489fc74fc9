import { describe, expect, it } from 'vitest';
import { MAX_DEFAULT_THREADS, planDevice, planThreads, softwareAdapter, type GpuProbe, type ModelShape } from './device.ts';

const TINY: ModelShape = { vocabSize: 100, hidden: 32, layers: 2, intermediate: 64, maxPositions: 514 };

describe('softwareAdapter', () => {
  it('names the software renderers Chromium reports, by any info field', () => {
    // What Chromium's headless --enable-unsafe-webgpu reports on a machine without a GPU driver.
    expect(softwareAdapter({ vendor: 'google', architecture: 'swiftshader', description: 'SwiftShader Device (Subzero)' })).toMatch(/swiftshader/i);
    expect(softwareAdapter({ vendor: 'mesa', description: 'llvmpipe (LLVM 15.0.6, 256 bits)' })).toMatch(/llvmpipe/);
    expect(softwareAdapter({ vendor: 'mesa', device: 'lavapipe' })).toMatch(/lavapipe/);
    expect(softwareAdapter({ vendor: 'microsoft', description: 'Microsoft Basic Render Driver' })).toMatch(/basic render/i);
    expect(softwareAdapter({ isFallbackAdapter: true, vendor: 'nvidia' })).toMatch(/fallback/);
  });

  it('leaves hardware adapters alone', () => {
    for (const info of [
      { vendor: 'nvidia', architecture: 'hopper', description: 'NVIDIA H200' },
      { vendor: 'intel', architecture: 'gen-12lp' },
      { vendor: 'apple', architecture: 'metal-3' },
      { vendor: 'amd', architecture: 'rdna-3', isFallbackAdapter: false },
      {},
    ]) {
      expect(softwareAdapter(info)).toBeUndefined();
    }
  });
});

describe('planDevice', () => {
  const browser = (gpu: Partial<GpuProbe>) => ({ node: false, gpu: { adapter: true, f16: false, description: 'x', ...gpu } });
  const swift = { description: 'google swiftshader', software: 'swiftshader is a software renderer' };

  it("never gives 'auto' a software adapter; WASM q8 instead, with the reason", () => {
    const p = planDevice('auto', undefined, browser(swift), TINY);
    expect(p).toMatchObject({ device: 'wasm', dtype: 'q8' });
    expect(p.reason).toMatch(/software.*swiftshader.*WASM is faster/);
    expect(planDevice('auto', 'fp16', browser({ ...swift, f16: true }), TINY)).toMatchObject({ device: 'wasm', dtype: 'q8' });
    expect(planDevice('auto', 'fp32', browser(swift), TINY)).toMatchObject({ device: 'wasm', dtype: 'fp32' });
  });

  it("gives a software adapter to a caller who asks for 'webgpu' by name", () => {
    expect(planDevice('webgpu', undefined, browser(swift), TINY)).toEqual({ device: 'webgpu', dtype: 'fp32' });
  });

  it("lets 'auto' try a hardware adapter (the timed choice happens after)", () => {
    expect(planDevice('auto', undefined, browser({}), TINY)).toEqual({ device: 'webgpu', dtype: 'fp32' });
    expect(planDevice('auto', undefined, browser({ f16: true }), TINY)).toEqual({ device: 'webgpu', dtype: 'fp16' });
  });
});

describe('planThreads', () => {
  it('uses every core up to the cap on a cross-origin isolated page, and says when it caps', () => {
    expect(planThreads(undefined, { cores: 2, isolated: true, node: false })).toEqual({ threads: 2 });
    expect(planThreads(undefined, { cores: MAX_DEFAULT_THREADS, isolated: true, node: false })).toEqual({ threads: MAX_DEFAULT_THREADS });
    const many = planThreads(undefined, { cores: 64, isolated: true, node: false });
    expect(many.threads).toBe(MAX_DEFAULT_THREADS);
    expect(many.reason).toMatch(/capped at 8 of 64/);
  });

  it('runs one thread without cross-origin isolation and says why, even when more are asked for', () => {
    const p = planThreads(6, { cores: 8, isolated: false, node: false });
    expect(p.threads).toBe(1);
    expect(p.reason).toMatch(/cross-origin isolated/);
  });

  it('takes an explicit count (Node needs no isolation) and refuses nonsense', () => {
    expect(planThreads(3, { cores: 2, isolated: false, node: true })).toEqual({ threads: 3 });
    expect(planThreads(undefined, { cores: 4, isolated: false, node: true })).toEqual({ threads: 4 });
    for (const bad of [0, -1, 1.5, Number.NaN, 1000]) expect(() => planThreads(bad, { cores: 2, isolated: true, node: false })).toThrow(RangeError);
  });
});
