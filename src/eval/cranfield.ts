/**
 * The Cranfield 1400 collection: parsers for cran.all.1400, cran.qry and cranqrel, and a Node
 * loader. Parsers are pure (string in, data out); only loadCranfield touches the file system.
 *
 * Quirks handled (see the dataset README):
 * - query `.I` numbers run 001..365 with gaps, the qrels number queries 1..225 in file order;
 * - a few documents contain stray `.A`/`.B`/`.W` lines inside the abstract (docs 240, 576, 578):
 *   once `.W` has started, only `.I` ends the abstract and stray markers are dropped;
 * - doc 471 is empty; it stays in the collection (it counts in N, like any document);
 * - the qrels have blank lines, and code -1 = judged not relevant.
 */
import type { Qrels } from './metrics.ts';

export interface CranfieldDoc {
  /** The `.I` number, as a string ("1".."1400"). */
  id: string;
  title: string;
  authors: string;
  source: string;
  abstract: string;
}

export interface CranfieldQuery {
  /** 1-based position in cran.qry, as a string: what the qrels use. */
  id: string;
  /** The `.I` number printed in cran.qry (not what the qrels use). */
  fileId: string;
  text: string;
}

export interface Cranfield {
  docs: CranfieldDoc[];
  queries: CranfieldQuery[];
  qrels: Qrels;
}

type Field = 'T' | 'A' | 'B' | 'W';

function* records(text: string): Generator<{ id: string; fields: Record<Field, string[]> }> {
  let cur: { id: string; fields: Record<Field, string[]> } | null = null;
  let field: Field | null = null;
  for (const raw of text.split(/\r?\n/)) {
    const m = /^\.I\s+(\S+)\s*$/.exec(raw);
    if (m) {
      if (cur) yield cur;
      cur = { id: m[1], fields: { T: [], A: [], B: [], W: [] } };
      field = null;
      continue;
    }
    if (!cur) continue;
    const f = /^\.([TABW])\s*$/.exec(raw);
    if (f) {
      if (field !== 'W') field = f[1] as Field; // after .W, stray markers are part of the abstract's mess
      continue;
    }
    if (field) cur.fields[field].push(raw);
  }
  if (cur) yield cur;
}

const clean = (lines: string[]): string => lines.join('\n').replace(/\s+/g, ' ').trim();

export function parseCranfieldDocs(text: string): CranfieldDoc[] {
  const out: CranfieldDoc[] = [];
  for (const r of records(text)) {
    out.push({ id: String(Number(r.id)), title: clean(r.fields.T), authors: clean(r.fields.A), source: clean(r.fields.B), abstract: clean(r.fields.W) });
  }
  return out;
}

export function parseCranfieldQueries(text: string): CranfieldQuery[] {
  const out: CranfieldQuery[] = [];
  for (const r of records(text)) out.push({ id: String(out.length + 1), fileId: r.id, text: clean(r.fields.W) });
  return out;
}

/** qid → docid → gain: 5 − code for codes 1..4, 0 for -1 (judged, not relevant). */
export function parseCranfieldQrels(text: string): Qrels {
  const qrels: Qrels = new Map();
  for (const line of text.split(/\r?\n/)) {
    const parts = line.trim().split(/\s+/);
    if (parts.length < 3) continue;
    const [qid, docid, codeStr] = parts;
    const code = Number(codeStr);
    if (!Number.isInteger(code)) throw new Error(`cranqrel: bad line ${JSON.stringify(line)}`);
    const gain = code >= 1 && code <= 4 ? 5 - code : 0;
    let q = qrels.get(qid);
    if (!q) qrels.set(qid, (q = new Map()));
    // Duplicate judgements: keep the highest gain.
    q.set(String(Number(docid)), Math.max(gain, q.get(String(Number(docid))) ?? 0));
  }
  return qrels;
}

/** `CRANFIELD_DIR`, else the copy vendored at `data/cranfield` in the repository. */
export async function cranfieldDir(): Promise<string> {
  const env = typeof process !== 'undefined' ? process.env.CRANFIELD_DIR : undefined;
  if (env) return env;
  const { fileURLToPath } = await import('node:url');
  // This file is <root>/src/eval/cranfield.ts.
  return fileURLToPath(new URL('../../data/cranfield', import.meta.url));
}

/** Whether the three collection files are present in dir. */
export async function cranfieldAvailable(dir?: string): Promise<boolean> {
  const d = dir ?? (await cranfieldDir());
  const { access } = await import('node:fs/promises');
  const { join } = await import('node:path');
  try {
    await Promise.all(['cran.all.1400', 'cran.qry', 'cranqrel'].map((f) => access(join(d, f))));
    return true;
  } catch {
    return false;
  }
}

export async function loadCranfield(dir?: string): Promise<Cranfield> {
  const d = dir ?? (await cranfieldDir());
  const { readFile } = await import('node:fs/promises');
  const { join } = await import('node:path');
  const read = (f: string): Promise<string> => readFile(join(d, f), 'utf8');
  const [docs, queries, qrels] = await Promise.all([read('cran.all.1400'), read('cran.qry'), read('cranqrel')]);
  return { docs: parseCranfieldDocs(docs), queries: parseCranfieldQueries(queries), qrels: parseCranfieldQrels(qrels) };
}
