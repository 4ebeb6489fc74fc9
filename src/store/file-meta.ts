/** FileStore's commit record, meta.json: read and checked, or written atomically. */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { M3StorageError } from './errors.ts';
import { META, REPAIR } from './file-layout.ts';
import { metaProblem } from './segment-check.ts';
import { type MetaRecord, SCHEMA_VERSION } from './types.ts';
import { writeAtomic } from './write-atomic.ts';

/** meta.json of `dir` and its text (null, null where there is none); refuses a damaged or newer one. */
export async function readMetaFile(dir: string): Promise<{ meta: MetaRecord | null; text: string | null }> {
  const path = join(dir, META);
  let text: string;
  try {
    text = await fsp.readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { meta: null, text: null };
    throw e;
  }
  let meta: MetaRecord;
  try {
    meta = JSON.parse(text);
  } catch (e) {
    throw new M3StorageError('CORRUPT', `${path} is not valid JSON (${(e as Error).message}); the index's commit record is damaged: ${REPAIR}`, e);
  }
  const problem = metaProblem(meta);
  if (problem) throw new M3StorageError('CORRUPT', `${path} is damaged (${problem}); ${REPAIR}`);
  if (meta.schemaVersion > SCHEMA_VERSION) {
    throw new M3StorageError(
      'NEWER_SCHEMA',
      `${path}: the index has schema version ${meta.schemaVersion}, written by a newer m3-search; this version reads up to ${SCHEMA_VERSION}: upgrade m3-search`,
    );
  }
  return { meta, text };
}

/** Writes meta.json (the commit point) and returns its text. */
export async function writeMetaFile(dir: string, meta: MetaRecord): Promise<string> {
  const text = JSON.stringify(meta);
  await writeAtomic(dir, META, new TextEncoder().encode(text));
  return text;
}
