/**
 * `m3-search encode`: one text per stdin line (a line starting with `"` is a JSON string, so texts may hold
 * newlines), one JSON object per output line. The output shape is a stable contract:
 * {"dense":[…],"sparse":{"<tokenId>":weight,…},"colbert":[[…],…],"tokens":N,"truncated":false}
 */
import { parseArgs } from 'node:util';
import { createInterface } from 'node:readline';
import { M3Encoder } from '../encoder/m3-encoder.ts';
import type { M3Embedding } from '../encoder/types.ts';
import { encoderOptions, ENCODER_FLAGS } from './flags.ts';

export async function runEncode(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { ...ENCODER_FLAGS, 'max-length': { type: 'string' }, colbert: { type: 'boolean', default: false }, 'batch-size': { type: 'string' } },
  });
  const encoder = await M3Encoder.load(encoderOptions(values));
  const maxLength = values['max-length'] !== undefined ? Number(values['max-length']) : undefined;
  const batchSize = values['batch-size'] !== undefined ? Number(values['batch-size']) : 16;
  const opts = { dense: true, sparse: encoder.info.heads.sparse, colbert: !!values.colbert, maxLength, batchSize };

  let pending: string[] = [];
  let lineNo = 0;
  const flush = async () => {
    if (pending.length === 0) return;
    const out = await encoder.encode(pending, opts);
    process.stdout.write(out.map((e) => JSON.stringify(toJson(e))).join('\n') + '\n');
    pending = [];
  };
  for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
    lineNo++;
    pending.push(parseLine(line, lineNo));
    if (pending.length >= batchSize * 4) await flush();
  }
  await flush();
  await encoder.dispose();
  return 0;
}

function parseLine(line: string, lineNo: number): string {
  if (!line.startsWith('"')) return line;
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch (e: any) {
    throw new Error(`stdin line ${lineNo} starts with " but is not a JSON string: ${e.message}`);
  }
  if (typeof v !== 'string') throw new Error(`stdin line ${lineNo} is JSON but not a string`);
  return v;
}

export function toJson(e: M3Embedding): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (e.dense) out.dense = Array.from(e.dense);
  if (e.sparse) {
    const sparse: Record<string, number> = {};
    e.sparse.ids.forEach((id, i) => (sparse[String(id)] = e.sparse!.weights[i]));
    out.sparse = sparse;
  }
  if (e.colbert) {
    const n = e.tokens - 1; // ColBERT keeps every row but CLS
    const dim = e.colbert.length / n;
    const rows: number[][] = [];
    for (let r = 0; r < n; r++) rows.push(Array.from(e.colbert.subarray(r * dim, (r + 1) * dim)));
    out.colbert = rows;
  }
  out.tokens = e.tokens;
  out.truncated = e.truncated;
  return out;
}
