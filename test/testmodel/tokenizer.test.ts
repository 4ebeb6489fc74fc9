// The generated tokenizer as Transformers.js loads it from the local model directory.
import { fileURLToPath } from 'node:url';
import { AutoTokenizer, env, type PreTrainedTokenizer } from '@huggingface/transformers';
import { beforeAll, describe, expect, it } from 'vitest';
import { VOCAB } from './vocab.ts';

let tok: PreTrainedTokenizer;
beforeAll(async () => {
  env.allowRemoteModels = false;
  env.localModelPath = fileURLToPath(new URL('../../public/models/', import.meta.url));
  tok = await AutoTokenizer.from_pretrained('tiny-m3');
});

const pieces = (text: string) => tok.tokenize(text);

describe('tiny-m3 tokenizer (Transformers.js)', () => {
  it('wraps text in <s> … </s> and round-trips', () => {
    const ids = tok.encode('What is BGE M3?');
    expect(ids[0]).toBe(0);
    expect(ids.at(-1)).toBe(2);
    expect(ids.length).toBeGreaterThan(4);
    expect(tok.decode(ids, { skip_special_tokens: true })).toBe('What is BGE M3?');
    expect(tok.decode(ids)).toBe('<s> What is BGE M3?</s>'); // as XLM-R's Metaspace decoder renders it
    expect(pieces('What is BGE M3?')).toEqual(['▁What', '▁is', '▁B', 'G', 'E', '▁M', '3', '?']);
  });

  it('pads with id 1 and masks the padding', () => {
    const enc = tok(['short', 'a longer sentence about flow'], { padding: true });
    const [a, b] = enc.input_ids.tolist() as bigint[][];
    const [ma] = enc.attention_mask.tolist() as bigint[][];
    expect(a.length).toBe(b.length);
    expect(a.slice(3).every((x) => x === 1n)).toBe(true);
    expect(ma.slice(3).every((x) => x === 0n)).toBe(true);
    expect(tok.pad_token_id).toBe(1);
    expect(tok.mask_token_id).toBe(VOCAB.length - 1);
  });

  it('keeps known words whole, including Cranfield vocabulary', () => {
    expect(pieces('the boundary layer flow')).toEqual(['▁the', '▁boundary', '▁layer', '▁flow']);
    expect(pieces('supersonic shock wave pressure on a wing at mach 3')).toEqual([
      '▁supersonic',
      '▁shock',
      '▁wave',
      '▁pressure',
      '▁on',
      '▁a',
      '▁wing',
      '▁at',
      '▁mach',
      '▁3',
    ]);
    expect(pieces('What is')).toEqual(['▁What', '▁is']);
    // compounds split at the hyphen into word pieces, unknown words into sub-words, never <unk>
    expect(pieces('heat-transfer')).toEqual(['▁heat', '-', 'transfer']);
    const odd = tok.encode('xqzvwk', { add_special_tokens: false });
    expect(odd).not.toContain(3);
  });

  it('splits CJK into per-character pieces', () => {
    expect(pieces('中文文本检索')).toEqual(['▁', '中', '文', '文', '本', '检', '索']);
    expect(pieces('カタカナ')).toEqual(['▁', 'カ', 'タ', 'カ', 'ナ']);
    expect(pieces('한국어')).toEqual(['▁', '한', '국', '어']);
    const ids = tok.encode('中文文本检索');
    expect(tok.decode(ids, { skip_special_tokens: true })).toBe('中文文本检索');
  });

  it('encodes pairs as <s> A </s></s> B </s>', () => {
    const ids = (tok('flow', { text_pair: 'wing' }).input_ids.tolist() as bigint[][])[0].map(Number);
    expect(ids).toEqual([0, tok.encode('flow')[1], 2, 2, tok.encode('wing')[1], 2]);
  });
});
