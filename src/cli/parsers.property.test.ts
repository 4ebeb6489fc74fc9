/**
 * Property tests of the CLI's parsers of untrusted bytes — JSON-lines input, the zip reader, the restricted
 * unpickler and the torch.save reader built on them: thousands of generated and mutated inputs each; no
 * crash, no hang, only the module's own error type.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mutated, onlyThrows, RUNS } from '../../test/support/fuzz.ts';
import { DocsInputError, parseDoc } from './docs-jsonl.ts';
import { makeTorchFile, makeZip } from '../../test/support/torch-fixture.ts';
import { readTorchStateDict, TorchFileError } from './torch-pt.ts';
import { unpickle, UnpickleError, type AllowedGlobal } from './unpickle.ts';
import { readZipDirectory, readZipEntry, ZipError } from './zip.ts';

describe('JSON-lines documents (parseDoc)', () => {
  it('any line: a document with a non-empty string id and string text, or a DocsInputError naming the line', () => {
    const valid = fc.record({ id: fc.string({ minLength: 1 }), text: fc.string() }, { requiredKeys: [] }).chain((o) => fc.constant(JSON.stringify(o)));
    const lines = fc.oneof(
      fc.string(),
      fc.json(),
      valid,
      valid.chain((l) => fc.nat(l.length).map((n) => l.slice(0, n))),
      fc.constant('\ufeff{"id":"a","text":""}'),
    );
    fc.assert(
      fc.property(lines, (line) => {
        try {
          const d = parseDoc(line, 'in.jsonl:7');
          expect(typeof d.id === 'string' && d.id !== '' && typeof d.text === 'string').toBe(true);
        } catch (e) {
          expect(e).toBeInstanceOf(DocsInputError);
          expect((e as Error).message.startsWith('in.jsonl:7: ')).toBe(true);
        }
      }),
      { numRuns: RUNS },
    );
  });
});

const storage = Float32Array.from({ length: 64 }, (_, i) => i / 8);
const torchFile = makeTorchFile(
  [
    { key: 'weight', storage: '0', offset: 0, shape: [1, 32] },
    { key: 'bias', storage: '0', offset: 32, shape: [1] },
  ],
  { 0: storage },
);

describe('zip reader', () => {
  const zip = makeZip([
    { name: 'a/data.pkl', data: new TextEncoder().encode('x'.repeat(300)), deflate: true },
    { name: 'a/data/0', data: new Uint8Array(200).map((_, i) => i) },
  ]);
  it('mutated archives: entries read whole and CRC-checked, or a ZipError', () => {
    fc.assert(
      fc.property(fc.oneof(mutated(zip), mutated(zip, [zip.length - 120, zip.length]), fc.uint8Array({ maxLength: 300 })), (bytes) =>
        onlyThrows([ZipError], () => {
          for (const e of readZipDirectory(bytes, 'f.pt').values()) {
            const data = readZipEntry(bytes, e, 'f.pt');
            expect(data.length).toBe(e.size);
          }
        }),
      ),
      { numRuns: RUNS },
    );
  });
});

describe('restricted unpickler', () => {
  const globals = new Map<string, AllowedGlobal>([
    ['collections.OrderedDict', { call: () => new Map() }],
    ['torch.FloatStorage', { value: 'tag' }],
  ]);
  // Opcodes the unpickler knows, with operands drawn at random: deep runs, not just first-byte refusals.
  const op = fc.oneof(
    fc
      .constantFrom(0x28, 0x2e, 0x74, 0x85, 0x86, 0x87, 0x29, 0x7d, 0x5d, 0x73, 0x75, 0x61, 0x65, 0x88, 0x89, 0x4e, 0x52, 0x62, 0x94, 0x93, 0x51)
      .map((b) => [b]),
    fc.tuple(fc.constantFrom(0x4b, 0x71, 0x68, 0x8c, 0x8a, 0x80), fc.nat(255)).map(([o, n]) => [o, n]),
    fc.tuple(fc.constantFrom(0x4a, 0x72, 0x6a, 0x58), fc.nat(40)).map(([o, n]) => [o, n, 0, 0, 0]),
    fc.string({ maxLength: 8 }).map((s) => [0x8c, s.length, ...new TextEncoder().encode(s)].slice(0, 2 + s.length)),
    fc.constantFrom([0x63, ...new TextEncoder().encode('collections\nOrderedDict\n')], [0x63, ...new TextEncoder().encode('os\nsystem\n')]),
  );
  it('random programs over its opcodes, and random bytes: a value or an UnpickleError', () => {
    const programs = fc.array(op, { maxLength: 60 }).map((ops) => Uint8Array.from([0x80, 2, ...ops.flat()]));
    fc.assert(
      fc.property(fc.oneof(programs, fc.uint8Array({ maxLength: 200 })), (bytes) =>
        onlyThrows([UnpickleError], () => unpickle(bytes, { globals, persistentLoad: (pid) => pid, label: 'p.pkl' })),
      ),
      { numRuns: RUNS },
    );
  });

  it('a long APPENDS run (200k items) builds the list, no stack overflow', () => {
    const n = 200_000;
    const b = new Uint8Array(4 + 2 * n + 2);
    b.set([0x80, 2, 0x5d, 0x28]);
    for (let i = 0; i < n; i++) b.set([0x4b, i & 0xff], 4 + 2 * i);
    b.set([0x65, 0x2e], 4 + 2 * n);
    expect((unpickle(b, { globals, label: 'long' }) as unknown[]).length).toBe(n);
  });
});

describe('torch.save reader', () => {
  it('the valid file reads; mutated ones read or fail with TorchFileError, ZipError or UnpickleError', () => {
    expect(Array.from(readTorchStateDict(torchFile, 't.pt').get('weight')!.data)).toEqual(Array.from(storage.subarray(0, 32)));
    const pkl = [...readZipDirectory(torchFile, 't').values()].find((e) => e.name.endsWith('data.pkl'))!;
    // Mutated pickles re-zipped with a valid CRC, so the runs reach the unpickler and the tensor checks.
    const pickle = readZipEntry(torchFile, pkl, 't');
    const rezipped = mutated(pickle).map((p) =>
      makeZip([
        { name: pkl.name, data: p },
        { name: 'archive/data/0', data: new Uint8Array(storage.buffer) },
      ]),
    );
    fc.assert(
      fc.property(fc.oneof(mutated(torchFile), rezipped), (bytes) =>
        onlyThrows([TorchFileError, ZipError, UnpickleError], () => {
          for (const t of readTorchStateDict(bytes, 't.pt').values()) expect(t.data.length).toBe(t.shape.reduce((a, b) => a * b, 1));
        }),
      ),
      { numRuns: RUNS },
    );
  });
});
