import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type CodedEntry, decodeDoc, decoderModel, docSpans, isWordUnit, MAX_LEN, resolveModel, TextCodeError } from './text-code.ts';
import { huffmanLengths, modelRecord, runsOf, TextEncoderModel, trainModel, WORD_CLASS } from './text-code-pack.ts';

const decodeAll = (bytes: Uint8Array, n: number, m: ReturnType<typeof decoderModel>) => {
  const at = docSpans(bytes, n);
  if (!at) throw new Error('bad spans');
  return Array.from({ length: n }, (_, i) => decodeDoc(bytes, at[i], at[i + 1], m!));
};

const PIECES = ['the', 'cat', 'sat', ' ', '  ', ', ', '. ', 'élan', 'naïve', '東京', '\uD800', '\uDC00x', '😀', '\n', '-', 'x1', ''];
const wordy = fc.array(fc.constantFrom(...PIECES), { maxLength: 40 }).map((xs) => xs.join(''));
// Any UTF-16 code units, lone surrogates included.
const anyText = fc.array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 60 }).map((us) => String.fromCharCode(...us));
const text = fc.oneof(wordy, anyText, fc.string({ unit: 'binary', maxLength: 40 }));
const spans = fc.array(fc.tuple(fc.nat({ max: 2 ** 35 - 1 }), fc.nat({ max: 2 ** 35 - 1 })), { maxLength: 4 });
const entry: fc.Arbitrary<CodedEntry> = fc.oneof(
  text.map((t): CodedEntry => [t]),
  fc.tuple(text, spans).map(([t, s]): CodedEntry => [t, s]),
  fc.constant(null),
);

describe('text code (word-level Huffman)', () => {
  it('splits runs by the same word units as the decoder (every UTF-16 unit checked)', () => {
    const re = new RegExp(`^[${WORD_CLASS}]$`);
    for (let c = 0; c < 0x10000; c++) expect(re.test(String.fromCharCode(c))).toBe(isWordUnit(c));
  });

  it('splits a text into alternating word and non-word runs that join back to it', () => {
    expect(runsOf('Hello, wörld 42!')).toEqual(['Hello', ', ', 'wörld', ' ', '42', '!']);
    fc.assert(
      fc.property(text, (t) => {
        expect(runsOf(t).join('')).toBe(t);
      }),
    );
  });

  it('round-trips any texts, chunk spans and empty rows exactly, whatever the model was trained on', () => {
    fc.assert(
      fc.property(fc.array(text, { maxLength: 30 }), fc.array(entry, { minLength: 1, maxLength: 40 }), (training, entries) => {
        const model = trainModel(training);
        const enc = new TextEncoderModel(model);
        const { bytes } = enc.encode(entries);
        expect(decodeAll(bytes, entries.length, decoderModel(model))).toEqual(entries);
      }),
      { numRuns: 300 },
    );
  });

  it('codes a text of known words in fewer bytes than its characters, and a retrained model extends the first', () => {
    const words = Array.from({ length: 500 }, (_, i) => `w${i.toString(36)}ord`);
    const texts = Array.from({ length: 300 }, (_, d) => Array.from({ length: 60 }, (_, k) => words[(d * 7 + k * k) % 200]).join(' '));
    const m1 = trainModel(texts);
    const { bytes, literalShare } = new TextEncoderModel(m1).encode(texts.slice(0, 32).map((t) => [t]));
    expect(literalShare).toBe(0);
    expect(bytes.length).toBeLessThan(texts.slice(0, 32).join('').length / 3);
    const later = Array.from({ length: 50 }, (_, d) => Array.from({ length: 60 }, (_, k) => words[200 + ((d + k) % 300)]).join(' '));
    expect(new TextEncoderModel(m1).encode(later.map((t) => [t])).literalShare).toBeGreaterThan(0.5);
    const m2 = trainModel(later, m1);
    expect(new TextEncoderModel(m2).encode(later.map((t) => [t])).literalShare).toBe(0);
    expect(new TextEncoderModel(m2).encode(texts.map((t) => [t])).literalShare).toBe(0);
    expect(m2.docs).toBe(m1.docs + later.length);
    // Stored as the runs it adds to its base; resolved back to the whole model.
    const rec = modelRecord(m2, { id: 7, model: m1 });
    expect(rec.syms.length).toBe(m2.syms.length - m1.syms.length);
    const records = new Map([
      [7, modelRecord(m1)],
      [8, rec],
    ]);
    expect(resolveModel(records, 8)).toEqual(m2);
    expect(resolveModel(new Map([[8, rec]]), 8)).toBeNull();
    expect(
      resolveModel(
        new Map([
          [7, { ...modelRecord(m1), base: 8 }],
          [8, rec],
        ]),
        8,
      ),
    ).toBeNull();
  });

  it('keeps code lengths within MAX_LEN for very skewed counts', () => {
    const fib = [1, 1];
    while (fib.length < 60) fib.push(fib[fib.length - 1] + fib[fib.length - 2]);
    const lens = huffmanLengths(fib.map((x) => Math.min(x, 0xffffffff)));
    expect(Math.max(...lens)).toBeLessThanOrEqual(MAX_LEN);
    expect(lens.reduce((a, l) => a + 2 ** -l, 0)).toBeLessThanOrEqual(1);
  });

  it('refuses damaged groups: lengths that do not add up, cut or altered documents, a damaged model', () => {
    const model = trainModel(['one two three', 'four five']);
    const { bytes } = new TextEncoderModel(model).encode([['one two three'], ['four five six'], null]);
    const m = decoderModel(model)!;
    expect(docSpans(bytes, 4)).toBeNull();
    expect(docSpans(bytes.slice(0, -1), 3)).toBeNull();
    const at = docSpans(bytes, 3)!;
    expect(() => decodeDoc(bytes, at[0], at[1] - 1, m)).toThrow(TextCodeError);
    expect(() => decodeDoc(bytes, at[2], at[2], m)).toThrow(TextCodeError);
    expect(decoderModel({ ...model, lens: model.lens.map(() => 1) })).toBeNull();
    expect(decoderModel({ ...model, syms: [...model.syms, 'x'] })).toBeNull();
    expect(() => new TextEncoderModel(model).encode([['x', [[-1, 2]]]])).toThrow(/chunk span bound -1/);
  });
});
