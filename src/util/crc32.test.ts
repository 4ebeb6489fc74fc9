import { describe, expect, it } from 'vitest';
import { crc32 } from './crc32.ts';

/** Bit-at-a-time CRC-32 (IEEE), the definition the table-driven code must match. */
function reference(d: Uint8Array, prev = 0): number {
  let c = ~prev >>> 0;
  for (const byte of d) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return ~c >>> 0;
}

describe('crc32', () => {
  it('gives the standard check value', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
  });

  it('matches the bitwise definition at every alignment and length, and continues a running checksum', () => {
    const buf = new Uint8Array(300);
    for (let i = 0; i < buf.length; i++) buf[i] = (i * 2654435761) >>> 24;
    for (let offset = 0; offset < 9; offset++) {
      for (const n of [0, 1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 64, 255]) {
        const d = buf.subarray(offset, offset + n);
        expect(crc32(d)).toBe(reference(d));
        expect(crc32(d, 0x12345678)).toBe(reference(d, 0x12345678));
        const cut = n >> 1;
        expect(crc32(d.subarray(cut), crc32(d.subarray(0, cut)))).toBe(reference(d));
      }
    }
  });
});
