/** batchSize 0 (or NaN, or fractional) is refused at once: it used to loop forever. */
import { describe, expect, it } from 'vitest';
import { batchByLength } from '../encoder/prepare.ts';
import { HiddenCache } from './hidden-cache.ts';

describe('batch sizes', () => {
  it('HiddenCache and batchByLength refuse a batch size that is not a positive integer', async () => {
    const encoder = {
      info: { hidden: 4 },
      encodeHidden: async (t: string[]) => t.map(() => ({ ids: new Uint32Array(2), hidden: new Float32Array(8), truncated: false })),
    };
    for (const bad of [0, -1, 0.5, NaN]) {
      expect(() => new HiddenCache(encoder, { batchSize: bad }), String(bad)).toThrow(/batchSize must be a positive integer/);
      expect(() => batchByLength([3, 2, 1], bad), String(bad)).toThrow(/batchSize must be a positive integer/);
    }
    expect((await new HiddenCache(encoder, { batchSize: 1 }).get(['a', 'b'])).length).toBe(2);
  });
});
