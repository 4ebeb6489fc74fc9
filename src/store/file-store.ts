/**
 * Node store: one directory per index.
 *
 *   meta.json          MetaRecord — the commit point: it lists the segments that exist
 *   seg-<seq>.m3s      one file per segment (segment-file.ts), its documents inside
 *   write.lock         held (pid inside) while a process writes; a dead holder's lock is taken over
 *
 * Every file is written to a temp name, fsynced and renamed over the target, then the directory is
 * fsynced. A commit writes the segment file first and meta.json last, so a process killed at any point
 * leaves either the old meta (the new segment file is an orphan, removed on the next open) or the new one
 * (the segment is complete): whole batches or nothing.
 */
import { promises as fsp, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { M3ClosedError } from './errors.ts';
import type { LegacyDoc } from './legacy.ts';
import { decodeSegmentFile, encodeSegmentFile, type DecodedSegmentFile } from './segment-file.ts';
import type { CommitBatch, DocRecord, HeadBlob, MetaRecord, SegmentRecord, StorageInfo, Store } from './types.ts';

const META = 'meta.json';
const LOCK = 'write.lock';
const segName = (seq: number) => `seg-${String(seq).padStart(8, '0')}.m3s`;
const SEG_RE = /^seg-(\d+)\.m3s$/;
/** Level 1: ~2× smaller texts for a few ms per 1,000 docs; higher levels gain little on short texts. */
const CODEC = { deflate: (b: Uint8Array) => deflateRawSync(b, { level: 1 }), inflate: (b: Uint8Array) => inflateRawSync(b) };

export class FileStore implements Store {
  readonly kind = 'file' as const;
  private meta: MetaRecord | null = null;
  private files = new Map<number, DecodedSegmentFile>();
  /** Live id → (segment, local doc index), for get(). */
  private where = new Map<string, [number, number]>();
  private closed = false;
  private queue: Promise<unknown> = Promise.resolve();
  private watcher: FSWatcher | null = null;
  private readonly remote = new Set<() => void>();

  constructor(readonly dir: string) {}

  async open(): Promise<MetaRecord | null> {
    await fsp.mkdir(this.dir, { recursive: true });
    this.closed = false;
    // Leftovers of a killed writer: temp files, and segment files that no meta.json lists. Under the
    // lock, so a live writer's files in flight are not taken for leftovers.
    await this.withWriteLock(async () => {
      await this.reload();
      const listed = new Set(this.meta?.segments ?? []);
      for (const name of await fsp.readdir(this.dir)) {
        const m = SEG_RE.exec(name);
        if (name.endsWith('.tmp') || (m && !listed.has(Number(m[1])))) await fsp.rm(join(this.dir, name), { force: true });
      }
    });
    return this.meta && structuredClone(this.meta);
  }

  /** Reads meta.json and every segment it lists that isn't loaded yet. */
  private async reload(): Promise<void> {
    this.meta = await readJson<MetaRecord>(join(this.dir, META));
    const listed = this.meta?.segments ?? [];
    const keep = new Map<number, DecodedSegmentFile>();
    // Read missing segments a few at a time: overlapping reads hide the disk's latency.
    const missing = listed.filter((seq) => !this.files.has(seq));
    const read = new Map<number, DecodedSegmentFile>();
    for (let i = 0; i < missing.length; i += 8) {
      await Promise.all(
        missing.slice(i, i + 8).map(async (seq) => {
          const path = join(this.dir, segName(seq));
          read.set(seq, decodeSegmentFile(new Uint8Array(await fsp.readFile(path)), path, CODEC));
        }),
      );
    }
    for (const seq of listed) keep.set(seq, this.files.get(seq) ?? read.get(seq)!);
    this.files = keep;
    const dead = new Set(this.meta?.tombstones ?? []);
    this.where.clear();
    for (const [seq, f] of this.files) {
      const s = f.segment;
      for (let i = 0; i < s.ids.length; i++) if (!dead.has(s.keys[i])) this.where.set(s.ids[i], [seq, i]);
    }
  }

  async readMeta(): Promise<MetaRecord | null> {
    this.check();
    const onDisk = await readJson<MetaRecord>(join(this.dir, META));
    if (onDisk && onDisk.updatedAt !== this.meta?.updatedAt) await this.reload(); // another process wrote
    return this.meta && structuredClone(this.meta);
  }

  async readSegments(only?: number[]): Promise<SegmentRecord[]> {
    this.check();
    const seqs = only ?? [...this.files.keys()].sort((a, b) => a - b);
    return seqs.map((s) => this.files.get(s)?.segment).filter((s): s is SegmentRecord => !!s);
  }

  async getDoc(id: string): Promise<DocRecord | undefined> {
    this.check();
    const w = this.where.get(id);
    if (!w) return undefined;
    return this.files.get(w[0])?.docs()[w[1]];
  }

  async getDocs(ids: string[]): Promise<(DocRecord | undefined)[]> {
    return Promise.all(ids.map((id) => this.getDoc(id)));
  }

  async allDocs(): Promise<DocRecord[]> {
    this.check();
    const out: DocRecord[] = [];
    for (const [id] of this.where) out.push((await this.getDoc(id))!);
    return out;
  }

  async legacyDocs(): Promise<LegacyDoc[]> {
    return [];
  }

  async commit(batch: CommitBatch): Promise<void> {
    this.check();
    const given = new Map((batch.putDocs ?? []).map((d) => [d.id, d]));
    for (const seg of batch.segments ?? []) {
      // A segment file carries its documents: new ones from the batch, the rest (compaction) from the
      // files they live in now.
      const docs: DocRecord[] = [];
      for (const id of seg.ids) {
        const d = given.get(id) ?? (await this.getDoc(id));
        if (!d) throw new Error(`FileStore: no document record for "${id}"`);
        docs.push(d);
      }
      await writeAtomic(this.dir, segName(seg.seq), encodeSegmentFile(seg, docs, CODEC));
      this.files.set(seg.seq, { segment: seg, docs: () => docs }); // no need to read it back
    }
    await writeAtomic(this.dir, META, new TextEncoder().encode(JSON.stringify(batch.meta)));
    // Committed. Old segment files are garbage now (an open would remove them anyway).
    for (const seq of batch.deleteSegments ?? []) await fsp.rm(join(this.dir, segName(seq)), { force: true });
    await this.reload();
  }

  async reset(meta: MetaRecord | null): Promise<void> {
    this.check();
    if (meta) await writeAtomic(this.dir, META, new TextEncoder().encode(JSON.stringify(meta)));
    else await fsp.rm(join(this.dir, META), { force: true });
    for (const name of await fsp.readdir(this.dir)) if (SEG_RE.test(name)) await fsp.rm(join(this.dir, name), { force: true });
    this.files.clear();
    await this.reload();
  }

  async storage(): Promise<StorageInfo> {
    let usage = 0;
    for (const name of await fsp.readdir(this.dir)) usage += (await fsp.stat(join(this.dir, name))).size;
    let quota: number | null = null;
    try {
      const s = await fsp.statfs(this.dir);
      quota = usage + s.bavail * s.bsize;
    } catch {
      /* statfs missing on some platforms */
    }
    return { usage, quota, persisted: true };
  }

  /** In-process queue plus a lock file, so two processes never interleave commits. */
  withWriteLock<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(
      () => this.locked(fn),
      () => this.locked(fn),
    );
    this.queue = run.catch(() => {});
    return run;
  }

  private async locked<T>(fn: () => Promise<T>): Promise<T> {
    const path = join(this.dir, LOCK);
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        await fsp.writeFile(path, String(process.pid), { flag: 'wx' });
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        const holder = Number(await fsp.readFile(path, 'utf8').catch(() => ''));
        if (!holder || !alive(holder)) {
          await fsp.rm(path, { force: true }); // holder died: take over
          continue;
        }
        if (Date.now() > deadline) throw new Error(`FileStore: ${path} held by process ${holder} for over a minute`);
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    try {
      return await fn();
    } finally {
      await fsp.rm(path, { force: true });
    }
  }

  onRemoteCommit(cb: () => void): () => void {
    this.remote.add(cb);
    if (!this.watcher) {
      try {
        this.watcher = watch(this.dir, { persistent: false }, (_ev, name) => {
          if (name === META) for (const f of this.remote) f();
        });
      } catch {
        /* watching is a convenience; refresh() still works */
      }
    }
    return () => this.remote.delete(cb);
  }

  onVersionChange(): void {}

  /** Tuned heads: `head-<version>.m3h`, written atomically; open() and reset() leave them alone. */
  async readHeads(): Promise<HeadBlob[]> {
    const out: HeadBlob[] = [];
    for (const name of await fsp.readdir(this.dir)) {
      const m = /^head-(\d+)\.m3h$/.exec(name);
      if (m) out.push({ version: Number(m[1]), bytes: new Uint8Array(await fsp.readFile(join(this.dir, name))) });
    }
    return out.sort((a, b) => a.version - b.version);
  }

  async writeHead(head: HeadBlob): Promise<void> {
    await writeAtomic(this.dir, `head-${String(head.version).padStart(4, '0')}.m3h`, head.bytes);
  }

  close(): void {
    this.closed = true;
    this.watcher?.close();
    this.watcher = null;
    this.files.clear();
    this.where.clear();
  }

  private check(): void {
    if (this.closed) throw new M3ClosedError(`index at ${this.dir} is closed`);
  }
}

function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readJson<T>(path: string): Promise<T | null> {
  try {
    return JSON.parse(await fsp.readFile(path, 'utf8')) as T;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/** temp + fsync + rename + directory fsync: the target is replaced whole or not at all. */
async function writeAtomic(dir: string, name: string, bytes: Uint8Array): Promise<void> {
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
