/**
 * Training and encoding of the word-level text code (text-code.ts says the format). Write-only: loaded with
 * the segment builders on the first write, never on the search path.
 */
import {
  type CodedEntry,
  canonical,
  END,
  isWordUnit,
  LIT_END,
  LIT_GAP,
  LIT_WORD,
  MAX_LEN,
  RAW_UNIT,
  SYM0,
  type TextModel,
  type TextModelRecord,
  UNIT0,
} from './text-code.ts';

/** Runs longer than this are kept out of a model when seen once (a URL, a sentence of CJK). */
const ONE_OFF_MAX = 24;
/** Most run symbols and unit symbols a model holds. */
const MAX_SYMS = 1 << 16;
const MAX_UNITS = 1 << 12;

/**
 * Word units as a regular expression over UTF-16 units (no `u` flag: lone surrogates are units like any
 * other): the same set as isWordUnit, which a test checks unit by unit. A regex split measured several times
 * faster than a loop over isWordUnit.
 */
export const WORD_CLASS = '0-9A-Za-z\\u00c0-\\u1fff\\u2070-\\u2fff\\u3040-\\ufeff\\uff10-\\uffff';
const RUNS = new RegExp(`[${WORD_CLASS}]+|[^${WORD_CLASS}]+`, 'g');

/** Splits a text into its maximal word and non-word runs, in order. */
export function runsOf(text: string): string[] {
  return text.match(RUNS) ?? [];
}

/** Code lengths of a Huffman code for `counts` (all ≥ 1), at most MAX_LEN bits (counts flattened until they fit). */
export function huffmanLengths(counts: ArrayLike<number>): Uint8Array {
  const n = counts.length;
  let w = Float64Array.from(counts, (c) => Math.max(1, c));
  for (;;) {
    const lens = treeLengths(w);
    if (lens.every((l) => l <= MAX_LEN)) return lens;
    w = w.map((c) => Math.max(1, Math.floor(c / 2)));
    if (n > 2 ** MAX_LEN) throw new Error('text code: too many symbols');
  }
}

/** Huffman tree depths by the two-queue method over the weights sorted ascending. */
function treeLengths(w: Float64Array): Uint8Array {
  const n = w.length;
  const lens = new Uint8Array(n);
  if (n === 1) {
    lens[0] = 1;
    return lens;
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => w[a] - w[b]);
  // Nodes: 0..n-1 leaves (in `order`), n..2n-2 internal; parent links give the depths.
  const weight = new Float64Array(2 * n - 1);
  const parent = new Int32Array(2 * n - 1);
  for (let i = 0; i < n; i++) weight[i] = w[order[i]];
  let leaf = 0;
  let inner = n;
  let made = n;
  const take = () => (leaf < n && (inner >= made || weight[leaf] <= weight[inner]) ? leaf++ : inner++);
  for (; made < 2 * n - 1; made++) {
    const a = take();
    const b = take();
    weight[made] = weight[a] + weight[b];
    parent[a] = made;
    parent[b] = made;
  }
  const depth = new Uint8Array(2 * n - 1);
  for (let k = 2 * n - 3; k >= 0; k--) depth[k] = depth[parent[k]] + 1;
  for (let i = 0; i < n; i++) lens[order[i]] = depth[i];
  return lens;
}

/** How often each run is coded in `texts` (a space between two words is implied, never coded). */
function tally(texts: string[]): Map<string, number> {
  const runs = new Map<string, number>();
  for (const t of texts) {
    const rs = runsOf(t);
    for (let i = 0; i < rs.length; i++) if (!(rs[i] === ' ' && i > 0 && i + 1 < rs.length)) runs.set(rs[i], (runs.get(rs[i]) ?? 0) + 1);
  }
  return runs;
}

/** Counts a model's code lengths stand for (count ≈ total·2^-length). */
const countsOf = (lens: Uint8Array, total: number) => Array.from(lens, (l) => (l ? total * 2 ** -l : 0));

/**
 * A model trained on `texts`, extending `base` when given (its symbols first, in its order, with the counts
 * its code lengths stand for): every run seen twice, or once when short, up to MAX_SYMS; the literal units
 * of the runs left out and of the rare ones kept.
 */
export function trainModel(texts: string[], base?: TextModel): TextModel {
  const runs = tally(texts);
  const baseCounts = base ? countsOf(base.lens, base.total) : [1, 1, 1];
  const counts: number[] = baseCounts.slice(0, SYM0);
  counts[END] += texts.length;
  const syms: string[] = [];
  const kept = new Set<string>();
  base?.syms.forEach((s, i) => {
    syms.push(s);
    kept.add(s);
    counts.push(baseCounts[SYM0 + i] + (runs.get(s) ?? 0));
  });
  const fresh = [...runs].filter(([s, c]) => !kept.has(s) && (c >= 2 || s.length <= ONE_OFF_MAX)).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  for (const [s, c] of fresh.slice(0, Math.max(0, MAX_SYMS - syms.length))) {
    syms.push(s);
    kept.add(s);
    counts.push(c);
  }
  const baseUnits = base ? countsOf(base.unitLens, base.unitTotal) : [1, 1];
  const unitCount = new Map<number, number>();
  base?.units.forEach((u, i) => unitCount.set(u, baseUnits[UNIT0 + i]));
  let litEnd = baseUnits[LIT_END];
  for (const [s, c] of runs) {
    // Runs left out are spelled with the unit code; rare runs kept are counted too, as the likeliest
    // spelling of runs later texts bring that the model lacks.
    if (!kept.has(s)) {
      counts[isWordUnit(s.charCodeAt(0)) ? LIT_WORD : LIT_GAP] += c;
      litEnd += c;
    } else if (c > 2) continue;
    for (let i = 0; i < s.length; i++) unitCount.set(s.charCodeAt(i), (unitCount.get(s.charCodeAt(i)) ?? 0) + c);
  }
  // The base's units keep their order (a successor's units extend them); new ones follow by count.
  const baseSet = new Set(base?.units ?? []);
  const us = [
    ...(base?.units ?? []),
    ...[...unitCount]
      .filter(([u]) => !baseSet.has(u))
      .sort((a, b) => b[1] - a[1] || a[0] - b[0])
      .map(([u]) => u),
  ].slice(0, MAX_UNITS);
  const unitCounts = [litEnd, baseUnits[RAW_UNIT], ...us.map((u) => unitCount.get(u)!)];
  return {
    syms,
    lens: huffmanLengths(counts),
    units: Uint16Array.from(us),
    unitLens: huffmanLengths(unitCounts),
    docs: (base?.docs ?? 0) + texts.length,
    total: counts.reduce((a, c) => a + c, 0),
    unitTotal: unitCounts.reduce((a, c) => a + c, 0),
  };
}

/** The stored form of `model`: the runs it adds to `base` (its first syms are the base's), with the base's id. */
export function modelRecord(model: TextModel, base?: { id: number; model: TextModel }): TextModelRecord {
  return base ? { ...model, base: base.id, syms: model.syms.slice(base.model.syms.length) } : model;
}

/** Writes bits, most significant first. */
class BitWriter {
  private buf = new Uint8Array(256);
  private len = 0;
  private acc = 0;
  private nacc = 0;
  /** Bits written that were literal units (the share tells a stale model). */
  literalBits = 0;

  bits(v: number, n: number): void {
    // n ≤ 24: the accumulator holds < 8 pending bits plus n.
    this.acc = (this.acc << n) | v;
    this.nacc += n;
    while (this.nacc >= 8) {
      this.nacc -= 8;
      this.byte((this.acc >>> this.nacc) & 255);
    }
    this.acc &= (1 << this.nacc) - 1;
  }

  varBits(v: number): void {
    if (!Number.isSafeInteger(v) || v < 0 || v >= 2 ** 35) throw new Error(`text code: chunk span bound ${v} is not an integer in [0, 2^35)`);
    for (;;) {
      const low = v % 128;
      v = Math.floor(v / 128);
      this.bits((v ? 128 : 0) | low, 8);
      if (!v) return;
    }
  }

  private byte(b: number): void {
    if (this.len === this.buf.length) {
      const g = new Uint8Array(this.buf.length * 2);
      g.set(this.buf);
      this.buf = g;
    }
    this.buf[this.len++] = b;
  }

  get bitLength(): number {
    return this.len * 8 + this.nacc;
  }

  finish(): Uint8Array {
    if (this.nacc) this.bits(0, 8 - this.nacc);
    return this.buf.slice(0, this.len);
  }
}

/** A model ready to encode. */
export class TextEncoderModel {
  private readonly runCodes: Uint32Array;
  private readonly runLens: Uint8Array;
  private readonly unitCodes: Uint32Array;
  private readonly symOf = new Map<string, number>();
  private readonly unitSym = new Map<number, number>();

  constructor(readonly model: TextModel) {
    const runs = canonical(model.lens);
    const units = canonical(model.unitLens);
    if (!runs || !units) throw new Error('text code: the model is not a prefix code');
    this.runCodes = runs.codes;
    this.runLens = model.lens;
    this.unitCodes = units.codes;
    model.syms.forEach((s, i) => this.symOf.set(s, SYM0 + i));
    model.units.forEach((u, i) => this.unitSym.set(u, UNIT0 + i));
  }

  /**
   * One group's documents coded (text-code.ts, docSpans: the documents' byte lengths, then each document
   * from a byte boundary); `literalShare` is the fraction of its bits spent spelling runs out.
   */
  encode(entries: CodedEntry[]): { bytes: Uint8Array; literalShare: number } {
    const docs: Uint8Array[] = [];
    let bits = 0;
    let literal = 0;
    for (const e of entries) {
      const w = new BitWriter();
      if (!e) w.bits(0, 2);
      else {
        const spans = e[1];
        w.bits(spans ? 2 : 1, 2);
        if (spans) {
          w.varBits(spans.length);
          for (const [a, b] of spans) {
            w.varBits(a);
            w.varBits(b);
          }
        }
        this.text(w, e[0]);
      }
      bits += w.bitLength;
      literal += w.literalBits;
      docs.push(w.finish());
    }
    const head: number[] = [];
    for (const d of docs) {
      let v = d.length;
      while (v >= 128) {
        head.push((v % 128) | 128);
        v = Math.floor(v / 128);
      }
      head.push(v);
    }
    const out = new Uint8Array(head.length + docs.reduce((a, d) => a + d.length, 0));
    out.set(head);
    let at = head.length;
    for (const d of docs) {
      out.set(d, at);
      at += d.length;
    }
    return { bytes: out, literalShare: bits ? literal / bits : 0 };
  }

  private sym(w: BitWriter, s: number): void {
    w.bits(this.runCodes[s], this.model.lens[s]);
  }

  private text(w: BitWriter, text: string): void {
    const rs = runsOf(text);
    for (let i = 0; i < rs.length; i++) {
      const r = rs[i];
      // The implied space between two words (runs alternate: a gap run inside the text has words on both sides).
      if (r === ' ' && i > 0 && i + 1 < rs.length) continue;
      const s = this.symOf.get(r);
      if (s !== undefined) {
        w.bits(this.runCodes[s], this.runLens[s]);
        continue;
      }
      const before = w.bitLength;
      this.sym(w, isWordUnit(r.charCodeAt(0)) ? LIT_WORD : LIT_GAP);
      for (let k = 0; k < r.length; k++) {
        const c = r.charCodeAt(k);
        const u = this.unitSym.get(c);
        if (u !== undefined) w.bits(this.unitCodes[u], this.model.unitLens[u]);
        else {
          w.bits(this.unitCodes[RAW_UNIT], this.model.unitLens[RAW_UNIT]);
          w.bits(c, 16);
        }
      }
      w.bits(this.unitCodes[LIT_END], this.model.unitLens[LIT_END]);
      w.literalBits += w.bitLength - before;
    }
    this.sym(w, END);
  }
}
