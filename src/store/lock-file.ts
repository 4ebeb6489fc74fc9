/**
 * An exclusive lock between processes, as a file (Node). The lock file appears whole in one atomic step:
 * the owner record is written to a private temp file and hard-linked to the lock's name, which fails if the
 * name exists. So a racer never reads a half-written lock, and never mistakes it for a dead one.
 *
 * The record names its owner: a random token, host, pid, the process's start time and the boot id. A lock
 * is stale only when its owner is provably gone on this host: the pid is not running, or it runs but
 * started at another time (the pid was reused), or the machine rebooted since, or it is our own pid with a
 * token this process never issued (a previous run in a container, where every run is pid 1). A lock from
 * another host is never taken over. Breaking a stale lock happens under a second lock (`<lock>.break`) and
 * only if the lock file still holds the record that was judged dead, so two breakers can't both win, and a
 * release removes the file only if it still holds our token.
 */
import { readFileSync, promises as fsp } from 'node:fs';
import { hostname } from 'node:os';
import { M3StorageError } from './errors.ts';

interface Owner {
  token: string;
  host: string;
  pid: number;
  /** Process start time (Linux: clock ticks after boot, from /proc); null where unknown. */
  start: string | null;
  boot: string | null;
  createdAt: number;
}

/** Tokens held by this process (any copy of this module), so two stores in one process exclude each other. */
const HELD: Set<string> = ((globalThis as Record<symbol, unknown>)[Symbol.for('m3-search.lock-tokens')] ??= new Set<string>()) as Set<string>;

const BREAK_STALE_MS = 10_000;

export async function acquireLock(path: string, timeoutMs = 60_000): Promise<() => Promise<void>> {
  const me = owner();
  const body = JSON.stringify(me);
  const deadline = Date.now() + timeoutMs;
  let wait = 4;
  for (;;) {
    if (await createWhole(path, body, me.token)) {
      HELD.add(me.token);
      return () => release(path, me.token);
    }
    const raw = await readRaw(path);
    if (raw === null) continue; // released meanwhile: try again at once
    const verdict = judge(raw);
    if (verdict.stale) {
      await breakStale(path, raw, me);
      continue;
    }
    if (Date.now() > deadline) {
      throw new M3StorageError(
        'LOCKED',
        `${path} has been held by ${verdict.who} for over ${Math.round(timeoutMs / 1000)} s; ` +
          `if no m3-search process is writing this index (on that host), delete ${path} and retry`,
      );
    }
    await new Promise((r) => setTimeout(r, wait + Math.random() * wait));
    wait = Math.min(wait * 2, 100);
  }
}

/** Creates `path` holding `body`, atomically and whole; false if it exists. */
async function createWhole(path: string, body: string, token: string): Promise<boolean> {
  const tmp = `${path}.${process.pid}.${token}.tmp`;
  await fsp.writeFile(tmp, body, { flag: 'wx' });
  try {
    await fsp.link(tmp, path);
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code === 'EPERM' || code === 'ENOTSUP' || code === 'ENOSYS') {
      // A filesystem without hard links: exclusive create, then write. A racer may see it empty for a
      // moment; judge() treats a young unreadable lock as live.
      try {
        await fsp.writeFile(path, body, { flag: 'wx' });
        return true;
      } catch (e2) {
        if ((e2 as NodeJS.ErrnoException).code === 'EEXIST') return false;
        throw e2;
      }
    }
    throw e;
  } finally {
    await fsp.rm(tmp, { force: true });
  }
}

async function readRaw(path: string): Promise<{ text: string; mtimeMs: number } | null> {
  try {
    const [text, st] = await Promise.all([fsp.readFile(path, 'utf8'), fsp.stat(path)]);
    return { text, mtimeMs: st.mtimeMs };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

function judge(raw: { text: string; mtimeMs: number }): { stale: boolean; who: string } {
  let o: Partial<Owner> | null = null;
  try {
    o = JSON.parse(raw.text);
  } catch {
    /* an earlier version's lock (the pid alone), or a torn one */
  }
  if (!o || typeof o !== 'object') {
    if (/^\d+$/.test(raw.text.trim())) {
      // Earlier versions wrote the pid alone. Ours is never in that form, so our pid there is a past run's.
      const pid = Number(raw.text.trim());
      return { stale: pid === process.pid || !processRunning(pid), who: `process ${pid}` };
    }
    return { stale: Date.now() - raw.mtimeMs > BREAK_STALE_MS, who: 'an unreadable lock record' };
  }
  const who = `process ${o.pid} on ${o.host} (since ${new Date(o.createdAt ?? 0).toISOString()})`;
  if (o.host !== hostname()) return { stale: false, who };
  const here = owner(false);
  if (o.boot && here.boot && o.boot !== here.boot) return { stale: true, who }; // rebooted since
  if (typeof o.pid !== 'number') return { stale: true, who };
  if (o.pid === process.pid) return { stale: !HELD.has(String(o.token)), who };
  if (!processRunning(o.pid)) return { stale: true, who };
  const start = startTime(o.pid);
  return { stale: !!(o.start && start && o.start !== start), who };
}

/** Removes the stale lock `raw` under `<path>.break`, if the lock file still holds that record. */
async function breakStale(path: string, raw: { text: string }, me: Owner): Promise<void> {
  const brk = `${path}.break`;
  const body = JSON.stringify(me);
  if (!(await createWhole(brk, body, me.token))) {
    const b = await readRaw(brk);
    if (b && judge(b).stale) await removeIfStill(brk, b.text, me.token);
    else await new Promise((r) => setTimeout(r, 2 + Math.random() * 4));
    return;
  }
  try {
    await removeIfStill(path, raw.text, me.token);
  } finally {
    await removeIfStill(brk, body, me.token);
  }
}

/**
 * Removes `path` if it holds `text`: moved aside first (atomic), then checked; a file that turns out to be
 * another (a racer's fresh lock) is put back.
 */
async function removeIfStill(path: string, text: string, token: string): Promise<void> {
  const grave = `${path}.${process.pid}.${token}.grave.tmp`;
  try {
    await fsp.rename(path, grave);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  try {
    if ((await fsp.readFile(grave, 'utf8')) !== text) await fsp.link(grave, path).catch(() => {});
  } finally {
    await fsp.rm(grave, { force: true });
  }
}

async function release(path: string, token: string): Promise<void> {
  HELD.delete(token);
  const raw = await readRaw(path);
  if (!raw) return;
  let t: unknown;
  try {
    t = JSON.parse(raw.text)?.token;
  } catch {
    return;
  }
  if (t === token) await removeIfStill(path, raw.text, token); // never someone else's
}

let self: Omit<Owner, 'token' | 'createdAt'> | undefined;

function owner(fresh = true): Owner {
  self ??= { host: hostname(), pid: process.pid, start: startTime(process.pid), boot: readText('/proc/sys/kernel/random/boot_id') };
  return { ...self, token: fresh ? randomToken() : '', createdAt: Date.now() };
}

function randomToken(): string {
  const b = new Uint8Array(12);
  globalThis.crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

/** Start time of a process in clock ticks after boot (Linux /proc), or null where that can't be read. */
function startTime(pid: number): string | null {
  const stat = readText(`/proc/${pid}/stat`);
  if (!stat) return null;
  // Fields after the command name (which is in parentheses and may hold spaces); starttime is field 22.
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return null;
  }
}

/** Whether a process with this pid runs on this host (EPERM: it does, under another user). */
export function processRunning(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
