import { describe, expect, it } from 'vitest';
import { crc32 } from '../util/crc32.ts';
import { crc32Fast, crc32KernelInUse } from './crc32-wasm.ts';

describe('crc32Fast', () => {
  it('gives util/crc32.ts’s values at every length and offset, chained, across its 1 MiB chunks', () => {
    expect(crc32KernelInUse()).toBe(true); // Node 20 runs WASM: the kernel is what is compared
    const big = new Uint8Array((1 << 20) * 2 + 77);
    for (let i = 0; i < big.length; i++) big[i] = (Math.imul(i, 2654435761) >>> 23) & 0xff;
    for (const [from, len] of [
      [0, 0],
      [3, 63],
      [1, 64],
      [5, 65],
      [7, 1000],
      [0, 1 << 20],
      [13, (1 << 20) + 9],
      [0, big.length],
    ]) {
      const d = big.subarray(from, from + len);
      expect(crc32Fast(d)).toBe(crc32(d));
      expect(crc32Fast(d, 0xdeadbeef)).toBe(crc32(d, 0xdeadbeef));
    }
    expect(crc32Fast(new TextEncoder().encode('123456789'.repeat(8)))).toBe(crc32(new TextEncoder().encode('123456789'.repeat(8))));
  });
});
