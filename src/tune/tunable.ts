/** The encoder head tuning needs (M3Encoder's hidden states, heads and head swap), taken from an open index. */
import type { SparseHead } from '../encoder/heads.ts';
import type { M3Index } from '../search/m3-index.ts';
import { tuningAccess } from '../search/tuning-access.ts';
import type { EncoderLike } from '../search/types.ts';
import { canSwapHead } from './head-store.ts';
import type { HiddenEncoder } from './hidden-cache.ts';

export type TunableEncoder = EncoderLike &
  HiddenEncoder & {
    info: { hidden: number; headHash: string; vocabSize?: number; modelId?: string; model?: string };
    getHeads(): { sparse?: SparseHead; colbert?: { weight: Float32Array; bias: Float32Array; dim: number } };
    withSparseHead(head: SparseHead | null, tag?: { version: number; hash: string }): EncoderLike;
    tokenize(text: string, maxLength?: number): { ids: ArrayLike<number> };
  };

export function tunable(index: M3Index): TunableEncoder {
  const e = tuningAccess(index).baseEncoder as Partial<TunableEncoder> | undefined;
  if (!e) throw new Error('tuning needs the index to be opened with an encoder');
  if (!canSwapHead(e) || typeof e.encodeHidden !== 'function' || typeof e.getHeads !== 'function') {
    throw new Error('tuning needs an M3Encoder (encodeHidden, getHeads, withSparseHead)');
  }
  if (!e.getHeads().sparse) throw new Error('this model has no sparse head to tune (sparse_linear.safetensors)');
  return e as TunableEncoder;
}
