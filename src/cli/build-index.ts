/**
 * `m3-search index --model M --input docs.jsonl --out DIR [--colbert] [--batch-size N] [--static OUT]`: encodes
 * JSON-lines documents and writes an M3Index to a folder (FileStore), with a progress bar on stderr. With
 * `--static OUT`, also writes the index as a static package for sites (src/static: manifest + chunks).
 */
import { parseArgs } from 'node:util';
import { SingleBar, Presets } from 'cli-progress';
import { M3Encoder } from '../encoder/m3-encoder.ts';
import { M3Index } from '../search/m3-index.ts';
import { FileStore } from '../store/file-store.ts';
import { countLines, readDocsJsonl } from './docs-jsonl.ts';
import { encoderOptions, ENCODER_FLAGS } from './flags.ts';

export async function runIndex(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...ENCODER_FLAGS,
      input: { type: 'string' },
      out: { type: 'string' },
      colbert: { type: 'boolean', default: false },
      'batch-size': { type: 'string', default: '256' },
      upsert: { type: 'boolean', default: false },
      quiet: { type: 'boolean', default: false },
      static: { type: 'string' },
      'chunk-bytes': { type: 'string' },
    },
  });
  if (!values.input) throw new Error('--input docs.jsonl is required ("-" reads stdin)');
  if (!values.out) throw new Error('--out DIR is required');
  const batchSize = Number(values['batch-size']);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`--batch-size must be a positive integer, got ${values['batch-size']}`);

  const total = await countLines(values.input); // checks every line of a file before anything is written
  const encoder = await M3Encoder.load(encoderOptions(values));
  const store = new FileStore(values.out);
  const index = await M3Index.open(values.out, { encoder, store, colbert: values.colbert });
  const { device, dtype, threads } = encoder.info;
  const on = `${device} ${dtype}, ${threads.used} thread${threads.used === 1 ? '' : 's'}`;
  const bar = new SingleBar(
    {
      format: 'indexing [{bar}] {value}/{total} docs | {rate} docs/s | {tokensPerS} tokens/s on {device} | ETA {eta_formatted}',
      stream: process.stderr,
      noTTYOutput: !values.quiet,
      notTTYSchedule: 5000,
    },
    Presets.shades_classic,
  );
  const t0 = performance.now();
  let done = 0;
  let tokens = 0;
  const rates = (n: number) => {
    const s = Math.max((performance.now() - t0) / 1000, 1e-3);
    return { rate: (n / s).toFixed(1), tokensPerS: Math.round(tokens / s), device: on };
  };
  if (!values.quiet) bar.start(total || 1, 0, rates(0));
  let committedThrough = 0; // input line of the last document committed
  try {
    for await (const docs of readDocsJsonl(values.input, batchSize * 4)) {
      const base = done;
      let inCall = 0;
      const onProgress = (p: { done: number; phase: string; tokens?: number }) => {
        if (p.phase === 'encode') tokens += p.tokens ?? 0;
        if (p.phase !== 'write') return;
        inCall = p.done;
        const n = base + p.done;
        bar.update(n, rates(n));
      };
      try {
        const r = values.upsert ? await index.upsert(docs, { batchSize, onProgress }) : await index.add(docs, { batchSize, onProgress });
        done += 'added' in r ? r.added : r.upserted;
        committedThrough = docs.lastLine ?? committedThrough;
      } catch (e) {
        done += inCall; // whole batches of this call that were committed before the failure
        throw e;
      }
    }
    if (values.static) {
      bar.stop();
      // Compacted first: a package should not ship rows that upserts and removes left dead.
      if (index.info.tombstones) await index.compact();
      const { writeStaticPackage } = await import('../static/build.ts');
      const m = await writeStaticPackage(store, values.static, values['chunk-bytes'] ? { chunkBytes: Number(values['chunk-bytes']) } : {});
      process.stderr.write(`static package ${m.version}: ${m.docCount} documents, ${m.chunks.length} chunks, ${m.totalBytes} bytes in ${values.static}\n`);
    }
  } catch (e) {
    if (done > 0) {
      // Earlier batches are in the index (each batch is one commit): say how many, and how to go on.
      const where = committedThrough ? ` (through line ${committedThrough} at least)` : '';
      (e as Error).message +=
        `\n${done} documents of this run were committed to ${values.out} before the error${where}; ` +
        `fix the input and run the same command with --upsert to resume (documents already there are replaced, not duplicated)`;
    }
    throw e;
  } finally {
    bar.stop();
    await index.close();
    await encoder.dispose();
  }
  const secs = (performance.now() - t0) / 1000;
  process.stderr.write(
    `indexed ${done} documents into ${values.out} in ${secs.toFixed(1)} s (${(done / secs).toFixed(1)} docs/s, ${Math.round(tokens / secs)} tokens/s on ${on})\n`,
  );
  return 0;
}
