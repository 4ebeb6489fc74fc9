/**
 * Word-level static Huffman code for document texts ("Huffword", Witten, Moffat & Bell, Managing Gigabytes),
 * the decoding half (the search path; training and encoding are in text-code-pack.ts, loaded on the first
 * write). A text is a sequence of alternating word and non-word runs; each run is one symbol of a canonical
 * Huffman code trained on an index's texts (a TextModel, stored once), a single space between two words is
 * implied (not coded), and a run the model lacks is spelled out unit by unit with a second code over UTF-16
 * code units (any unit, lone surrogates included, round-trips). A group of documents decodes synchronously
 * from one small byte array: no DecompressionStream and no JSON.parse on a query.
 *
 * Bits, most significant first. Per document: 2 bits (0 = no document, 1 = text, 2 = text + chunk spans),
 * the spans when present (count, then each bound, as 7-bit groups), the text's symbols and END.
 */

/** A trained code: run symbols from SYM0 on, UTF-16 units from UNIT0 on. */
export interface TextModel {
  /** Runs (words and non-words), in symbol order from SYM0. */
  syms: string[];
  /** Code length per symbol (specials first), 0 = unused. */
  lens: Uint8Array;
  /** Code units spelled in literal runs, in unit-symbol order from UNIT0. */
  units: Uint16Array;
  /** Code length per unit symbol (specials first). */
  unitLens: Uint8Array;
  /** Documents, run symbols and unit symbols trained on (a retraining takes count ≈ total·2^-length as the old counts). */
  docs: number;
  total: number;
  unitTotal: number;
}

/**
 * A model as stored: a successor names its `base` and holds only the runs it adds (its syms follow the base's),
 * so retraining stores new vocabulary, not all of it again.
 */
export interface TextModelRecord extends Omit<TextModel, 'syms'> {
  base?: number;
  syms: string[];
}

/** Model `id` of `records` with its bases' runs put back; null when the chain is broken or inconsistent. */
export function resolveModel(records: Map<number, TextModelRecord>, id: number): TextModel | null {
  const chain: TextModelRecord[] = [];
  for (let at: number | undefined = id; at !== undefined; at = chain[chain.length - 1].base) {
    const r = records.get(at);
    if (!r || !Array.isArray(r.syms) || chain.length > records.size) return null;
    chain.push(r);
  }
  const syms = chain.reverse().flatMap((r) => r.syms);
  const top = chain[chain.length - 1];
  const { base: _, ...model } = top;
  return model.lens instanceof Uint8Array && model.lens.length === SYM0 + syms.length ? { ...model, syms } : null;
}

/** Run-code specials: end of a document's text, a literal word run, a literal non-word run. */
export const END = 0;
export const LIT_WORD = 1;
export const LIT_GAP = 2;
export const SYM0 = 3;
/** Unit-code specials: end of a literal run, a unit outside the model (16 raw bits follow). */
export const LIT_END = 0;
export const RAW_UNIT = 1;
export const UNIT0 = 2;
/** Longest code length a model may have (the decoder peeks 24 bits). */
export const MAX_LEN = 24;
/** Bits the decoder's first lookup resolves (a table of 2^FAST entries per code). */
const FAST = 14;

/** Whether a UTF-16 unit belongs to a word run: ASCII letters and digits, and anything from U+00C0 up but punctuation blocks. */
export function isWordUnit(c: number): boolean {
  if (c < 0xc0) return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
  return !((c >= 0x2000 && c <= 0x206f) || (c >= 0x3000 && c <= 0x303f) || (c >= 0xff00 && c <= 0xff0f));
}

/** Canonical code over `lens`: per symbol its code (for the encoder), and the decoder's tables. */
export interface Canonical {
  codes: Uint32Array;
  /** First FAST bits → (symbol << 5) | length, 0 when the code is longer. */
  fast: Int32Array;
  first: Int32Array;
  count: Int32Array;
  offset: Int32Array;
  sorted: Int32Array;
  maxLen: number;
}

/** Builds the canonical code of `lens`; null when the lengths cannot be a prefix code (a damaged model). */
export function canonical(lens: Uint8Array): Canonical | null {
  const count = new Int32Array(MAX_LEN + 2);
  let maxLen = 0;
  for (const l of lens) {
    if (l > MAX_LEN) return null;
    if (l) {
      count[l]++;
      if (l > maxLen) maxLen = l;
    }
  }
  let kraft = 0;
  for (let l = 1; l <= MAX_LEN; l++) kraft += count[l] / 2 ** l;
  if (kraft > 1 + 1e-12) return null;
  const first = new Int32Array(MAX_LEN + 2);
  const offset = new Int32Array(MAX_LEN + 2);
  for (let l = 1, code = 0, off = 0; l <= MAX_LEN; l++) {
    code = (code + count[l - 1]) << 1;
    first[l] = code;
    offset[l] = off;
    off += count[l];
  }
  const sorted = new Int32Array(lens.length);
  const next = offset.slice();
  const codes = new Uint32Array(lens.length);
  for (let s = 0; s < lens.length; s++) {
    const l = lens[s];
    if (!l) continue;
    const k = next[l]++;
    sorted[k] = s;
    codes[s] = first[l] + (k - offset[l]);
  }
  const fast = new Int32Array(1 << FAST);
  for (let s = 0; s < lens.length; s++) {
    const l = lens[s];
    if (!l || l > FAST) continue;
    const lo = codes[s] << (FAST - l);
    fast.fill((s << 5) | l, lo, lo + (1 << (FAST - l)));
  }
  return { codes, fast, first, count, offset, sorted, maxLen };
}

/** A model ready to decode. */
export interface TextDecoderModel {
  runs: Canonical;
  units: Canonical;
  syms: string[];
  wordSym: Uint8Array;
  unitOf: Uint16Array;
}

/** A stored model checked and made ready to decode; null when it is not a consistent model. */
export function decoderModel(m: TextModel): TextDecoderModel | null {
  if (!m || !Array.isArray(m.syms) || !(m.lens instanceof Uint8Array) || !(m.units instanceof Uint16Array) || !(m.unitLens instanceof Uint8Array)) return null;
  if (m.lens.length !== SYM0 + m.syms.length || m.unitLens.length !== UNIT0 + m.units.length) return null;
  if (m.syms.some((s) => typeof s !== 'string' || s.length === 0)) return null;
  const runs = canonical(m.lens);
  const units = canonical(m.unitLens);
  if (!runs || !units) return null;
  const wordSym = new Uint8Array(m.syms.length);
  m.syms.forEach((s, i) => (wordSym[i] = isWordUnit(s.charCodeAt(0)) ? 1 : 0));
  return { runs, units, syms: m.syms, wordSym, unitOf: m.units };
}

/** A coded group that does not decode (a damaged record); the store names the record. */
export class TextCodeError extends Error {}

/** Per document: [text] or [text, chunk spans]; null for a row with no document. */
export type CodedEntry = [string] | [string, [number, number][]] | null;

/**
 * A coded group: the byte lengths of its n documents (7-bit groups, low first, high bit = more), then each
 * document's bits from a byte boundary. `docSpans` finds where each document lies; null when the header does
 * not add up to the record (damaged).
 */
export function docSpans(bytes: Uint8Array, n: number): Int32Array | null {
  const at = new Int32Array(n + 1);
  let p = 0;
  const lens: number[] = [];
  for (let d = 0; d < n; d++) {
    let v = 0;
    for (let shift = 0; ; shift += 7) {
      if (p >= bytes.length || shift > 28) return null;
      const x = bytes[p++];
      v += (x & 127) * 2 ** shift;
      if (x < 128) break;
    }
    lens.push(v);
  }
  at[0] = p;
  for (let d = 0; d < n; d++) at[d + 1] = at[d] + lens[d];
  return at[n] === bytes.length ? at : null;
}

/** 24 bits of `b` from bit `pos` on (b padded with 4 bytes past the end). */
function peek24(b: Uint8Array, pos: number): number {
  const i = pos >>> 3;
  return ((((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) << (pos & 7)) >>> 8) >>> 0;
}

/** The symbol of a code longer than FAST bits at the front of `v`, as (symbol << 5) | length. */
function longCode(c: Canonical, v: number): number {
  for (let l = FAST + 1; l <= c.maxLen; l++) {
    const k = (v >>> (24 - l)) - c.first[l];
    if (k >= 0 && k < c.count[l]) return (c.sorted[c.offset[l] + k] << 5) | l;
  }
  throw new TextCodeError('no code matches the bits');
}

/** A number written as 7-bit groups after a continue bit each, from bit pos[0] on (pos[0] advanced). */
function varBits(b: Uint8Array, pos: number[]): number {
  let v = 0;
  for (let scale = 1, k = 0; k < 5; k++, scale *= 128) {
    const x = peek24(b, pos[0]) >>> 16;
    pos[0] += 8;
    v += (x & 127) * scale;
    if (x < 128) return v;
  }
  throw new TextCodeError('a number runs past 5 groups');
}

/**
 * Decodes the document in bytes[from, to); throws TextCodeError unless its bits decode to one document that
 * ends in its last byte. The hot loop keeps the bit position in a local: closures over it (a context slot)
 * measured several times slower per symbol in V8.
 */
export function decodeDoc(bytes: Uint8Array, from: number, to: number, m: TextDecoderModel): CodedEntry {
  // A copy padded with 4 zero bytes: the 32-bit peek never leaves the array.
  const b = new Uint8Array(to - from + 4);
  b.set(bytes.subarray(from, to));
  const end = (to - from) * 8;
  let pos = 2;
  const tag = peek24(b, 0) >>> 22;
  if (tag === 0) return to - from === 1 ? null : fail('bits after an empty row');
  if (tag > 2) fail(`bad document tag ${tag}`);
  let spans: [number, number][] | undefined;
  if (tag === 2) {
    const at = [pos];
    const c = varBits(b, at);
    if (c > end) fail('a span count larger than the record');
    spans = [];
    for (let i = 0; i < c && at[0] <= end; i++) spans.push([varBits(b, at), varBits(b, at)]);
    pos = at[0];
  }
  const { runs, units, syms, wordSym, unitOf } = m;
  const fast = runs.fast;
  const ufast = units.fast;
  let text = '';
  let prevWord = false;
  for (;;) {
    const v = peek24(b, pos);
    const f = fast[v >>> (24 - FAST)] || longCode(runs, v);
    pos += f & 31;
    const s = f >>> 5;
    if (pos > end) fail('the record ends inside a text');
    if (s === END) break;
    let word: boolean;
    let run: string;
    if (s >= SYM0) {
      run = syms[s - SYM0];
      word = wordSym[s - SYM0] === 1;
    } else {
      word = s === LIT_WORD;
      const us: number[] = [];
      for (;;) {
        const w = peek24(b, pos);
        const g = ufast[w >>> (24 - FAST)] || longCode(units, w);
        pos += g & 31;
        const u = g >>> 5;
        if (u === LIT_END) break;
        if (u === RAW_UNIT) {
          us.push(peek24(b, pos) >>> 8);
          pos += 16;
        } else us.push(unitOf[u - UNIT0]);
        if (pos > end) fail('the record ends inside a literal');
      }
      if (!us.length) fail('an empty literal run');
      run = '';
      for (let k = 0; k < us.length; k += 4096) run += String.fromCharCode(...us.slice(k, k + 4096));
    }
    text += prevWord && word ? ` ${run}` : run;
    prevWord = word;
  }
  if ((pos + 7) >>> 3 !== to - from) fail('the document does not end where its length says');
  return spans ? [text, spans] : [text];
}

function fail(why: string): never {
  throw new TextCodeError(why);
}
