/**
 * `m3-search export --index DIR --to qdrant|milvus|vespa --out DIR`: writes what the engine ingests
 * (see docs/outgrow-the-browser.md). No model is needed: the vectors are already in the index.
 */
import { parseArgs } from 'node:util';
import { existsSync } from 'node:fs';
import { ENGINES, exportIndex, type Engine } from '../export/index.ts';
import { FileStore } from '../store/file-store.ts';

export async function runExport(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { index: { type: 'string' }, to: { type: 'string' }, out: { type: 'string' } } });
  if (!values.index) throw new Error('--index DIR is required');
  if (!existsSync(values.index)) throw new Error(`no index at ${values.index}`);
  if (!values.to || !ENGINES.includes(values.to as Engine)) throw new Error(`--to must be one of ${ENGINES.join(', ')}`);
  if (!values.out) throw new Error('--out DIR is required');
  const store = new FileStore(values.index, { readOnly: true }); // exporting reads: no lock, no writes
  try {
    const r = await exportIndex(store, values.to as Engine, values.out);
    process.stderr.write(
      `exported ${r.docs} documents (${r.points} points) for ${r.engine} into ${values.out}: ${[...r.files, 'm3-export.json'].join(', ')}\n`,
    );
    if (r.truncatedTexts) process.stderr.write(`warning: ${r.truncatedTexts} texts were cut to Milvus's 65,535-byte VARCHAR limit (vectors are unaffected)\n`);
  } finally {
    store.close();
  }
  return 0;
}
