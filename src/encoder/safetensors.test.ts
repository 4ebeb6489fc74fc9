import { describe, expect, it } from 'vitest';
import { readSafetensors, writeSafetensors } from './safetensors.ts';

const build = (header: unknown, data = new Uint8Array(0)) => {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
};

describe('safetensors', () => {
  it('round-trips float32 tensors with metadata, sorted keys and an 8-byte aligned header', () => {
    const bytes = writeSafetensors(
      { weight: { shape: [2, 3], data: Float32Array.of(1, -2, 3.5, 0, 1e-8, -1e30) }, bias: { shape: [1], data: Float32Array.of(0.25) } },
      { format: 'pt' },
    );
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
    expect(Object.keys(header)).toEqual(['__metadata__', 'bias', 'weight']);
    expect(header.bias.data_offsets).toEqual([0, 4]);
    const f = readSafetensors(bytes, 'x.safetensors');
    expect(f.metadata).toEqual({ format: 'pt' });
    expect(f.tensors.weight.shape).toEqual([2, 3]);
    expect(f.tensors.weight.dtype).toBe('F32');
    expect(Array.from(f.tensors.weight.data)).toEqual(Array.from(Float32Array.of(1, -2, 3.5, 0, 1e-8, -1e30)));
    expect(Array.from(f.tensors.bias.data)).toEqual([0.25]);
    expect(writeSafetensors({ weight: { shape: [1], data: Float32Array.of(1) } })).toEqual(
      writeSafetensors({ weight: { shape: [1], data: Float32Array.of(1) } }),
    );
  });

  it('widens F16 and BF16 to float32, and reads unaligned data', () => {
    const data = new Uint8Array(1 + 4 + 4);
    const dv = new DataView(data.buffer);
    dv.setUint16(1, 0x3c00, true); // f16 1.0
    dv.setUint16(3, 0xc100, true); // f16 -2.5
    dv.setUint16(5, 0x3f80, true); // bf16 1.0
    dv.setUint16(7, 0x4049, true); // bf16 3.140625
    const bytes = build({ h: { dtype: 'F16', shape: [2], data_offsets: [1, 5] }, b: { dtype: 'BF16', shape: [2], data_offsets: [5, 9] } }, data);
    const f = readSafetensors(bytes);
    expect(Array.from(f.tensors.h.data)).toEqual([1, -2.5]);
    expect(Array.from(f.tensors.b.data)).toEqual([1, 3.140625]);
  });

  it('rejects malformed files with errors naming the file and tensor', () => {
    const good = writeSafetensors({ w: { shape: [2], data: Float32Array.of(1, 2) } });
    expect(() => readSafetensors(good.subarray(0, 5), 'heads.safetensors')).toThrow(/heads\.safetensors.*shorter/);
    const huge = good.slice();
    new DataView(huge.buffer).setBigUint64(0, 1n << 40n, true);
    expect(() => readSafetensors(huge, 'heads.safetensors')).toThrow(/heads\.safetensors: header length/);
    const badJson = good.slice();
    badJson[8] = 0x7b + 1; // '|' instead of '{'
    expect(() => readSafetensors(badJson, 'heads.safetensors')).toThrow(/heads\.safetensors: header is not valid/);
    expect(() => readSafetensors(good.subarray(0, good.length - 1), 'a.st')).toThrow(/a\.st tensor "w": data_offsets \[0, 8\] outside/);
    const d8 = new Uint8Array(8);
    expect(() => readSafetensors(build({ w: { dtype: 'I8', shape: [8], data_offsets: [0, 8] } }, d8), 'a.st')).toThrow(
      /a\.st tensor "w": unsupported dtype "I8"/,
    );
    expect(() => readSafetensors(build({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, d8), 'a.st')).toThrow(
      /tensor "w": data_offsets span 8 bytes but shape \[3\]/,
    );
    expect(() => readSafetensors(build({ w: { dtype: 'F32', shape: [-1], data_offsets: [0, 8] } }, d8), 'a.st')).toThrow(/tensor "w": bad shape/);
    expect(() =>
      readSafetensors(build({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, d8), 'a.st'),
    ).toThrow(/tensor "b": data overlaps tensor "a"/);
    expect(() => writeSafetensors({ w: { shape: [3], data: Float32Array.of(1) } })).toThrow(/tensor "w"/);
  });
});
