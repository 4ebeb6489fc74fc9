/**
 * CRC-32 (util/crc32.ts's, the same values) by a WASM kernel, slicing-by-8 over bytes copied into its memory:
 * ~3× the JS loop. Every segment record is checksummed when IdbStore writes it and again on every open, and a
 * cold open checksums the whole index (~180 MB at 100k documents). Falls back to the JS loop without WASM.
 */
import { crc32, crc32Tables } from '../util/crc32.ts';

/**
 * The kernel's module: crc(c, p, len) = ~c, then 8 bytes per step through the slicing-by-8 tables at 0 (table k at
 * k·1024 bytes), the tail bytewise, then ~c. Listed as bytes (the search path ships no assembler for it);
 * crc32-wasm.test.ts assembles the same function with wasm-assembler.ts and checks they agree.
 */
export const CRC_WASM =
  'AGFzbQEAAAABCAFgA39/fwF/AgwBA2VudgNtZW0CAAEDAgEABwcBA2NyYwAACvgBAfUBAQJ/IABBf3MhAAJAA0AgAkEISQ0BIAEoAgAgAHMhAyABKAIEIQQgA0H/AXFBAnQoAoA4IANBCHZB/wFxQQJ0KAKAMHMgA0EQdkH/AXFBAnQoAoAocyADQRh2Qf8BcUECdCgCgCBzIARB/wFxQQJ0KAKAGHMgBEEIdkH/AXFBAnQoAoAQcyAEQRB2Qf8BcUECdCgCgAhzIARBGHZB/wFxQQJ0KAIAcyEAIAFBCGohASACQQhrIQIMAAsLAkADQCACRQ0BIAAgAS0AAHNB/wFxQQJ0KAIAIABBCHZzIQAgAUEBaiEBIAJBAWshAgwACwsgAEF/cws=';

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
    const bytes = Uint8Array.from(atob(CRC_WASM), (c) => c.charCodeAt(0));
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
