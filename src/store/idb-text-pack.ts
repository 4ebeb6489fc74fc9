/**
 * How IdbStore packs texts on a write (loaded on the first write, never on the search path): with the index's
 * text model (text-code.ts) when it has one; the first batch large enough trains it, and a later batch that
 * the model would mostly spell out letter by letter (new vocabulary) trains a successor on both. Batches
 * before any model are deflated as IndexedDB <= 7 did.
 */
import { MODEL_SEQ, TEXT_GROUP, type TextBlock, type TextEntry } from './idb-text-groups.ts';
import { resolveModel, type TextModel, type TextModelRecord } from './text-code.ts';
import { modelRecord, TextEncoderModel, trainModel } from './text-code-pack.ts';
import type { DocRecord, MetaRecord, PackedTexts, SegmentRecord } from './types.ts';

/** How a store packs one segment's entries (in order): groups coded with a model, or deflated (no model). */
type PackEntries = (entries: TextEntry[]) => Promise<{ parts: Uint8Array[]; model?: number }>;

/** A batch trains a model only with this many documents and characters (a tiny one would fit nothing else). */
const TRAIN_MIN_DOCS = 200;
const TRAIN_MIN_CHARS = 20_000;
/**
 * Retrain when more than this share of a batch's bits spell runs the model lacks, and the model has coded as
 * many documents as it was trained on (so models come at ~1k, 2k, 4k, … documents, each storing only the runs
 * it adds). Measured on the bench workload: `npx tsx bench/text-code-ab.ts`.
 */
const RETRAIN_LITERAL_SHARE = 0.1;

interface Current {
  id: number;
  model: TextModel;
  enc: TextEncoderModel;
  /** Documents coded with it so far. */
  coded: number;
}

export class TextPacker {
  private current: Current | null = null;
  private readonly records: Map<number, TextModelRecord>;
  private readonly models = new Map<number, TextModel>();

  /** `stored`: the index's model records (id → record), read once on the first pack. */
  constructor(stored: Map<number, TextModelRecord>) {
    this.records = new Map(stored);
    // The model trained on the most documents is the one to extend.
    let best: [number, TextModel] | null = null;
    for (const id of stored.keys()) {
      const m = resolveModel(stored, id);
      if (m && (!best || m.docs > best[1].docs)) best = [id, m];
    }
    if (best) this.use(best[0], best[1]);
  }

  /** The stored form of a model this packer made or read (groups coded with it need it and its bases). */
  record(id: number): TextModelRecord | undefined {
    return this.records.get(id);
  }

  /**
   * Text blocks of `segments` (textBlocks), plus the records of the models they are coded with, and of
   * those models' bases, that are not in `saved` (known to be in the database); a record is found here or in
   * `made` (records of batches packed by an earlier packer of the connection).
   */
  async blocks(
    segments: SegmentRecord[],
    given: Map<string, DocRecord>,
    meta: MetaRecord,
    getDocs: (ids: string[]) => Promise<(DocRecord | undefined)[]>,
    packed: (PackedTexts | undefined)[],
    saved: Set<number>,
    made: Map<number, TextModelRecord>,
  ): Promise<TextBlock[]> {
    const blocks = await textBlocks(segments, given, meta, getDocs, packed, (entries) => this.pack(entries));
    const put = new Set<number>();
    for (const id of new Set(blocks.map((b) => b.m).filter((m) => m !== undefined))) {
      for (let at: number | undefined = id; at !== undefined && !saved.has(at) && !put.has(at); ) {
        const model: TextModelRecord | undefined = this.records.get(at) ?? made.get(at);
        if (!model) throw new Error(`IdbStore: texts coded with text model ${at}, which this connection does not hold`);
        blocks.push({ seq: MODEL_SEQ, g: at, model });
        put.add(at);
        at = model.base;
      }
    }
    return blocks;
  }

  async pack(entries: TextEntry[]): Promise<{ parts: Uint8Array[]; model?: number }> {
    const texts = entries.filter((e) => e !== null).map((e) => e[0]);
    const big = texts.length >= TRAIN_MIN_DOCS && texts.reduce((a, t) => a + t.length, 0) >= TRAIN_MIN_CHARS;
    let cur = this.current;
    if (!cur) {
      if (!big) return { parts: await packEntries(entries) };
      cur = this.adopt(trainModel(texts));
    }
    let coded = this.code(entries, cur);
    if (big && coded.literalShare > RETRAIN_LITERAL_SHARE && cur.coded >= cur.model.docs) {
      cur = this.adopt(trainModel(texts, cur.model), cur);
      coded = this.code(entries, cur);
    }
    cur.coded += entries.length;
    return { parts: coded.parts, model: cur.id };
  }

  private use(id: number, model: TextModel): Current {
    this.models.set(id, model);
    this.current = { id, model, enc: new TextEncoderModel(model), coded: 0 };
    return this.current;
  }

  private adopt(model: TextModel, base?: Current): Current {
    // Random ids: two tabs (or processes) may train at once; each group names its own model.
    let id: number;
    do id = Math.floor(Math.random() * 2 ** 52);
    while (this.records.has(id));
    this.records.set(id, modelRecord(model, base));
    return this.use(id, model);
  }

  private code(entries: TextEntry[], cur: Current): { parts: Uint8Array[]; literalShare: number } {
    const parts: Uint8Array[] = [];
    let literal = 0;
    let bytes = 0;
    for (let g = 0; g * TEXT_GROUP < entries.length; g++) {
      const r = cur.enc.encode(entries.slice(g * TEXT_GROUP, (g + 1) * TEXT_GROUP));
      parts.push(r.bytes);
      literal += r.literalShare * r.bytes.length;
      bytes += r.bytes.length;
    }
    return { parts, literalShare: bytes ? literal / bytes : 0 };
  }
}

/**
 * Text blocks of `segments`, built and compressed before a transaction opens (a transaction with nothing
 * queued auto-commits across an await), unless `packed` holds them already (IdbStore.packTexts, for the same
 * ids in the same order: ingest packs them before the write lock). Documents not in `given` (compaction, head
 * rewrites) are carried over from the blocks they live in now (read with `getDocs`); rows dead in `meta` (an
 * imported package keeps its tombstones) have none.
 */
async function textBlocks(
  segments: SegmentRecord[],
  given: Map<string, DocRecord>,
  meta: MetaRecord,
  getDocs: (ids: string[]) => Promise<(DocRecord | undefined)[]>,
  packed: (PackedTexts | undefined)[],
  pack: PackEntries,
): Promise<TextBlock[]> {
  const blocks: TextBlock[] = [];
  let deadAfter: Set<number> | null = null;
  for (const [j, seg] of segments.entries()) {
    const p = packed[j];
    if (p) {
      if (p.ids.length !== seg.ids.length || p.ids.some((id, i) => id !== seg.ids[i])) throw new Error('IdbStore: packed texts do not match their segment');
      blocks.push(...groupBlocks(seg.seq, p.parts, p.model, p.ids.length));
      continue;
    }
    const need = seg.ids.filter((id) => !given.has(id));
    const old = need.length ? await getDocs(need) : [];
    const carried = new Map(need.map((id, i) => [id, old[i]]));
    const entries: TextEntry[] = seg.ids.map((id, i) => {
      const d = given.get(id) ?? carried.get(id);
      if (!d || d.key !== seg.keys[i]) {
        deadAfter ??= new Set(meta.tombstones);
        if (deadAfter.has(seg.keys[i])) return null;
        throw new Error(`IdbStore: no document record for "${id}"`);
      }
      return d.chunks ? [d.text, d.chunks.spans] : [d.text];
    });
    const made = await pack(entries);
    blocks.push(...groupBlocks(seg.seq, made.parts, made.model, entries.length));
  }
  return blocks;
}

/** The records of one segment's packed groups (IdbStore seals the coded ones with their CRC-32). */
function groupBlocks(seq: number, parts: Uint8Array[], model: number | undefined, rows: number): TextBlock[] {
  return parts.map((part, g) => (model === undefined ? { seq, g, z: part } : { seq, g, c: part, m: model, n: Math.min(TEXT_GROUP, rows - g * TEXT_GROUP) }));
}

/** One deflated block per TEXT_GROUP entries, in order. */
function packEntries(entries: TextEntry[]): Promise<Uint8Array[]> {
  const groups: Promise<Uint8Array>[] = [];
  for (let g = 0; g * TEXT_GROUP < entries.length; g++) groups.push(deflateEntries(entries.slice(g * TEXT_GROUP, (g + 1) * TEXT_GROUP)));
  return Promise.all(groups);
}

async function deflateEntries(entries: TextEntry[]): Promise<Uint8Array> {
  // Into the stream's writer and out of its reader, like inflateEntries: no Blob or Response around it
  // (measured 1.6-1.9× less time per group in Chromium; ingest deflates a group per 32 documents).
  const cs = new CompressionStream('deflate-raw');
  const w = cs.writable.getWriter();
  w.write(new TextEncoder().encode(JSON.stringify(entries))).catch(() => {});
  w.close().catch(() => {});
  const r = cs.readable.getReader();
  const parts: Uint8Array[] = [];
  let bytes = 0;
  for (;;) {
    const { done, value } = await r.read();
    if (done) break;
    parts.push(value);
    bytes += value.length;
  }
  // A chunk may view a larger buffer (Node's zlib slices its output), and IndexedDB would store all of it.
  const one = parts.length === 1 ? parts[0] : null;
  if (one) return one.byteOffset === 0 && one.byteLength === one.buffer.byteLength ? one : one.slice();
  const out = new Uint8Array(bytes);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
