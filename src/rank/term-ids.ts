/**
 * Term ids for a batch of texts (store/bm25-batch.ts): each distinct term gets the next number. Words of
 * plain-ASCII texts are first looked up by their characters in a table of the surfaces seen (`Wing`, `wing's`
 * → the id of `wing`; a stop word → −1), so a word seen before costs no string, lower-casing, stemming or
 * map lookup. A surface's term depends on its characters and the options only, so the answers are the same.
 */
export class TermIds {
  readonly names: string[] = [];
  private readonly byName = new Map<string, number>();
  private slots = new Int32Array(1 << 12).fill(-1);
  private start = new Uint32Array(1 << 11);
  private len = new Uint32Array(1 << 11);
  private hash = new Int32Array(1 << 11);
  private id = new Int32Array(1 << 11);
  private pool = new Uint16Array(1 << 14);
  private used = 0;
  private count = 0;
  /** Where the last missed lookup would go. */
  private missHash = 0;
  private missSlot = 0;

  /** The id of a term. */
  of(term: string): number {
    let id = this.byName.get(term);
    if (id === undefined) {
      id = this.names.length;
      this.names.push(term);
      this.byName.set(term, id);
    }
    return id;
  }

  /** The id for text[start, end) as a surface seen before (−1: no term), or MISS. */
  lookup(text: string, start: number, end: number): number {
    let h = 0x811c9dc5 | 0;
    for (let i = start; i < end; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
    const mask = this.slots.length - 1;
    const n = end - start;
    for (let s = h & mask; ; s = (s + 1) & mask) {
      const e = this.slots[s];
      if (e < 0) {
        this.missHash = h;
        this.missSlot = s;
        return TermIds.MISS;
      }
      if (this.hash[e] !== h || this.len[e] !== n) continue;
      const at = this.start[e];
      let i = 0;
      while (i < n && this.pool[at + i] === text.charCodeAt(start + i)) i++;
      if (i === n) return this.id[e];
    }
  }

  /** Records text[start, end) (just looked up and missed) as the surface of `term` ('' = none); returns its id. */
  insert(text: string, start: number, end: number, term: string): number {
    const id = term ? this.of(term) : -1;
    const n = end - start;
    const e = this.count++;
    if (e === this.id.length) {
      const cap = e * 2;
      this.start = grown(this.start, new Uint32Array(cap));
      this.len = grown(this.len, new Uint32Array(cap));
      this.hash = grown(this.hash, new Int32Array(cap));
      this.id = grown(this.id, new Int32Array(cap));
    }
    if (this.used + n > this.pool.length) {
      const pool = new Uint16Array(Math.max(this.pool.length * 2, this.used + n));
      pool.set(this.pool);
      this.pool = pool;
    }
    for (let i = 0; i < n; i++) this.pool[this.used + i] = text.charCodeAt(start + i);
    this.start[e] = this.used;
    this.len[e] = n;
    this.hash[e] = this.missHash;
    this.id[e] = id;
    this.used += n;
    this.slots[this.missSlot] = e;
    if (this.count * 2 > this.slots.length) this.rehash();
    return id;
  }

  private rehash(): void {
    const slots = new Int32Array(this.slots.length * 2).fill(-1);
    const mask = slots.length - 1;
    for (let e = 0; e < this.count; e++) {
      let s = this.hash[e] & mask;
      while (slots[s] >= 0) s = (s + 1) & mask;
      slots[s] = e;
    }
    this.slots = slots;
  }

  static readonly MISS = -2;
}

function grown<T extends Uint32Array | Int32Array>(a: T, b: T): T {
  b.set(a);
  return b;
}
