/**
 * `m3-search tune --index DIR --model M [--pairs FILE] [--pseudo-queries] [--epochs N] [--l1 X] [--prune X]
 *  [--teacher ensemble|bm25|none] [--no-vocab] [--cache-mb N] [--json]` tunes the index's sparse head on its
 * documents (issue 5) and makes it active; `--revert` goes back to the base head; `--activate N` re-activates
 * stored version N; `--list` shows the stored versions. `m3-search search` then ranks with the active head.
 */
import { parseArgs } from 'node:util';
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { M3Encoder } from '../encoder/m3-encoder.ts';
import { M3Index } from '../search/m3-index.ts';
import { FileStore } from '../store/file-store.ts';
import { listHeads } from '../tune/head-store.ts';
import { HiddenCache } from '../tune/hidden-cache.ts';
import { parsePairs } from '../tune/pairs.ts';
import { activateSparseHead, revertSparseHead, tuneSparseHead, type Teacher, type TuneProgress } from '../tune/tune.ts';
import { ENCODER_FLAGS, encoderOptions } from './flags.ts';

export async function runTune(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...ENCODER_FLAGS,
      index: { type: 'string' },
      pairs: { type: 'string' },
      'pseudo-queries': { type: 'boolean' },
      revert: { type: 'boolean', default: false },
      activate: { type: 'string' },
      list: { type: 'boolean', default: false },
      epochs: { type: 'string' },
      l1: { type: 'string' },
      prune: { type: 'string' },
      teacher: { type: 'string' },
      'no-vocab': { type: 'boolean', default: false },
      'cache-mb': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  if (!values.index) throw new Error('--index DIR is required');
  if (!existsSync(values.index)) throw new Error(`no index at ${values.index}`);
  const store = new FileStore(values.index);
  const stored = await store.open();
  if (!stored) throw new Error(`${values.index} holds no index`);
  if (values.list) {
    const heads = await listHeads(store);
    store.close();
    const active = stored.sparseHead?.version;
    if (!heads.length) process.stdout.write('no tuned heads (the base head is active)\n');
    for (const h of heads) {
      const m = h.metrics as { heldOutBefore?: { ndcg10: number }; heldOutAfter?: { ndcg10: number } };
      process.stdout.write(
        `v${h.version}${h.version === active ? ' (active)' : ''}  ${h.hash.slice(0, 12)}  ${new Date(h.createdAt).toISOString()}  held-out nDCG@10 ${m.heldOutBefore?.ndcg10.toFixed(3)} → ${m.heldOutAfter?.ndcg10.toFixed(3)}\n`,
      );
    }
    return 0;
  }
  const model = values.model ?? stored.modelId;
  const encoder = await M3Encoder.load(encoderOptions({ ...values, model, dtype: values.dtype ?? stored.dtype }));
  const index = await M3Index.open(values.index, { encoder, store });
  const bar = progressLine();
  const cache = new HiddenCache(encoder, values['cache-mb'] ? { maxBytes: Number(values['cache-mb']) * 2 ** 20 } : {});
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once('SIGINT', onSigint); // Ctrl-C cancels: nothing is written
  try {
    if (values.revert) {
      await revertSparseHead(index, { cache, signal: controller.signal, onProgress: bar });
      bar.end();
      process.stdout.write(`reverted to the base head; sparse postings re-made (${index.count()} documents)\n`);
      return 0;
    }
    if (values.activate) {
      await activateSparseHead(index, Number(values.activate), { cache, signal: controller.signal, onProgress: bar });
      bar.end();
      process.stdout.write(`tuned head v${values.activate} is active\n`);
      return 0;
    }
    const pairs = values.pairs ? parsePairs(await readFile(values.pairs, 'utf8')) : undefined;
    const num = (s: string | undefined, name: string) => {
      if (s === undefined) return undefined;
      const n = Number(s);
      if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a number >= 0, got ${s}`);
      return n;
    };
    const r = await tuneSparseHead(index, {
      pairs,
      pseudoQueries: values['pseudo-queries'] ?? !pairs,
      maxEpochs: num(values.epochs, 'epochs'),
      l1: num(values.l1, 'l1'),
      prune: num(values.prune, 'prune'),
      teacher: values.teacher as Teacher | undefined,
      vocab: !values['no-vocab'],
      cache,
      signal: controller.signal,
      onProgress: bar,
    });
    bar.end();
    if (values.json) process.stdout.write(JSON.stringify({ ...r, curve: r.curve.filter((p) => p.heldOut !== undefined) }, null, 2) + '\n');
    else {
      if (r.pairs.unknownIds.length)
        process.stderr.write(`skipped ${r.pairs.skipped} pair(s) naming unknown documents: ${r.pairs.unknownIds.slice(0, 10).join(', ')}\n`);
      if (r.status !== 'tuned') {
        process.stderr.write(`tuning failed: ${r.reason}\n`);
        return 1;
      }
      const h = r.heldOut;
      process.stdout.write(
        `tuned head v${r.version} (${r.hash!.slice(0, 12)}) is active: ${r.pairs.train} training / ${r.pairs.heldOut} held-out pairs ${JSON.stringify(r.pairs.bySource)}\n` +
          `  held-out nDCG@10 ${h.before.ndcg10.toFixed(4)} → ${h.after.ndcg10.toFixed(4)}, MRR@10 ${h.before.mrr10.toFixed(4)} → ${h.after.mrr10.toFixed(4)}\n` +
          `  sparse postings per document ${r.postingsPerDoc.before.toFixed(1)} → ${r.postingsPerDoc.after.toFixed(1)}\n` +
          `  ${r.training.status} after ${r.training.epochs} epoch(s); ${(r.ms.total / 1000).toFixed(1)} s (encode ${(r.ms.encode / 1000).toFixed(1)}, train ${(r.ms.train / 1000).toFixed(1)}, re-index ${(r.ms.reindex / 1000).toFixed(1)})\n`,
      );
    }
    return r.status === 'tuned' ? 0 : 1;
  } finally {
    process.off('SIGINT', onSigint);
    index.close();
    await encoder.dispose();
  }
}

/** One self-overwriting status line on a terminal; nothing when stderr is not one. */
function progressLine(): ((p: TuneProgress) => void) & { end(): void } {
  const tty = process.stderr.isTTY;
  let last = 0;
  const f = ((p: TuneProgress) => {
    if (!tty) return;
    const now = Date.now();
    if (now - last < 100 && p.done !== p.total) return;
    last = now;
    const extra = p.loss !== undefined ? ` loss ${p.loss.toFixed(4)}` : '';
    const held = p.heldOut !== undefined ? ` held-out nDCG@10 ${p.heldOut.toFixed(4)}` : '';
    process.stderr.write(`\r${p.phase.padEnd(9)} ${p.done}/${p.total}${p.epoch ? ` epoch ${p.epoch}` : ''}${extra}${held}\x1b[K`);
  }) as ((p: TuneProgress) => void) & { end(): void };
  f.end = () => tty && process.stderr.write('\r\x1b[K');
  return f;
}
