import { describe, expect, it } from 'vitest';
import { crc32 } from '../util/crc32.ts';
import { assemble, Body, I32 } from '../rank/wasm-assembler.ts';
import { CRC_WASM, crc32Fast, crc32KernelInUse } from './crc32-wasm.ts';

describe('crc32Fast', () => {
  it('its listed module is the kernel the comment describes, as wasm-assembler.ts assembles it', () => {
    expect(Buffer.from(moduleBytes()).toString('base64')).toBe(CRC_WASM);
  });

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

/** crc(c, p, len): ~c, 8 bytes per step through the tables at 0 (table k at k·1024 bytes), the tail bytewise, ~c. */
function moduleBytes(): Uint8Array<ArrayBuffer> {
  const f = new Body([I32, I32, I32]);
  const [c, p, len] = [0, 1, 2];
  const a = f.local(I32);
  const b = f.local(I32);
  const xor = () => f.code.push(0x73);
  const lookup = (x: number, shift: number, table: number) => {
    f.get(x);
    if (shift) f.i32(shift).shrU();
    f.i32(255)
      .and()
      .i32(2)
      .shl()
      .i32load(table * 1024);
  };
  f.get(c).i32(-1);
  xor();
  f.set(c);
  f.block().loop();
  f.get(len).i32(8).ltU().brIf(1);
  f.get(p).i32load(0).get(c);
  xor();
  f.set(a);
  f.get(p).i32load(4).set(b);
  lookup(a, 0, 7);
  lookup(a, 8, 6);
  xor();
  lookup(a, 16, 5);
  xor();
  lookup(a, 24, 4);
  xor();
  lookup(b, 0, 3);
  xor();
  lookup(b, 8, 2);
  xor();
  lookup(b, 16, 1);
  xor();
  lookup(b, 24, 0);
  xor();
  f.set(c);
  f.get(p).i32(8).add().set(p);
  f.get(len).i32(8).i32sub().set(len);
  f.br(0).end().end();
  f.block().loop();
  f.get(len);
  f.code.push(0x45); // i32.eqz
  f.brIf(1);
  // c = T0[(c ^ byte) & 0xff] ^ (c >>> 8)
  f.get(c).get(p);
  f.code.push(0x2d, 0, 0); // i32.load8_u
  xor();
  f.i32(255).and().i32(2).shl().i32load(0);
  f.get(c).i32(8).shrU();
  xor();
  f.set(c);
  f.get(p).i32(1).add().set(p);
  f.get(len).i32(1).i32sub().set(len);
  f.br(0).end().end();
  f.get(c).i32(-1);
  xor();
  return assemble([{ name: 'crc', body: f, results: [I32] }]);
}
