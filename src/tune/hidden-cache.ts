/**
 * Hidden states of training and index texts, kept within a byte bound the user sets (least recently used
 * texts are dropped, and encoded again if needed). Training reads every text many times and re-indexing once
 * more: with the cache, the encoder runs once per text.
 */
import { abortError } from '../store/errors.ts';

export interface CachedText {
  ids: Uint32Array;
  hidden: Float32Array; // [L × H] last_hidden_state rows
  truncated: boolean;
}

export interface HiddenEncoder {
  info: { hidden: number };
  encodeHidden(texts: string[], options?: { batchSize?: number }): Promise<CachedText[]>;
}

export interface HiddenCacheOptions {
  /** Upper bound on cached bytes (default 256 MiB). */
  maxBytes?: number;
  /** Texts per forward pass (default 16). */
  batchSize?: number;
}

const sizeOf = (e: CachedText) => e.hidden.byteLength + e.ids.byteLength + 64;

export class HiddenCache {
  readonly maxBytes: number;
  private readonly batchSize: number;
  private readonly map = new Map<string, CachedText>();
  bytes = 0;
  hits = 0;
  misses = 0;

  constructor(
    readonly encoder: HiddenEncoder,
    opts: HiddenCacheOptions = {},
  ) {
    this.maxBytes = opts.maxBytes ?? 256 * 2 ** 20;
    if (!(this.maxBytes >= 0)) throw new RangeError(`maxBytes must be >= 0, got ${opts.maxBytes}`);
    this.batchSize = opts.batchSize ?? 16;
    if (!Number.isInteger(this.batchSize) || this.batchSize < 1) throw new RangeError(`batchSize must be a positive integer, got ${opts.batchSize}`);
  }

  get size(): number {
    return this.map.size;
  }

  has(text: string): boolean {
    return this.map.has(text);
  }

  /**
   * Hidden states of `texts` (in order), encoding the ones not cached. `onProgress(done, total)` counts
   * encoded texts; `signal` is checked between forward passes.
   */
  async get(texts: string[], opts: { onProgress?: (done: number, total: number) => void; signal?: AbortSignal } = {}): Promise<CachedText[]> {
    const out = new Array<CachedText>(texts.length);
    const missing: number[] = [];
    const firstOf = new Map<string, number>();
    texts.forEach((t, i) => {
      const e = this.map.get(t);
      if (e) {
        this.hits++;
        this.map.delete(t); // re-insert: most recently used last
        this.map.set(t, e);
        out[i] = e;
      } else if (!firstOf.has(t)) {
        firstOf.set(t, i);
        missing.push(i);
      }
    });
    const chunk = this.batchSize * 8; // several batches per call: the encoder groups them by length
    for (let at = 0; at < missing.length; at += chunk) {
      if (opts.signal?.aborted) throw abortError(opts.signal.reason);
      const idx = missing.slice(at, at + chunk);
      const enc = await this.encoder.encodeHidden(
        idx.map((i) => texts[i]),
        { batchSize: this.batchSize },
      );
      idx.forEach((i, k) => {
        out[i] = enc[k];
        this.misses++;
        this.put(texts[i], enc[k]);
      });
      opts.onProgress?.(Math.min(at + chunk, missing.length), missing.length);
    }
    texts.forEach((t, i) => (out[i] ??= out[firstOf.get(t)!]));
    return out;
  }

  private put(text: string, e: CachedText): void {
    const b = sizeOf(e);
    if (b > this.maxBytes) return;
    this.map.set(text, e);
    this.bytes += b;
    for (const [k, v] of this.map) {
      if (this.bytes <= this.maxBytes) break;
      this.map.delete(k);
      this.bytes -= sizeOf(v);
    }
  }

  clear(): void {
    this.map.clear();
    this.bytes = 0;
  }
}
