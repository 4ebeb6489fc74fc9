/**
 * Turns files the user drops or picks into documents, refusing what can't be text: an unknown
 * extension, an oversized file, bytes that are not UTF-8 text, a .jsonl line that is not a document.
 * A drop is all or nothing: one refused file means nothing from that drop is indexed.
 */
import type { IndexDoc } from '../src/search/types.ts';

export const MAX_FILE_BYTES = 5 * 1024 * 1024;
const KINDS = ['txt', 'md', 'jsonl'] as const;

export class RefusedFile extends Error {}

export async function readDocs(files: File[]): Promise<IndexDoc[]> {
  const docs: IndexDoc[] = [];
  // A loop, not push(...): a .jsonl of short lines gives more documents than a call's arguments can hold.
  for (const f of files) for (const d of await fileDocs(f)) docs.push(d);
  const seen = new Set<string>();
  for (const d of docs) {
    if (seen.has(d.id)) throw new RefusedFile(`two documents share the id "${d.id}"`);
    seen.add(d.id);
  }
  return docs;
}

async function fileDocs(file: File): Promise<IndexDoc[]> {
  const ext = /\.([a-z0-9]+)$/i.exec(file.name)?.[1]?.toLowerCase();
  if (!ext || !(KINDS as readonly string[]).includes(ext)) throw new RefusedFile(`${file.name}: only .txt, .md and .jsonl files can be indexed`);
  if (file.size > MAX_FILE_BYTES)
    throw new RefusedFile(`${file.name} is ${(file.size / 1048576).toFixed(1)} MB; the limit is ${MAX_FILE_BYTES / 1048576} MB per file`);
  const text = decodeText(new Uint8Array(await file.arrayBuffer()), file.name);
  if (ext !== 'jsonl') return text.trim() ? [{ id: file.name, text, metadata: { file: file.name, title: file.name } }] : [];
  return jsonlDocs(text, file.name);
}

/** UTF-8 or refused: a NUL byte or an invalid sequence means the file is binary (an image, a zip…). */
export function decodeText(bytes: Uint8Array, name: string): string {
  if (bytes.subarray(0, 8192).includes(0)) throw new RefusedFile(`${name} looks like a binary file (it contains NUL bytes), not text`);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new RefusedFile(`${name} is not UTF-8 text (it looks like a binary file)`);
  }
}

/** One JSON object per line with a string `text`; `id` (string or number) optional, other fields become metadata. */
export function jsonlDocs(text: string, name: string): IndexDoc[] {
  const docs: IndexDoc[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch {
      throw new RefusedFile(`${name}, line ${i + 1}: not valid JSON`);
    }
    if (!row || typeof row !== 'object' || Array.isArray(row))
      throw new RefusedFile(`${name}, line ${i + 1}: expected an object like {"id": "…", "text": "…"}`);
    const { id, text: body, ...rest } = row as Record<string, unknown>;
    if (typeof body !== 'string') throw new RefusedFile(`${name}, line ${i + 1}: "text" must be a string`);
    if (id !== undefined && typeof id !== 'string' && typeof id !== 'number')
      throw new RefusedFile(`${name}, line ${i + 1}: "id" must be a string or a number`);
    const docId = id === undefined || id === '' ? `${name}:${i + 1}` : String(id);
    docs.push({ id: docId, text: body, metadata: { file: name, title: typeof rest.title === 'string' ? rest.title : docId, ...rest } });
  });
  return docs;
}
