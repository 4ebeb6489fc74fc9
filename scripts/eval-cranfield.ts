/**
 * Cranfield 1400 evaluation: nDCG@10 and Recall@100 per retrieval mode.
 *
 *   npm run eval:cranfield [-- --modes bm25,bm25-stem] [--runs <dir>] [--list]
 *
 * Dataset: $CRANFIELD_DIR or data/cranfield (vendored). `--runs` writes one TREC run file
 * per mode. Modes are rows of the MODES table below: a mode gets the collection and returns a
 * run, so the M3 modes (dense, sparse, hybrid, ColBERT rerank) can be added as further rows.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bm25DocTerms, type Bm25Params } from '../src/rank/bm25.ts';
import { Bm25Index } from '../bench/bm25-index.ts';
import { analyzeTerms, type AnalyzerOptions } from '../src/rank/analyzer.ts';
import { cranfieldDir, loadCranfield, type Cranfield, type CranfieldDoc } from '../src/eval/cranfield.ts';
import { evaluateRun, writeTrecRun, type Run } from '../src/eval/metrics.ts';
import { M3Encoder } from '../src/encoder/m3-encoder.ts';
import { M3Index } from '../src/search/m3-index.ts';
import { MemoryStore } from '../src/store/memory-store.ts';
import type { SearchOptions } from '../src/search/types.ts';

export interface EvalMode {
  name: string;
  description: string;
  /** Returns the top `depth` documents of every query. */
  run(data: Cranfield, depth: number): Run | Promise<Run>;
}

const titleAbstract = (d: CranfieldDoc): string => `${d.title}\n${d.abstract}`;

/** A BM25 mode: index the documents' text with the given analyzer, rank every query. */
export function bm25Mode(
  name: string,
  description: string,
  opts: {
    params?: Partial<Bm25Params>;
    analyzer?: AnalyzerOptions;
    text?: (d: CranfieldDoc) => string;
    /**
     * Count each query term once instead of once per occurrence. Implemented by re-joining the
     * unique analyzed terms, so only for analyzers that are idempotent on their output (ascii).
     */
    uniqueQueryTerms?: boolean;
  } = {},
): EvalMode {
  return {
    name,
    description,
    run(data, depth) {
      const text = opts.text ?? titleAbstract;
      const index = new Bm25Index(opts.params, opts.analyzer);
      data.docs.forEach((d, key) => index.add(bm25DocTerms(key, text(d), opts.analyzer)));
      const run: Run = new Map();
      for (const q of data.queries) {
        const query = opts.uniqueQueryTerms ? [...new Set(analyzeTerms(q.text, opts.analyzer))].join(' ') : q.text;
        run.set(
          q.id,
          index.search(query, depth).map((h) => ({ docId: data.docs[h.key].id, score: h.score })),
        );
      }
      return run;
    },
  };
}

/**
 * The M3 modes run the library end to end: M3Encoder (the tiny test model unless M3_MODEL names another)
 * encodes title + abstract, M3Index ranks. The tiny model has random weights: its dense and ColBERT signals
 * are noise and its sparse weights carry little term importance, which these rows show honestly.
 */
const M3_MODEL = process.env.M3_MODEL ?? 'public/models/tiny-m3';
let m3Index: Promise<M3Index> | undefined;

function openM3Index(data: Cranfield): Promise<M3Index> {
  m3Index ??= (async () => {
    const encoder = await M3Encoder.load({ model: M3_MODEL, dtype: 'fp32' });
    const index = await M3Index.open('cranfield', { encoder, store: new MemoryStore(), colbert: true });
    await index.add(data.docs.map((d) => ({ id: d.id, text: titleAbstract(d) })));
    return index;
  })();
  return m3Index;
}

export function m3Mode(name: string, description: string, options: SearchOptions): EvalMode {
  return {
    name,
    description,
    async run(data, depth) {
      const index = await openM3Index(data);
      const run: Run = new Map();
      for (const q of data.queries) {
        const hits = await index.search(q.text, {
          ...options,
          syntax: 'plain',
          k: depth,
          candidates: Math.max(depth, options.candidates ?? 0),
          includeText: false,
        });
        run.set(
          q.id,
          hits.map((h) => ({ docId: h.id, score: h.score })),
        );
      }
      return run;
    },
  };
}

export const MODES: EvalMode[] = [
  // The README's reference figure (0.342 / 0.697) is reproduced when each query term counts once.
  bm25Mode('bm25-ascii-uniq', 'reference: [a-z0-9]+ tokens, query terms counted once', { analyzer: { tokenizer: 'ascii' }, uniqueQueryTerms: true }),
  bm25Mode('bm25-ascii', 'as the reference, repeated query terms counted (our default)', { analyzer: { tokenizer: 'ascii' } }),
  bm25Mode('bm25', 'project analyzer (UAX#29 words, NFKC, folding), no stemming', {}),
  bm25Mode('bm25-stem', 'project analyzer + Porter stemming', { analyzer: { stem: true } }),
  bm25Mode('bm25-stem-stop', 'project analyzer + stemming + English stop words', { analyzer: { stem: true, stopWords: true } }),
  bm25Mode('bm25-stem-title', 'as bm25-stem, title indexed twice (abstract already repeats it)', {
    analyzer: { stem: true },
    text: (d) => `${d.title}\n${d.title}\n${d.abstract}`,
  }),
  bm25Mode('bm25-stem-k1.5-b0.9', 'as bm25-stem, k1 1.5, b 0.9', { analyzer: { stem: true }, params: { k1: 1.5, b: 0.9 } }),
  bm25Mode('bm25-stem-k0.9-b0.4', 'as bm25-stem, Anserini defaults k1 0.9, b 0.4', { analyzer: { stem: true }, params: { k1: 0.9, b: 0.4 } }),
  m3Mode('m3-bm25', "M3Index's own BM25 signal", { mode: 'bm25' }),
  m3Mode('m3-sparse', 'M3 learned-sparse only (tiny model)', { mode: 'sparse' }),
  m3Mode('m3-dense', 'M3 dense only (tiny model: random)', { mode: 'dense' }),
  m3Mode('m3-colbert', 'M3 ColBERT only (tiny model: random)', { mode: 'colbert' }),
  m3Mode('m3-hybrid', 'M3 hybrid, weighted fusion, default weights', { mode: 'hybrid' }),
  m3Mode('m3-hybrid-rrf', 'M3 hybrid, reciprocal rank fusion (k = 60)', { mode: 'hybrid', fusion: 'rrf' }),
  m3Mode('m3-hybrid-rerank', 'M3 hybrid + ColBERT rerank of the top 100', { mode: 'hybrid', rerank: { colbert: true, topN: 100 } }),
];

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const opt = (name: string): string | undefined => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  if (args.includes('--list')) {
    for (const m of MODES) console.log(`${m.name.padEnd(22)} ${m.description}`);
    return;
  }
  const wanted = opt('--modes')?.split(',');
  const modes = wanted ? MODES.filter((m) => wanted.includes(m.name)) : MODES;
  const unknown = wanted?.filter((w) => !MODES.some((m) => m.name === w)) ?? [];
  if (unknown.length) throw new Error(`unknown mode(s): ${unknown.join(', ')} (see --list)`);
  const runsDir = opt('--runs');

  const dir = await cranfieldDir();
  const data = await loadCranfield(dir);
  console.log(`Cranfield from ${dir}: ${data.docs.length} docs, ${data.queries.length} queries, ${data.qrels.size} judged queries\n`);
  console.log(`${'mode'.padEnd(22)} ${'nDCG@10'.padStart(8)} ${'R@100'.padStart(8)} ${'ms'.padStart(7)}  description`);
  if (runsDir) await mkdir(runsDir, { recursive: true });
  for (const m of modes) {
    const t0 = performance.now();
    const run = await m.run(data, 100);
    const ms = performance.now() - t0;
    const ev = evaluateRun(run, data.qrels, 10, 100);
    console.log(`${m.name.padEnd(22)} ${ev.ndcg.toFixed(4).padStart(8)} ${ev.recall.toFixed(4).padStart(8)} ${ms.toFixed(0).padStart(7)}  ${m.description}`);
    if (runsDir) await writeFile(join(runsDir, `${m.name}.run`), writeTrecRun(run, m.name));
  }
}

// Only run as a script, so tests can import MODES.
if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
