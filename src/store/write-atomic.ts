import { promises as fsp } from 'node:fs';
import { join } from 'node:path';

/** temp + fsync + rename + directory fsync: the target is replaced whole or not at all. */
export async function writeAtomic(dir: string, name: string, bytes: Uint8Array): Promise<void> {
  const tmp = join(dir, `${name}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
  const fh = await fsp.open(tmp, 'w');
  try {
    await fh.writeFile(bytes);
    await fh.sync();
  } catch (e) {
    await fh.close();
    await fsp.rm(tmp, { force: true });
    throw e;
  }
  await fh.close();
  await fsp.rename(tmp, join(dir, name));
  const d = await fsp.open(dir, 'r');
  try {
    await d.sync();
  } catch {
    /* some filesystems refuse directory fsync */
  } finally {
    await d.close();
  }
}
