/**
 * How IdbStore packs texts on a write (loaded on the first write, never on the search path): with the index's
 * text model (text-code.ts) when it has one; the first batch large enough trains it, and a later batch that
 * the model would mostly spell out letter by letter (new vocabulary) trains a successor on both. Batches
 * before any model are deflated as IndexedDB <= 7 did.
 */
import { packEntries, TEXT_GROUP, type TextEntry } from './idb-text-groups.ts';
import type { TextModel } from './text-code.ts';
import { TextEncoderModel, trainModel } from './text-code-pack.ts';

/** A batch trains a model only with this many documents and characters (a tiny one would fit nothing else). */
const TRAIN_MIN_DOCS = 200;
const TRAIN_MIN_CHARS = 20_000;
/**
 * Retrain when more than this share of a batch's bits spell runs the model lacks. Measured on the bench
 * workload (npx tsx bench/text-code-ab.ts): 0.1 keeps ~6 models at 100k, texts ~99 B/doc + models ~17.
 */
const RETRAIN_LITERAL_SHARE = 0.1;

interface Current {
  id: number;
  model: TextModel;
  enc: TextEncoderModel;
}

export class TextPacker {
  private current: Current | null = null;
  private models = new Map<number, TextModel>();

  /** `stored`: the index's model records (id → model), read once on the first pack. */
  constructor(stored: Map<number, TextModel>) {
    this.models = new Map(stored);
    // The model trained on the most documents is the one to extend.
    let best: [number, TextModel] | null = null;
    for (const e of stored) if (!best || e[1].counts[0] > best[1].counts[0]) best = e;
    if (best) this.current = { id: best[0], model: best[1], enc: new TextEncoderModel(best[1]) };
  }

  /** A model this packer made or read, for the record that must go with the groups coded with it. */
  model(id: number): TextModel | undefined {
    return this.models.get(id);
  }

  async pack(entries: TextEntry[]): Promise<{ parts: Uint8Array[]; model?: number }> {
    const texts = entries.filter((e) => e !== null).map((e) => e[0]);
    const big = texts.length >= TRAIN_MIN_DOCS && texts.reduce((a, t) => a + t.length, 0) >= TRAIN_MIN_CHARS;
    if (!this.current) {
      if (!big) return { parts: await packEntries(entries) };
      this.adopt(trainModel(texts));
    }
    let coded = this.code(entries, this.current!);
    if (big && coded.literalShare > RETRAIN_LITERAL_SHARE) {
      this.adopt(trainModel(texts, this.current!.model));
      coded = this.code(entries, this.current!);
    }
    return { parts: coded.parts, model: this.current!.id };
  }

  private adopt(model: TextModel): void {
    // Random ids: two tabs (or processes) may train at once; each group names its own model.
    let id: number;
    do id = Math.floor(Math.random() * 2 ** 52);
    while (this.models.has(id));
    this.models.set(id, model);
    this.current = { id, model, enc: new TextEncoderModel(model) };
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
