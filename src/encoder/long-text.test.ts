/**
 * Long texts are tokenized in bounded windows: the tokenizer never sees more than TOKENIZE_WINDOW
 * characters at once, truncation stops reading once the budget is passed, windows cut at whitespace give
 * the ids of the whole text, and whitespace-free runs that overflowed Transformers.js no longer do.
 */
import { AutoTokenizer } from '@huggingface/transformers';
import { describe, expect, it } from 'vitest';
import { M3Encoder } from './m3-encoder.ts';
import { prepareText, tokenizeBounded, TOKENIZE_WINDOW } from './prepare.ts';
import { passages } from '../search/chunking.ts';

const MODEL = 'public/models/tiny-m3';
const words = 'boundary layer flow over a flat plate at supersonic speed with heat transfer'.split(' ');
const prose = (n: number) => Array.from({ length: n }, (_, i) => words[(i * 7) % words.length] + (i % 11 === 10 ? '.\n' : i % 5 === 4 ? '  ' : ' ')).join('');

describe('tokenizeBounded', () => {
  it('hands the tokenizer bounded windows and stops once past the limit', () => {
    const seen: number[] = [];
    const spy = (t: string) => (
      seen.push(t.length),
      t
        .split(/\s+/)
        .filter(Boolean)
        .map((w) => w.length)
    );
    const text = 'x'.repeat(5 * 2 ** 20); // 5 MB without whitespace
    const ids = prepareText(text, 512, spy).ids;
    expect(ids.length).toBe(512);
    expect(Math.max(...seen)).toBeLessThanOrEqual(TOKENIZE_WINDOW);
    expect(seen.length).toBeLessThan(600); // ~one id per window here: far from the 1,280 windows of the text
    seen.length = 0;
    expect(tokenizeBounded(prose(20000), spy).length).toBe(20000);
    expect(Math.max(...seen)).toBeLessThanOrEqual(TOKENIZE_WINDOW);
  });

  it("windows cut at whitespace give the ids of the whole text (the tiny model's tokenizer)", async () => {
    const tok = await AutoTokenizer.from_pretrained(MODEL);
    const whole = (t: string) => Array.from(tok.encode(t, { add_special_tokens: false }) as number[]);
    const text = prose(3000);
    expect(tokenizeBounded(text, whole, Infinity, 300)).toEqual(whole(text));
  });

  it('a 300 KB text without whitespace tokenizes and chunks without a stack overflow', async () => {
    const enc = await M3Encoder.load({ model: MODEL, dtype: 'fp32', device: 'cpu' });
    const text = 'abcdefghij'.repeat(30_000);
    const t = enc.tokenize(text);
    expect(t.truncated).toBe(true);
    expect(t.ids.length).toBe(enc.info.maxLength);
    const spans = passages(text, {}, enc);
    expect(spans.length).toBeGreaterThan(1);
    for (const [s, e] of spans.slice(0, 3)) expect(enc.tokenize(text.slice(s, e)).truncated).toBe(false);
    expect(spans.at(-1)![1]).toBe(text.length);
    await enc.dispose();
  });
});
