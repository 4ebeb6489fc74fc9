/**
 * What a FileStore index folder holds (file-store.ts lists the files and why), and how a folder that is not
 * an index, or the leftovers of a killed writer, are told apart from it.
 */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { M3StorageError } from './errors.ts';
import { processRunning as running } from './lock-file.ts';

export const META = 'meta.json';
export const LOCK = 'write.lock';
export const segName = (seq: number) => `seg-${String(seq).padStart(8, '0')}.m3s`;
export const SEG_RE = /^seg-(\d+)\.m3s$/;
/** Temp files this store writes: `<target>.<pid>.<random>.tmp` (writeAtomic) and the lock's own. */
const TMP_RE = /^(meta\.json|seg-\d+\.m3s|head-\d+\.m3h|write\.lock(?:\.break)?)\.(\d+)\.[a-z0-9.]+\.tmp$/;
const OURS_RE = /^(meta\.json|seg-\d+\.m3s|head-\d+\.m3h|write\.lock(\.break)?)$/;
export const REPAIR = 'restore the folder from a backup, or rebuild the index (m3-search index)';

/**
 * A folder without meta.json is a new index only if it holds nothing but what this store writes (an
 * empty folder, or the leftovers of a first commit that was killed); anything else is someone's files.
 */
export async function refuseForeign(dir: string): Promise<void> {
  const names = await fsp.readdir(dir);
  if (names.includes(META)) return;
  const foreign: string[] = [];
  for (const name of names) {
    if (!OURS_RE.test(name) && !TMP_RE.test(name)) foreign.push(name);
    else if (SEG_RE.test(name) && !(await startsWith(join(dir, name), 'M3SG'))) foreign.push(name);
  }
  if (foreign.length) {
    const list = foreign.slice(0, 5).join(', ') + (foreign.length > 5 ? ` and ${foreign.length - 5} more` : '');
    throw new M3StorageError(
      'NOT_AN_INDEX',
      `${dir} is not an m3-search index (it has no ${META}, and holds other files: ${list}); ` +
        'nothing was changed: give an empty or new folder for a new index',
    );
  }
}

/**
 * Leftovers of a killed writer: our temp files, and segment files that no meta.json lists. Called under
 * the lock, so a live writer's files in flight are not taken for leftovers.
 */
export async function removeLeftovers(dir: string, listed: Set<number>): Promise<void> {
  for (const name of await fsp.readdir(dir)) {
    const m = SEG_RE.exec(name);
    const t = TMP_RE.exec(name);
    // Temp files of live processes (a head written outside the lock, a racer's lock record) stay; a data
    // temp file of our own pid is a past run's (pid 1 in containers): we hold the lock.
    const pid = Number(t?.[2]);
    const leftover = t ? !running(pid) || (pid === process.pid && !t[1].startsWith('write.lock')) : m && !listed.has(Number(m[1]));
    if (leftover) await fsp.rm(join(dir, name), { force: true });
  }
}

async function startsWith(path: string, magic: string): Promise<boolean> {
  const fh = await fsp.open(path, 'r');
  try {
    const b = Buffer.alloc(magic.length);
    await fh.read(b, 0, magic.length, 0);
    return b.toString('latin1') === magic;
  } finally {
    await fh.close();
  }
}
