/**
 * CRC-32 (util/crc32.ts's, the same values) by a WASM kernel, slicing-by-8 over bytes copied into its memory:
 * ~3× the JS loop. Every segment record is checksummed when IdbStore writes it and again on every open, and a
 * cold open checksums the whole index (~180 MB at 100k documents). Falls back to the JS loop without WASM.
 */
import { assemble, Body, I32 } from '../rank/wasm-assembler.ts';
import { crc32, crc32Tables } from '../util/crc32.ts';

/** Bytes per kernel call: the data area after the 8 KB of tables. */
const CHUNK = 1 << 20;
const DATA = 8192;

interface Kernel {
  crc(c: number, p: number, len: number): number;
  u8: Uint8Array;
}

let kernel: Kernel | null | undefined;

function load(): Kernel | null {
  if (kernel !== undefined) return kernel;
  try {
    const bytes = moduleBytes();
    if (typeof WebAssembly !== 'object' || !WebAssembly.validate(bytes)) return (kernel = null);
    const memory = new WebAssembly.Memory({ initial: Math.ceil((DATA + CHUNK) / 65536) });
    new Int32Array(memory.buffer, 0, 2048).set(crc32Tables());
    const e = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { mem: memory } }).exports as unknown as Pick<Kernel, 'crc'>;
    kernel = { crc: e.crc, u8: new Uint8Array(memory.buffer) };
  } catch {
    kernel = null;
  }
  return kernel;
}

/** crc32(d, prev), computed by the kernel where it runs. */
export function crc32Fast(d: Uint8Array, prev = 0): number {
  const k = load();
  if (!k || d.length < 64) return crc32(d, prev);
  let c = prev;
  for (let at = 0; at < d.length; at += CHUNK) {
    const part = d.subarray(at, Math.min(at + CHUNK, d.length));
    k.u8.set(part, DATA);
    c = k.crc(c, DATA, part.length) >>> 0;
  }
  return c;
}

/** For tests: whether the kernel runs here. */
export function crc32KernelInUse(): boolean {
  return load() !== null;
}

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
