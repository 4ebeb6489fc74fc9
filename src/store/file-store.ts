/**
 * Node store: one directory per index.
 *
 *   meta.json          MetaRecord — the commit point: it lists the segments that exist
 *   seg-<seq>.m3s      one file per segment (segment-file.ts), its documents inside, checksummed
 *   head-<v>.m3h       tuned sparse heads
 *   write.lock         held while a process writes (lock-file.ts: atomic create, owner token, stale only
 *                      when the owner is provably dead on this host)
 *
 * Every file is written to a temp name, fsynced and renamed over the target, then the directory is
 * fsynced. A commit writes the segment files first and meta.json last, so a process killed at any point
 * leaves either the old meta (the new segment files are orphans, removed by the next writable open) or the
 * new one (the segments are complete): whole batches or nothing. An import (replace) writes its segments
 * under fresh numbers and switches meta.json last, so until that rename the old index is untouched.
 *
 * open() refuses a folder that is not an index (no meta.json, and files that are not ours): it never
 * deletes anything there. `readOnly: true` (search, export) takes no lock and writes and deletes nothing.
 *
 * The folder's names and foreign-file checks are in file-layout.ts, meta.json in file-meta.ts, segment files
 * (and their upgrade) in file-segments.ts, heads in file-heads.ts; this class holds the loaded index.
 */
import { promises as fsp, type FSWatcher, watch } from 'node:fs';
import { join } from 'node:path';
import { M3ClosedError, M3StorageError } from './errors.ts';
import { readHeadFiles, writeHeadFile } from './file-heads.ts';
import { LOCK, META, REPAIR, refuseForeign, removeLeftovers, SEG_RE, segName } from './file-layout.ts';
import { readMetaFile, writeMetaFile } from './file-meta.ts';
import { readSegmentFiles, upgradeSegmentFiles, writeSegmentFile } from './file-segments.ts';
import type { LegacyDoc } from './legacy.ts';
import { acquireLock } from './lock-file.ts';
import { type DecodedSegmentFile, SEGMENT_FILE_VERSION } from './segment-file.ts';
import { type CommitBatch, type DocRecord, type HeadBlob, type MetaRecord, SCHEMA_VERSION, type SegmentRecord, type StorageInfo, type Store } from './types.ts';

export interface FileStoreOptions {
  /** Open for reading only: no lock, no cleanup, no writes; a folder without an index is an error. */
  readOnly?: boolean;
  /** How long a writer waits for a live holder of the lock (default 60 s). */
  lockTimeoutMs?: number;
}

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
  /** meta.json's text as last read or written: another writer's commit shows as a different text. */
  private metaText: string | null = null;
  readonly readOnly: boolean;

  constructor(
    readonly dir: string,
    private readonly opts: FileStoreOptions = {},
  ) {
    this.readOnly = opts.readOnly ?? false;
  }

  async open(): Promise<MetaRecord | null> {
    this.closed = false;
    if (this.readOnly) {
      const names = await fsp.readdir(this.dir).catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') throw new M3StorageError('NOT_AN_INDEX', `no m3-search index at ${this.dir}: the folder does not exist`);
        throw e;
      });
      if (!names.includes(META)) throw new M3StorageError('NOT_AN_INDEX', `${this.dir} is not an m3-search index (it has no ${META}); nothing was changed`);
      await this.reload();
      return this.meta && structuredClone(this.meta);
    }
    await fsp.mkdir(this.dir, { recursive: true });
    await refuseForeign(this.dir);
    await this.withWriteLock(async () => {
      await this.reload();
      await removeLeftovers(this.dir, new Set(this.meta?.segments ?? []));
      if (this.meta && this.meta.schemaVersion < SCHEMA_VERSION) await this.migrate();
    });
    return this.meta && structuredClone(this.meta);
  }

  /**
   * Schema 2 or 3 → 4: segment files are rewritten in the current format (format 1 → 3 adds the checksum,
   * 2 → 3 re-codes the postings). Each file is checked, then replaced atomically; meta.json records the new
   * schema last. A crash midway leaves a readable mix that the next open finishes.
   */
  private async migrate(): Promise<void> {
    const meta = this.meta!;
    await upgradeSegmentFiles(this.dir, meta.segments);
    await this.writeMeta({ ...meta, schemaVersion: SCHEMA_VERSION });
    this.files.clear();
    await this.reload();
  }

  private async writeMeta(meta: MetaRecord): Promise<void> {
    this.metaText = await writeMetaFile(this.dir, meta);
  }

  /** Reads meta.json and every segment it lists that isn't loaded yet. */
  private async reload(): Promise<void> {
    // A reader without the lock can race a compaction that deletes the segment files the meta it read
    // listed: a missing file under a meta.json that changed meanwhile is read again from the new meta.
    for (let attempt = 0; ; attempt++) {
      const { meta, text } = await readMetaFile(this.dir);
      try {
        this.files = await readSegmentFiles(this.dir, meta, this.files);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT' && attempt < 5 && (await readMetaFile(this.dir)).text !== text) continue;
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
          throw new M3StorageError(
            'CORRUPT',
            `${(e as NodeJS.ErrnoException).path}: a segment file that ${join(this.dir, META)} lists is missing; ${REPAIR}`,
            e,
          );
        }
        throw e;
      }
      this.meta = meta;
      this.metaText = text;
      break;
    }
    this.indexIds();
  }

  private indexIds(): void {
    const dead = new Set(this.meta?.tombstones ?? []);
    this.where.clear();
    for (const [seq, f] of this.files) {
      const s = f.segment;
      for (let i = 0; i < s.ids.length; i++) if (!dead.has(s.keys[i])) this.where.set(s.ids[i], [seq, i]);
    }
  }

  async readMeta(): Promise<MetaRecord | null> {
    this.check();
    // Compared by text, not by updatedAt: two commits can fall in one millisecond.
    const onDisk = await fsp.readFile(join(this.dir, META), 'utf8').catch(() => null);
    if (onDisk !== this.metaText) await this.reload(); // another process wrote
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
    this.writable();
    const given = new Map((batch.putDocs ?? []).map((d) => [d.id, d]));
    // Documents of the segments a compaction or merge replaces, by key: a merge keeps dead rows too.
    const old = new Map<number, DocRecord>();
    for (const seq of batch.deleteSegments ?? []) for (const d of this.files.get(seq)?.docs() ?? []) old.set(d.key, d);
    let dead: Set<number> | null = null;
    for (const seg of batch.segments ?? []) {
      // A segment file carries its documents: new ones from the batch, the rest (compaction) from the
      // files they live in now.
      const docs: DocRecord[] = [];
      for (const [i, id] of seg.ids.entries()) {
        const key = seg.keys[i];
        let d = given.get(id) ?? old.get(key) ?? (await this.getDoc(id));
        if (d && d.key !== key) d = undefined;
        // A dead row without its text (an import drops those) keeps its place: a tombstone hides it.
        if (!d && (dead ??= new Set(batch.meta.tombstones)).has(key)) d = { id, key, text: '' };
        if (!d) throw new Error(`FileStore: no document record for "${id}"`);
        docs.push(d);
      }
      await writeSegmentFile(this.dir, seg, docs);
      this.files.set(seg.seq, { segment: seg, docs: () => docs, version: SEGMENT_FILE_VERSION }); // no need to read it back
    }
    await this.writeMeta(batch.meta);
    // Committed. Old segment files are garbage now (an open would remove them anyway).
    for (const seq of batch.deleteSegments ?? []) await fsp.rm(join(this.dir, segName(seq)), { force: true });
    await this.reload();
  }

  /**
   * Replaces the whole index (an import): the new segments are written under numbers no file uses, then
   * meta.json is switched (the atomic step), then the old segment files are removed. A failure before the
   * switch removes what it wrote and leaves the old index exactly as it was.
   */
  async replace(meta: MetaRecord, segments: SegmentRecord[], docs: DocRecord[]): Promise<void> {
    this.writable();
    const byKey = new Map(docs.map((d) => [d.key, d]));
    const dead = new Set(meta.tombstones);
    const existing = (await fsp.readdir(this.dir))
      .map((n) => SEG_RE.exec(n))
      .filter((m) => m)
      .map((m) => Number(m![1]));
    let seq = Math.max(meta.nextSeq, this.meta?.nextSeq ?? 0, ...existing.map((s) => s + 1));
    const renumbered = segments.map((s) => ({ ...s, seq: seq++ }));
    const written: string[] = [];
    try {
      for (const seg of renumbered) {
        const segDocs: DocRecord[] = [];
        for (let i = 0; i < seg.keys.length; i++) {
          const d = byKey.get(seg.keys[i]);
          if (d) segDocs.push(d);
          else if (!dead.has(seg.keys[i])) throw new Error(`FileStore: no document record for "${seg.ids[i]}"`);
        }
        written.push(segName(seg.seq));
        await writeSegmentFile(this.dir, seg, segDocs);
      }
      await this.writeMeta({ ...meta, schemaVersion: SCHEMA_VERSION, nextSeq: seq, segments: renumbered.map((s) => s.seq) });
    } catch (e) {
      for (const name of written) await fsp.rm(join(this.dir, name), { force: true });
      throw e;
    }
    const keep = new Set(renumbered.map((s) => segName(s.seq)));
    for (const name of await fsp.readdir(this.dir)) if (SEG_RE.test(name) && !keep.has(name)) await fsp.rm(join(this.dir, name), { force: true });
    this.files.clear();
    await this.reload();
  }

  async reset(meta: MetaRecord | null): Promise<void> {
    this.writable();
    if (meta) await this.writeMeta(meta);
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
    if (this.readOnly) return Promise.reject(this.readOnlyError());
    const run = this.queue.then(
      () => this.locked(fn),
      () => this.locked(fn),
    );
    this.queue = run.catch(() => {});
    return run;
  }

  private async locked<T>(fn: () => Promise<T>): Promise<T> {
    const release = await acquireLock(join(this.dir, LOCK), this.opts.lockTimeoutMs);
    try {
      return await fn();
    } finally {
      await release();
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

  /** Tuned heads: `head-<version>.m3h` (file-heads.ts); open() and reset() leave them alone. */
  readHeads(): Promise<HeadBlob[]> {
    return readHeadFiles(this.dir);
  }

  async writeHead(head: HeadBlob): Promise<void> {
    this.writable();
    await writeHeadFile(this.dir, head);
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

  private writable(): void {
    this.check();
    if (this.readOnly) throw this.readOnlyError();
  }

  private readOnlyError(): M3StorageError {
    return new M3StorageError('READ_ONLY', `the index at ${this.dir} was opened read-only; open it without { readOnly: true } to change it`);
  }
}
