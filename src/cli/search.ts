/**
 * `m3-search search --index DIR [--model M] [--mode hybrid] [--k 10] [--json] [--explain] "query"`, or
 * `--queries FILE` (lines `qid<TAB>text`) printing a TREC run: `qid Q0 docid rank score m3-search`.
 *
 * The query uses the query syntax (+required -excluded "phrase" prefix* typo~1); a query that starts with
 * "-" goes after `--` (`search --index DIR -- '-wing +lift'`). `--syntax plain` reads it as plain words,
 * which is the default for `--queries` (test collections' topics are free text, "-dash" included).
 */
import { parseArgs } from 'node:util';
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { M3Encoder } from '../encoder/m3-encoder.ts';
import { M3Index } from '../search/m3-index.ts';
import { FileStore } from '../store/file-store.ts';
import type { Hit, SearchOptions } from '../search/types.ts';
import { ENCODER_FLAGS, encoderOptions } from './flags.ts';

export async function runSearch(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      ...ENCODER_FLAGS,
      index: { type: 'string' },
      mode: { type: 'string', default: 'hybrid' },
      fusion: { type: 'string' },
      k: { type: 'string', default: '10' },
      json: { type: 'boolean', default: false },
      explain: { type: 'boolean', default: false },
      rerank: { type: 'boolean', default: false },
      queries: { type: 'string' },
      tag: { type: 'string', default: 'm3-search' },
      syntax: { type: 'string' },
    },
  });
  const syntax = values.syntax ?? (values.queries ? 'plain' : 'query');
  if (syntax !== 'query' && syntax !== 'plain') throw new Error(`--syntax must be query or plain, got "${syntax}"`);
  if (!values.index) throw new Error('--index DIR is required');
  if (!existsSync(values.index)) throw new Error(`no index at ${values.index}`);
  const store = new FileStore(values.index, { readOnly: true }); // searching never writes or deletes
  const stored = await store.open();
  if (!values.model) throw new Error(`--model is required (this index was built with ${stored?.modelId ?? 'an unknown model'}, ${stored?.dtype})`);
  // The query must be encoded by the graph that built the index: its dtype is the default.
  const encoder = await M3Encoder.load(encoderOptions({ ...values, dtype: values.dtype ?? stored?.dtype }));
  const index = await M3Index.open(values.index, { encoder, store });
  const k = Number(values.k);
  const options: SearchOptions = {
    k,
    mode: values.mode as SearchOptions['mode'],
    fusion: values.fusion as SearchOptions['fusion'],
    explain: values.explain,
    syntax,
    ...(values.rerank ? { rerank: { colbert: true, topN: 100 } } : {}),
  };
  try {
    if (values.queries) {
      const lines = (await readFile(values.queries, 'utf8')).split('\n').filter((l) => l.trim());
      const out: string[] = [];
      for (const [n, line] of lines.entries()) {
        const tab = line.indexOf('\t');
        if (tab <= 0) throw new Error(`${values.queries}:${n + 1}: expected "qid<TAB>text"`);
        const qid = line.slice(0, tab);
        const hits = await index.search(line.slice(tab + 1), { ...options, includeText: false, explain: false });
        hits.forEach((h, r) => out.push(`${qid} Q0 ${h.id} ${r + 1} ${h.score.toFixed(6)} ${values.tag}`));
      }
      process.stdout.write(out.join('\n') + (out.length ? '\n' : ''));
      return 0;
    }
    const query = positionals.join(' ');
    const hits = await index.search(query, options);
    process.stdout.write(values.json ? JSON.stringify(hits, null, 2) + '\n' : formatHits(hits));
    return 0;
  } finally {
    await index.close();
    await encoder.dispose();
  }
}

function formatHits(hits: Hit[]): string {
  if (hits.length === 0) return 'no results\n';
  return (
    hits
      .map((h, r) => {
        const signals = Object.entries(h.signals)
          .map(([name, s]) => `${name} ${s!.score.toFixed(4)}${s!.rank ? ` (#${s!.rank})` : ''}`)
          .join(', ');
        const text = (h.text ?? '').replace(/\s+/g, ' ').slice(0, 100);
        const why = h.matches?.length
          ? `\n      why: ${h.matches
              .slice(0, 6)
              .map((m) => `${m.token} ${m.contribution.toFixed(3)}`)
              .join(', ')}`
          : '';
        const clauses = h.clauses?.length
          ? `\n      clauses: ${h.clauses.map((c) => `${c.clause} ${c.matched ? `✓${c.terms.length ? ` (${c.terms.join(' ')})` : ''}` : '✗'}`).join(', ')}`
          : '';
        return `${String(r + 1).padStart(3)}. ${h.id}  ${h.score.toFixed(4)}  [${signals}]\n      ${text}${why}${clauses}`;
      })
      .join('\n') + '\n'
  );
}
