/**
 * convert-heads against files written by real torch (scripts/fixtures/make-torch-heads.py, committed; CI has
 * no torch). expected.json holds torch's own values for each tensor, so equality here is equality with torch.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { cp, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convertHeads, runConvertHeads } from './convert-heads.ts';
import { readTorchStateDict } from './torch-pt.ts';
import { unpickle, type AllowedGlobal } from './unpickle.ts';
import { readSafetensors } from '../encoder/safetensors.ts';

const FIXTURES = join(import.meta.dirname, 'fixtures', 'torch-heads');
type Expected = Record<string, Record<string, Record<string, { dtype: string; shape: number[]; values: number[] }>>>;
const expected: Expected = JSON.parse(await readFile(join(FIXTURES, 'expected.json'), 'utf8'));

let work: string;
beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'convert-heads-'));
});
afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

/** A scratch copy of one fixture folder (conversion writes beside its input). */
async function fixture(name: string): Promise<string> {
  const dir = join(work, name);
  await cp(join(FIXTURES, name), dir, { recursive: true });
  return dir;
}

/** Exact comparison: Object.is distinguishes -0 and treats NaN as equal, so any rounding shows. */
function expectExact(actual: Float32Array, want: number[]) {
  expect(actual.length).toBe(want.length);
  const mismatches = want.flatMap((v, i) => (Object.is(actual[i], v) ? [] : [`[${i}] ${actual[i]} != ${v}`]));
  expect(mismatches).toEqual([]);
}

async function readOut(path: string) {
  return readSafetensors(new Uint8Array(await readFile(path)), path);
}

describe('convertHeads on torch.save files', () => {
  it("converts BAAI-style fp16 heads to F32 safetensors equal to torch's values, beside the input", async () => {
    const dir = await fixture('fp16');
    const { written } = await convertHeads(dir);
    expect(written).toEqual([join(dir, 'sparse_linear.safetensors'), join(dir, 'colbert_linear.safetensors')]);

    const sparse = await readOut(written[0]);
    const want = expected.fp16['sparse_linear.pt'];
    expect(sparse.tensors.weight.dtype).toBe('F32');
    expect(sparse.tensors.weight.shape).toEqual([1, 8]);
    expect(sparse.tensors.bias.shape).toEqual([1]);
    expectExact(sparse.tensors.weight.data, want.weight.values);
    expectExact(sparse.tensors.bias.data, want.bias.values);
    expect(sparse.metadata).toMatchObject({ source: 'sparse_linear.pt', source_dtype: 'float16' });

    const colbert = await readOut(written[1]);
    const wc = expected.fp16['colbert_linear.pt'];
    expect(colbert.tensors.weight.shape).toEqual([8, 8]);
    expect(colbert.tensors.bias.shape).toEqual([8]);
    expectExact(colbert.tensors.weight.data, wc.weight.values);
    expectExact(colbert.tensors.bias.data, wc.bias.values);
    // Only weight and bias: the loader reads exactly these names.
    expect(Object.keys(colbert.tensors).sort()).toEqual(['bias', 'weight']);
  });

  it("produces files the library's head loader accepts", async () => {
    const dir = await fixture('fp16');
    await convertHeads(dir);
    const { loadHeads } = await import('../encoder/load-heads.ts');
    const { heads } = await loadHeads({ kind: 'folder', path: dir }, 8);
    expect(heads.sparse!.bias).toBe(expected.fp16['sparse_linear.pt'].bias.values[0]);
    expect(heads.colbert!.dim).toBe(8);
    expectExact(heads.colbert!.weight, expected.fp16['colbert_linear.pt'].weight.values);
  });

  it('writes to outDir when given, leaving the input folder untouched', async () => {
    const dir = await fixture('fp16');
    const out = join(work, 'out', 'nested');
    const { written } = await convertHeads(dir, { outDir: out });
    expect(written).toEqual([join(out, 'sparse_linear.safetensors'), join(out, 'colbert_linear.safetensors')]);
    expect((await readdir(dir)).sort()).toEqual(['colbert_linear.pt', 'sparse_linear.pt']);
    expect((await readdir(out)).sort()).toEqual(['colbert_linear.safetensors', 'sparse_linear.safetensors']);
  });

  it.each([
    ['proto4', 'pickle protocol 4 (FRAME, STACK_GLOBAL, MEMOIZE)'],
    ['offset', 'tensors at a non-zero storage offset'],
    ['mixed', 'bfloat16 and float32 storages'],
    ['deflated', 'a deflate-compressed zip'],
  ])('reads %s: %s', async (name) => {
    const dir = await fixture(name);
    const { written } = await convertHeads(dir);
    for (const [file, tensors] of Object.entries(expected[name])) {
      const path = written.find((p) => p.endsWith(file.replace('.pt', '.safetensors')));
      expect(path, file).toBeDefined();
      const st = await readOut(path!);
      for (const [key, want] of Object.entries(tensors)) {
        expect(st.tensors[key].shape).toEqual(want.shape);
        expectExact(st.tensors[key].data, want.values);
      }
    }
  });

  it('strips a module prefix from the keys (sparse_linear.weight) and converts a lone head', async () => {
    const dir = await fixture('prefixed');
    const want = expected.prefixed['sparse_linear.pt'];
    expect(Object.keys(want)).toEqual(['sparse_linear.weight', 'sparse_linear.bias']);
    const { written } = await convertHeads(dir);
    expect(written).toEqual([join(dir, 'sparse_linear.safetensors')]); // colbert_linear.pt absent: skipped
    const st = await readOut(written[0]);
    expect(Object.keys(st.tensors).sort()).toEqual(['bias', 'weight']);
    expectExact(st.tensors.weight.data, want['sparse_linear.weight'].values);
    expectExact(st.tensors.bias.data, want['sparse_linear.bias'].values);
  });

  it('fails when neither head file exists, or the folder does not', async () => {
    await expect(convertHeads(work)).rejects.toThrow(/neither sparse_linear\.pt nor colbert_linear\.pt/);
    await expect(convertHeads(join(work, 'nope'))).rejects.toThrow(/nope: no such folder/);
  });

  it('names the tensor and both shapes on a wrong shape, and writes nothing', async () => {
    const dir = await fixture('wrong-shape');
    await expect(convertHeads(dir)).rejects.toThrow('sparse_linear.pt: tensor "weight" has shape [2, 8], expected [1, H]');
    expect(await readdir(dir)).toEqual(['sparse_linear.pt']);
  });

  it('fails when the two heads disagree on the hidden size', async () => {
    const dir = await fixture('hidden-mismatch');
    await expect(convertHeads(dir)).rejects.toThrow('colbert_linear.pt: weight [4, 4] has hidden size 4, but sparse_linear.pt has 8');
  });

  it('refuses a pickle that references a global outside the allow-list (os.system), before calling anything', async () => {
    const dir = await fixture('evil');
    await expect(convertHeads(dir)).rejects.toThrow(/refusing global os\.system: not in the allow-list/);
    expect(await readdir(dir)).toEqual(['sparse_linear.pt']);
  });

  it('refuses non-contiguous tensors instead of scrambling them', async () => {
    const dir = await fixture('noncontig');
    await expect(convertHeads(dir)).rejects.toThrow(/"weight": non-contiguous tensor \(shape \[8,8\], stride \[1,8\]\)/);
  });

  it('explains the legacy (pre-zip) torch.save format', async () => {
    const dir = await fixture('legacy');
    await expect(convertHeads(dir)).rejects.toThrow(/legacy torch\.save format/);
  });

  it.each([10, 200, 700, 1200])('reports a zip truncated to %i bytes clearly', async (keep) => {
    const bytes = await readFile(join(FIXTURES, 'fp16', 'colbert_linear.pt'));
    expect(keep).toBeLessThan(bytes.length);
    await writeFile(join(work, 'colbert_linear.pt'), bytes.subarray(0, keep));
    await expect(convertHeads(work)).rejects.toThrow(/colbert_linear\.pt: not a zip archive or truncated/);
  });

  it('detects a corrupted storage through the zip CRC', async () => {
    const bytes = new Uint8Array(await readFile(join(FIXTURES, 'fp16', 'sparse_linear.pt')));
    // Flip one bit inside the weight storage (data/0): find it through the reader's own view of the zip.
    const sd = readTorchStateDict(bytes, 'x'); // sanity: intact file parses
    expect(sd.get('weight')!.shape).toEqual([1, 8]);
    const text = new TextDecoder('latin1').decode(bytes);
    const at = text.indexOf('sparse_linear/data/0') + 'sparse_linear/data/0'.length;
    // torch pads the local header's extra field to 64-byte alignment: the data starts at the next multiple of 64.
    const dataStart = Math.ceil(at / 64) * 64;
    bytes[dataStart + 3] ^= 0x01;
    await writeFile(join(work, 'sparse_linear.pt'), bytes);
    await expect(convertHeads(work)).rejects.toThrow(/sparse_linear\/data\/0: CRC mismatch/);
  });

  it('refuses --dtype f16 for bf16/f32 sources, which would be rounded', async () => {
    const dir = await fixture('mixed');
    await expect(convertHeads(dir, { dtype: 'F16' })).rejects.toThrow(/keeps fp16 sources only; sparse_linear\.pt \(bfloat16\)/);
  });

  it('--dtype f16 keeps the fp16 values exactly, stored as F16', async () => {
    const dir = await fixture('fp16');
    const { written } = await convertHeads(dir, { dtype: 'F16' });
    for (const [i, source] of ['sparse_linear.pt', 'colbert_linear.pt'].entries()) {
      const out = await readOut(written[i]);
      expect(out.tensors.weight.dtype).toBe('F16');
      expectExact(out.tensors.weight.data, expected.fp16[source].weight.values);
      expectExact(out.tensors.bias.data, expected.fp16[source].bias.values);
    }
    // Two bytes a value instead of four, as BAAI's own files (the 8×8 + 8 ColBERT values; header may pad by 8).
    const f32 = await convertHeads(await fixture('fp16'), { dtype: 'F32', outDir: join(work, 'f32') });
    const saved = (await readFile(f32.written[1])).length - (await readFile(written[1])).length;
    expect(saved).toBeGreaterThanOrEqual(2 * 72 - 8);
  });
});

describe('runConvertHeads (CLI)', () => {
  function capture() {
    let out = '';
    let err = '';
    const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
    const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
    return {
      get out() {
        return out;
      },
      get err() {
        return err;
      },
      restore() {
        o.mockRestore();
        e.mockRestore();
      },
    };
  }

  it('prints what it wrote and exits 0', async () => {
    const dir = await fixture('fp16');
    const out = join(work, 'o');
    const io = capture();
    const code = await runConvertHeads([dir, '--out', out, '--dtype', 'f32']).finally(() => io.restore());
    expect(code).toBe(0);
    expect(io.out).toBe(`wrote ${join(out, 'sparse_linear.safetensors')} (F32)\nwrote ${join(out, 'colbert_linear.safetensors')} (F32)\n`);
    expect(existsSync(join(out, 'colbert_linear.safetensors'))).toBe(true);
  });

  it('exits 1 with the reason on a failed conversion', async () => {
    const io = capture();
    const code = await runConvertHeads([work]).finally(() => io.restore());
    expect(code).toBe(1);
    expect(io.err).toMatch(/^m3-search convert-heads: .*neither sparse_linear\.pt nor colbert_linear\.pt/);
  });

  it.each([[[]], [['a', 'b']], [['a', '--dtype', 'int8']], [['a', '--bogus']]])('exits 2 with usage on bad arguments %j', async (argv) => {
    const io = capture();
    const code = await runConvertHeads(argv).finally(() => io.restore());
    expect(code).toBe(2);
    expect(io.err).toContain('usage: m3-search convert-heads <dir>');
  });
});

describe('restricted unpickler', () => {
  const globals = new Map<string, AllowedGlobal>([
    ['collections.OrderedDict', { call: () => new Map() }],
    ['torch.HalfStorage', { value: 'half-tag' }],
  ]);
  const run = (bytes: number[]) => unpickle(Uint8Array.from(bytes), { globals, label: 't.pkl' });
  const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0));

  it('builds dicts, lists, tuples and scalars', () => {
    // {'a': [1, -2, 300, 1.5, True, None], 'b': ('x',)} with memo use; protocol 2
    const v = run([
      0x80,
      2,
      0x7d,
      0x71,
      0,
      0x28,
      0x58,
      1,
      0,
      0,
      0,
      ...ascii('a'),
      0x5d,
      0x71,
      1,
      0x28,
      0x4b,
      1,
      0x4a,
      0xfe,
      0xff,
      0xff,
      0xff,
      0x4d,
      0x2c,
      0x01,
      0x47,
      0x3f,
      0xf8,
      0,
      0,
      0,
      0,
      0,
      0,
      0x88,
      0x4e,
      0x65,
      0x58,
      1,
      0,
      0,
      0,
      ...ascii('b'),
      0x8c,
      1,
      ...ascii('x'),
      0x85,
      0x75,
      0x2e,
    ]) as Map<string, unknown>;
    expect(v.get('a')).toEqual([1, -2, 300, 1.5, true, null]);
    expect(v.get('b')).toEqual(['x']);
    expect(Object.isFrozen(v.get('b'))).toBe(true);
  });

  it('decodes LONG1 two’s complement', () => {
    expect(run([0x80, 2, 0x8a, 2, 0x00, 0x80, 0x2e])).toBe(-32768);
    expect(run([0x80, 2, 0x8a, 5, 0, 0, 0, 0, 1, 0x2e])).toBe(2 ** 32);
  });

  it('names a refused global, for GLOBAL and STACK_GLOBAL alike', () => {
    expect(() => run([0x80, 2, 0x63, ...ascii('builtins\neval\n'), 0x2e])).toThrow(/refusing global builtins\.eval/);
    expect(() => run([0x80, 4, 0x8c, 13, ...ascii('torch.storage'), 0x8c, 16, ...ascii('_load_from_bytes'), 0x93, 0x2e])).toThrow(
      /refusing global torch\.storage\._load_from_bytes/,
    );
    expect(() => run([0x80, 2, 0x63, ...ascii('torch.storage\n_load_from_bytes\n'), 0x2e])).toThrow(/refusing global torch\.storage\._load_from_bytes/);
  });

  it('names a refused opcode', () => {
    expect(() => run([0x80, 2, 0x28, 0x69, ...ascii('os\nsystem\n'), 0x2e])).toThrow(/refusing opcode 0x69 \(INST\)/);
    expect(() => run([0x80, 2, 0x4e, 0x4e, 0x81, 0x2e])).toThrow(/refusing opcode 0x81 \(NEWOBJ\)/);
    expect(() => run([0x80, 2, 0x8e, 0x2e])).toThrow(/refusing opcode 0x8e \(BINBYTES8\)/);
  });

  it('will not call a global allowed only as a value', () => {
    expect(() => run([0x80, 2, 0x63, ...ascii('torch\nHalfStorage\n'), 0x29, 0x52, 0x2e])).toThrow(
      /REDUCE on something that is not an allowed callable global/,
    );
  });

  it('refuses BINPERSID without a persistent loader, and reports truncation', () => {
    expect(() => run([0x80, 2, 0x4e, 0x51, 0x2e])).toThrow(/refusing BINPERSID/);
    expect(() => run([0x80, 2, 0x58, 9, 0, 0, 0, 0x61])).toThrow(/t\.pkl: pickle truncated/);
    expect(() => run([0x80, 2, 0x4e])).toThrow(/pickle truncated/);
  });
});
