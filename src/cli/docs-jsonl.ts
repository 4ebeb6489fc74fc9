/** Reads `{ "id", "text", … }` JSON lines; every other field becomes metadata. Errors name the line. */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { IndexDoc } from '../search/types.ts';

export async function* readDocsJsonl(path: string, chunk = 1000): AsyncGenerator<IndexDoc[]> {
  const input = path === '-' ? process.stdin : createReadStream(path);
  let batch: IndexDoc[] = [];
  let lineNo = 0;
  for await (const line of createInterface({ input, crlfDelay: Infinity })) {
    lineNo++;
    if (line.trim() === '') continue;
    batch.push(parseDoc(line, `${path}:${lineNo}`));
    if (batch.length >= chunk) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length) yield batch;
}

export function parseDoc(line: string, where: string): IndexDoc {
  let v: any;
  try {
    v = JSON.parse(line);
  } catch (e: any) {
    throw new Error(`${where}: not JSON (${e.message})`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error(`${where}: expected an object with "id" and "text"`);
  const { id, text, ...metadata } = v;
  if (typeof id !== 'string' || id === '') throw new Error(`${where}: "id" must be a non-empty string`);
  if (typeof text !== 'string') throw new Error(`${where}: "text" must be a string`);
  return Object.keys(metadata).length ? { id, text, metadata } : { id, text };
}

/** Counts non-empty lines, for a progress bar with a total. */
export async function countLines(path: string): Promise<number> {
  if (path === '-') return 0;
  let n = 0;
  for await (const line of createInterface({ input: createReadStream(path), crlfDelay: Infinity })) if (line.trim()) n++;
  return n;
}
