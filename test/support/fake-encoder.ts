/**
 * A deterministic stand-in for M3Encoder, for tests and examples without a model: every word is a
 * token whose id, dense direction, sparse weight and ColBERT vector derive from a hash of the word,
 * so related texts (shared words) really score higher on every signal, and nothing is constant.
 */
import type { EncodeOptions, M3Embedding } from '../../src/encoder/types.ts';
import type { EncoderLike } from '../../src/search/types.ts';

const VOCAB = 250_002;

function hash(s: string, seed = 0): number {
  let h = 2166136261 ^ seed;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return h >>> 0;
}

/** Seeded unit vector for a word. */
function wordVector(word: string, dims: number, seed: number): Float32Array {
  let x = hash(word, seed) || 1;
  const v = new Float32Array(dims);
  let norm = 0;
  for (let i = 0; i < dims; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const u = ((x >>> 0) / 4294967296) * 2 - 1;
    v[i] = u;
    norm += u * u;
  }
  norm = Math.sqrt(norm);
  for (let i = 0; i < dims; i++) v[i] /= norm;
  return v;
}

export function words(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
}

export class FakeEncoder implements EncoderLike {
  readonly info: EncoderLike['info'] & { heads: { sparse: boolean; colbert: boolean } };
  readonly calls: number[] = [];
  private readonly names = new Map<number, string>();

  constructor(opts: { modelId?: string; dims?: number; headHash?: string; dtype?: string; maxLength?: number } = {}) {
    this.info = {
      modelId: opts.modelId ?? 'fake-m3',
      hidden: opts.dims ?? 32,
      headHash: opts.headHash ?? 'fake-head-1',
      dtype: opts.dtype ?? 'fp32',
      maxLength: opts.maxLength ?? 512,
      heads: { sparse: true, colbert: true },
    };
  }

  tokenId(word: string): number {
    const id = 4 + (hash(word, 7) % (VOCAB - 4));
    this.names.set(id, word);
    return id;
  }

  /** Sparse weight of a word: deterministic in (0.05, 0.45]. */
  static weight(word: string): number {
    return 0.05 + ((hash(word, 11) % 1000) + 1) / 2500;
  }

  tokenize(text: string): { ids: number[] } {
    return { ids: [0, ...words(text).map((w) => this.tokenId(w)), 2] };
  }

  tokenText(id: number): string {
    return this.names.get(id) ?? `#${id}`;
  }

  async encode(texts: string[], opts: EncodeOptions = {}): Promise<M3Embedding[]> {
    this.calls.push(texts.length);
    const dims = this.info.hidden;
    return texts.map((t) => {
      const ws = words(t);
      const out: M3Embedding = { tokens: ws.length + 2, truncated: false };
      if (opts.dense !== false) {
        const v = new Float32Array(dims);
        for (const w of ws) {
          const wv = wordVector(w, dims, 1);
          for (let i = 0; i < dims; i++) v[i] += wv[i];
        }
        let n = 0;
        for (let i = 0; i < dims; i++) n += v[i] * v[i];
        n = Math.sqrt(n) || 1;
        for (let i = 0; i < dims; i++) v[i] /= n;
        out.dense = v;
      }
      if (opts.sparse) {
        const m = new Map<number, number>();
        for (const w of ws) {
          const id = this.tokenId(w);
          m.set(id, Math.max(m.get(id) ?? 0, FakeEncoder.weight(w)));
        }
        const ids = Uint32Array.from([...m.keys()].sort((a, b) => a - b));
        out.sparse = { ids, weights: Float32Array.from(ids, (id) => m.get(id)!) };
      }
      if (opts.colbert) {
        const rows = [...ws, '</s>'];
        const c = new Float32Array(rows.length * dims);
        rows.forEach((w, r) => c.set(wordVector(w, dims, 3), r * dims));
        out.colbert = c;
      }
      return out;
    });
  }
}
