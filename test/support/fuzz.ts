/**
 * Test support for the property tests of parsers of untrusted bytes: fast-check arbitraries that mutate a
 * valid input (flipped bytes, cuts, insertions, overwritten 32-bit fields) so that runs reach deep into a
 * format, beside wholly random bytes that test the first checks.
 */
import fc from 'fast-check';

/** Property runs per parser per test run (FUZZ_RUNS overrides; CI keeps the default). */
export const RUNS = Number(process.env.FUZZ_RUNS ?? 2000);

/**
 * One fixed seed unless FUZZ_SEED names another: CI must not turn red by chance on a run that found a new input,
 * while `FUZZ_SEED=$RANDOM npx vitest run property` explores further (a failure prints its seed).
 */
fc.configureGlobal({ seed: Number(process.env.FUZZ_SEED ?? 20261129) });

type Edit =
  | { kind: 'flip'; at: number; bits: number }
  | { kind: 'cut'; at: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'u32'; at: number; value: number };

const edit: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bits: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
  fc.record({ kind: fc.constant('u32' as const), at: fc.nat(), value: fc.oneof(fc.constantFrom(0, 1, 0xffffffff, 0x7fffffff, 0x80000000), fc.nat()) }),
);

function apply(base: Uint8Array, edits: Edit[]): Uint8Array {
  let b = base.slice();
  for (const e of edits) {
    if (b.length === 0) break;
    const at = e.at % b.length;
    if (e.kind === 'flip') b[at] ^= e.bits;
    else if (e.kind === 'cut') b = b.slice(0, at);
    else if (e.kind === 'insert') {
      const out = new Uint8Array(b.length + e.bytes.length);
      out.set(b.subarray(0, at));
      out.set(e.bytes, at);
      out.set(b.subarray(at), at + e.bytes.length);
      b = out;
    } else if (at + 4 <= b.length) new DataView(b.buffer).setUint32(at, e.value >>> 0, true);
  }
  return b;
}

/** `base` with 1–4 random edits; `focus` (a byte range) draws edit positions inside it half the time. */
export function mutated(base: Uint8Array, focus?: [number, number]): fc.Arbitrary<Uint8Array> {
  const inFocus = focus ? edit.map((e) => ({ ...e, at: focus[0] + (e.at % Math.max(1, focus[1] - focus[0])) })) : edit;
  return fc.array(fc.oneof(edit, inFocus), { minLength: 1, maxLength: 4 }).map((edits) => apply(base, edits));
}

/** Runs `parse`; returns normally or throws only `allowed` errors (anything else fails the property). */
export function onlyThrows(allowed: (new (...a: never[]) => Error)[], parse: () => unknown): boolean {
  try {
    parse();
  } catch (e) {
    if (!allowed.some((A) => e instanceof A)) throw e;
  }
  return true;
}

export async function onlyRejects(allowed: (new (...a: never[]) => Error)[], parse: () => Promise<unknown>): Promise<boolean> {
  try {
    await parse();
  } catch (e) {
    if (!allowed.some((A) => e instanceof A)) throw e;
  }
  return true;
}
