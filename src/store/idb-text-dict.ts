/**
 * The preset dictionary of an IdbStore's text groups (idb-text-groups.ts): trained once from the texts of the
 * index's first sizeable batch and stored once, in the `texts` store under [DICT_SEQ, id]. Deflate starts
 * each small part of a group with an empty window; with the dictionary as that window, a part's words are
 * found there from the first byte, so parts of a few documents compress about as well as whole groups.
 */

/** The `seq` of dictionary records in the `texts` store (segments number from 0). */
export const DICT_SEQ = -1;
/**
 * Dictionary size. Deflate could reference 32 KiB, but fflate runs its matcher over the whole dictionary
 * before each part, so packing costs grow with it. On the bench workload (node runs in the issue 14 report,
 * parts of 8) 8 KiB keeps most of the gain: 199 B/doc against 189 with 32 KiB and 237 without.
 */
export const DICT_BYTES = 8 * 1024;
/** Less text than this (characters) is too little to train on: such batches are packed without one. */
export const DICT_MIN_SAMPLE = 16 * 1024;

export interface TextDict {
  /** FNV-1a of the bytes: the dictionary's key; the same training gives the same id in every tab. */
  id: number;
  bytes: Uint8Array;
}

/**
 * A dictionary from `texts`: the words (with the space after them) worth most (count × length) among those
 * seen at least twice, least valuable first, so the most frequent sit nearest the data (short distances
 * cost fewer bits). Null when the texts are too few to train on.
 */
export function trainDict(texts: string[]): TextDict | null {
  if (texts.reduce((a, t) => a + t.length, 0) < DICT_MIN_SAMPLE) return null;
  const enc = new TextEncoder();
  const count = new Map<string, number>();
  for (const t of texts) for (const word of t.split(/(?<=\s)/)) if (word.length > 1) count.set(word, (count.get(word) ?? 0) + 1);
  const ranked = [...count].filter(([, c]) => c > 1).sort((a, b) => b[1] * b[0].length - a[1] * a[0].length || (a[0] < b[0] ? -1 : 1));
  const words: Uint8Array[] = [];
  let size = 0;
  for (const [word] of ranked) {
    const b = enc.encode(word);
    if (size + b.length > DICT_BYTES) break;
    words.push(b);
    size += b.length;
  }
  if (!size) return null;
  const bytes = new Uint8Array(size);
  let at = size;
  for (const b of words) bytes.set(b, (at -= b.length)); // most valuable last
  return { id: fnv1a(bytes), bytes };
}

function fnv1a(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (const b of bytes) h = Math.imul(h ^ b, 0x01000193);
  return h >>> 0;
}
