// tokenizer.json / tokenizer_config.json / special_tokens_map.json in the layout of XLM-R's fast tokenizer,
// with NFKC (+ collapse of repeated spaces) standing in for XLM-R's Precompiled charsmap.
import { SPECIALS, VOCAB, WORD_MARK, type Piece } from './vocab.ts';

const idOf = (vocab: Piece[], piece: string) => vocab.findIndex(([p]) => p === piece);

export function tokenizerJson(vocab: Piece[] = VOCAB): string {
  const special = [SPECIALS.bos, SPECIALS.pad, SPECIALS.eos, SPECIALS.unk, SPECIALS.mask];
  const added = special.map((content) => ({
    id: idOf(vocab, content),
    content,
    single_word: false,
    lstrip: content === SPECIALS.mask, // XLM-R's <mask> eats the space before it
    rstrip: false,
    normalized: false,
    special: true,
  }));
  const bos = idOf(vocab, SPECIALS.bos);
  const eos = idOf(vocab, SPECIALS.eos);
  const seq = (id: 'A' | 'B') => ({ Sequence: { id, type_id: 0 } });
  const tok = (t: string) => ({ SpecialToken: { id: t, type_id: 0 } });
  const obj = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: {
      type: 'Sequence',
      normalizers: [{ type: 'NFKC' }, { type: 'Replace', pattern: { Regex: ' {2,}' }, content: ' ' }],
    },
    pre_tokenizer: { type: 'Metaspace', replacement: WORD_MARK, prepend_scheme: 'always', split: true },
    post_processor: {
      type: 'TemplateProcessing',
      single: [tok(SPECIALS.bos), seq('A'), tok(SPECIALS.eos)],
      pair: [tok(SPECIALS.bos), seq('A'), tok(SPECIALS.eos), tok(SPECIALS.eos), seq('B'), tok(SPECIALS.eos)],
      special_tokens: {
        [SPECIALS.bos]: { id: SPECIALS.bos, ids: [bos], tokens: [SPECIALS.bos] },
        [SPECIALS.eos]: { id: SPECIALS.eos, ids: [eos], tokens: [SPECIALS.eos] },
      },
    },
    decoder: { type: 'Metaspace', replacement: WORD_MARK, prepend_scheme: 'always', split: true },
    model: { type: 'Unigram', unk_id: idOf(vocab, SPECIALS.unk), vocab: '__VOCAB__', byte_fallback: false },
  };
  // One vocab entry per line keeps the file diffable and ~half the size of fully indented JSON.
  const vocabText = '[\n' + vocab.map((p) => '      ' + JSON.stringify(p)).join(',\n') + '\n    ]';
  return JSON.stringify(obj, null, 2).replace('"__VOCAB__"', vocabText) + '\n';
}

export function tokenizerConfigJson(vocab: Piece[] = VOCAB, modelMaxLength = 512): string {
  const addedDecoder: Record<string, object> = {};
  for (const content of [SPECIALS.bos, SPECIALS.pad, SPECIALS.eos, SPECIALS.unk, SPECIALS.mask]) {
    addedDecoder[String(idOf(vocab, content))] = {
      content,
      lstrip: content === SPECIALS.mask,
      normalized: false,
      rstrip: false,
      single_word: false,
      special: true,
    };
  }
  return (
    JSON.stringify(
      {
        added_tokens_decoder: addedDecoder,
        bos_token: SPECIALS.bos,
        clean_up_tokenization_spaces: true,
        cls_token: SPECIALS.bos,
        eos_token: SPECIALS.eos,
        mask_token: SPECIALS.mask,
        model_max_length: modelMaxLength,
        pad_token: SPECIALS.pad,
        sep_token: SPECIALS.eos,
        tokenizer_class: 'XLMRobertaTokenizer',
        unk_token: SPECIALS.unk,
      },
      null,
      2,
    ) + '\n'
  );
}

export function specialTokensMapJson(): string {
  const t = (content: string, lstrip = false) => ({ content, lstrip, normalized: false, rstrip: false, single_word: false });
  return (
    JSON.stringify(
      {
        bos_token: t(SPECIALS.bos),
        cls_token: t(SPECIALS.bos),
        eos_token: t(SPECIALS.eos),
        mask_token: t(SPECIALS.mask, true),
        pad_token: t(SPECIALS.pad),
        sep_token: t(SPECIALS.eos),
        unk_token: t(SPECIALS.unk),
      },
      null,
      2,
    ) + '\n'
  );
}
