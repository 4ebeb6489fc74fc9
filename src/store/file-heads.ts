/** FileStore's tuned heads: `head-<version>.m3h`, written atomically; open() and reset() leave them alone. */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import type { HeadBlob } from './types.ts';
import { writeAtomic } from './write-atomic.ts';

export async function readHeadFiles(dir: string): Promise<HeadBlob[]> {
  const out: HeadBlob[] = [];
  for (const name of await fsp.readdir(dir)) {
    const m = /^head-(\d+)\.m3h$/.exec(name);
    if (m) out.push({ version: Number(m[1]), bytes: new Uint8Array(await fsp.readFile(join(dir, name))) });
  }
  return out.sort((a, b) => a.version - b.version);
}

export async function writeHeadFile(dir: string, head: HeadBlob): Promise<void> {
  await writeAtomic(dir, `head-${String(head.version).padStart(4, '0')}.m3h`, head.bytes);
}
