/** Reads `{ "id", "text", … }` JSON lines; every other field becomes metadata. Errors name the line. */
import { M3Error } from '../errors.ts';
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { IndexDoc } from '../search/types.ts';

/** Documents in batches of `chunk`, each with the line number of its last document. */
export async function* readDocsJsonl(path: string, chunk = 1000): AsyncGenerator<IndexDoc[] & { lastLine?: number }> {
  const input = path === '-' ? process.stdin : createReadStream(path);
  let batch: IndexDoc[] & { lastLine?: number } = [];
  let lineNo = 0;
  for await (const raw of createInterface({ input, crlfDelay: Infinity })) {
    lineNo++;
    const line = lineNo === 1 ? stripBom(raw) : raw;
    if (line.trim() === '') continue;
    batch.push(parseDoc(line, `${path}:${lineNo}`));
    if (batch.length >= chunk) {
      batch.lastLine = lineNo;
      yield batch;
      batch = [];
    }
  }
  batch.lastLine = lineNo;
  if (batch.length) yield batch;
}

/** A UTF-8 byte order mark (editors on Windows write one) is not part of the first line's JSON. */
const stripBom = (line: string) => (line.charCodeAt(0) === 0xfeff ? line.slice(1) : line);

/** A line of the input is not a document; the message names file and line. */
export class DocsInputError extends M3Error {
  override name = 'DocsInputError';
  constructor(message: string) {
    super('FILE_REFUSED', message);
  }
}

export function parseDoc(line: string, where: string): IndexDoc {
  let v: any;
  try {
    v = JSON.parse(line);
  } catch (e: any) {
    throw new DocsInputError(`${where}: not JSON (${e.message})`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new DocsInputError(`${where}: expected an object with "id" and "text"`);
  const { id, text, ...metadata } = v;
  if (typeof id !== 'string' || id === '') throw new DocsInputError(`${where}: "id" must be a non-empty string`);
  if (typeof text !== 'string') throw new DocsInputError(`${where}: "text" must be a string`);
  return Object.keys(metadata).length ? { id, text, metadata } : { id, text };
}

/**
 * Counts the documents of a file (for a progress bar with a total), checking every line on the way: a bad
 * line is refused before anything is written, instead of after earlier batches were committed.
 */
export async function countLines(path: string): Promise<number> {
  if (path === '-') return 0;
  let n = 0;
  let lineNo = 0;
  for await (const raw of createInterface({ input: createReadStream(path), crlfDelay: Infinity })) {
    lineNo++;
    const line = lineNo === 1 ? stripBom(raw) : raw;
    if (!line.trim()) continue;
    parseDoc(line, `${path}:${lineNo}`);
    n++;
  }
  return n;
}
