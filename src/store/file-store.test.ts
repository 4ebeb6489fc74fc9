import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { M3Index } from '../search/m3-index.ts';
import { corpus } from '../../test/support/test-corpus.ts';
import { FileStore } from './file-store.ts';
import { decodeSegmentFile, encodeSegmentFile } from './segment-file.ts';
import { buildSegment } from './segment-builder.ts';

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'm3fs-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('segment file format', () => {
  it('round-trips every block and its documents; a torn file is rejected', () => {
    const docs = corpus(40, 24, 3, { colbert: true });
    const seg = buildSegment(
      7,
      docs.map((d, i) => ({
        key: 100 + i,
        id: d.id,
        metadata: d.metadata ?? null,
        rows: [{ dense: d.embedding!.dense, sparse: d.embedding!.sparse, colbert: d.embedding!.colbert }],
        bm25: { tf: new Map([['w' + (i % 5), 2]]), length: 9 },
      })),
      { dims: 24, colbert: true },
    );
    const records = docs.map((d, i) => ({ id: d.id, key: 100 + i, text: d.text }));
    const bytes = encodeSegmentFile(seg, records);
    const back = decodeSegmentFile(bytes);
    expect(back.segment).toEqual(seg);
    expect(back.docs()).toEqual(records);
    expect(() => decodeSegmentFile(bytes.subarray(0, bytes.length - 10))).toThrow(/truncated|not an m3/);
  });
});

describe('FileStore', () => {
  it('persists across reopen and removes leftovers of a killed writer', async () => {
    const dir = tmp();
    const model = { modelId: 'precomputed', dims: 24, headHash: 'h' };
    const docs = corpus(120, 24, 9);
    let idx = await M3Index.open('f', { store: new FileStore(dir), model });
    await idx.add(docs, { batchSize: 40 });
    await idx.remove(['d3']);
    idx.close();
    writeFileSync(join(dir, 'seg-00000099.m3s'), 'half a segment'); // unlisted: an orphan
    writeFileSync(join(dir, 'meta.json.123.abc.tmp'), '{');
    idx = await M3Index.open('f', { store: new FileStore(dir), model });
    expect(idx.count()).toBe(119);
    // The three batches of 40 merged into one segment (tier 1 → 2); the orphan and the temp file are gone.
    expect(readdirSync(dir).sort()).toEqual(['meta.json', 'seg-00000003.m3s']);
    expect(await idx.get('d77')).toEqual({ id: 'd77', text: docs[77].text, metadata: docs[77].metadata });
    const q = { embedding: { dense: docs[77].embedding!.dense, sparse: docs[77].embedding!.sparse, tokens: 1, truncated: false } };
    expect((await idx.search(q, { k: 1 }))[0].id).toBe('d77');
    const st = await idx.storage();
    expect(st.usage).toBeGreaterThan(120 * 24);
    idx.close();
  });

  it('processes killed at each step of a commit leave every batch all present or all absent (12 kills)', async () => {
    const dir = tmp();
    const child = fileURLToPath(new URL('../../test/support/file-store-crash-child.ts', import.meta.url));
    const BATCH = 50;
    // Where each child is killed: every step of an add's commit (segment file, then meta.json, the commit point,
    // then the lock's release, which moves it aside before removing it), of a removal's (meta.json only) and of the compaction a removal sets off.
    const POINTS = [
      'add:open:seg:pre',
      'add:write:seg:torn',
      'add:sync:seg:pre',
      'add:rename:seg:post',
      'add:write:meta:torn',
      'add:rename:meta:pre',
      'add:rename:meta:post',
      'add:rename:lock:pre',
      'remove:rename:meta:pre',
      'remove:rename:meta:post',
      'remove:rename:seg:post',
      'remove:rm:seg:pre',
    ];
    // The parent's own model of which batches exist, from the operations the children reported.
    const present = new Set<number>();
    let added = 0;
    const apply = (o: { kind: string; batch: number }) => {
      if (o.kind === 'add') present.add(o.batch), (added = o.batch + 1);
      else present.delete(o.batch);
    };
    const log: string[] = [];
    for (const point of POINTS) {
      const applied = await new Promise<boolean>((resolve, reject) => {
        const p = spawn(process.execPath, ['--import', 'tsx', child, dir, point], { stdio: ['ignore', 'pipe', 'pipe'] });
        let inflight: { kind: string; batch: number } | null = null;
        let at: boolean | null = null;
        let err = '';
        let buf = '';
        p.stdout.on('data', (b: Buffer) => {
          buf += b.toString();
          for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
            const line = buf.slice(0, nl);
            buf = buf.slice(nl + 1);
            const m = /^op (add|remove) (\d+)$/.exec(line);
            if (m) inflight = { kind: m[1], batch: Number(m[2]) };
            else if (line === 'done') apply(inflight!), (inflight = null);
            else if (line.startsWith(`at ${point} `)) {
              at = line.endsWith('applied=1');
              if (at) apply(inflight!);
              log.push(`${point}: killed during ${inflight!.kind} ${inflight!.batch}, ${at ? 'after' : 'before'} its commit point`);
              p.kill('SIGKILL');
            }
          }
        });
        p.stderr.on('data', (b: Buffer) => (err += b.toString()));
        p.on('exit', (code, signal) =>
          signal === 'SIGKILL' && at !== null ? resolve(at) : reject(new Error(`child for ${point} exited ${code ?? signal} without reaching it: ${err}`)),
        );
      });
      expect(typeof applied).toBe('boolean');
      const idx = await M3Index.open('crash', { store: new FileStore(dir), model: { modelId: 'precomputed', dims: 64, headHash: 'h' } });
      // Every batch ever started is all there or all gone, exactly as the operations before the kill (and the one
      // killed, if past its commit point) left it.
      for (let b = 0; b <= added; b++) {
        const have = Array.from({ length: BATCH }, (_, i) => idx.has(`d${b * BATCH + i}`));
        const n = have.filter(Boolean).length;
        expect(n === 0 || n === BATCH, `${point}: batch ${b} has ${n} of ${BATCH} documents`).toBe(true);
        expect(n === BATCH, `${point}: batch ${b}`).toBe(present.has(b));
      }
      expect(idx.count()).toBe(present.size * BATCH);
      // No meta.json yet when the very first commit was killed before its commit point.
      const meta = existsSync(join(dir, 'meta.json')) ? JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) : { docCount: 0, segments: [] };
      expect(meta.docCount).toBe(present.size * BATCH);
      // Texts come back intact: the first and last document of every present batch.
      for (const b of present) {
        const docs = corpus(BATCH, 64, 1000 + b);
        for (const i of [0, BATCH - 1])
          expect(await idx.get(`d${b * BATCH + i}`)).toEqual({ id: `d${b * BATCH + i}`, text: docs[i].text, metadata: docs[i].metadata });
      }
      // The open removed the killed writer's temp files and orphan segments, and its lock is released.
      const files = readdirSync(dir);
      expect(files.filter((f) => f.endsWith('.tmp') || f === 'write.lock')).toEqual([]);
      expect(files.filter((f) => f.startsWith('seg-')).length).toBe(meta.segments.length);
      idx.close();
    }
    console.log(`FileStore kills:\n  ${log.join('\n  ')}`);
    expect(log.filter((l) => l.includes('after')).length).toBeGreaterThanOrEqual(3);
    expect(log.filter((l) => l.includes('before')).length).toBeGreaterThanOrEqual(3);
    expect(present.size).toBeGreaterThan(0);
  }, 300_000);
});

/** Runs a child script with tsx; resolves with its stdout, rejects with its stderr on a non-zero exit. */
function runChild(script: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL(script, import.meta.url)), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (b: Buffer) => (out += b.toString()));
    p.stderr.on('data', (b: Buffer) => (err += b.toString()));
    p.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`child exited ${code}: ${err}`))));
  });
}

const MODEL = { modelId: 'precomputed', dims: 16, headHash: 'h' };

describe('FileStore under concurrent writers', () => {
  it('4 processes × 6 batches into one folder: every document is there afterwards', async () => {
    const dir = tmp();
    const procs = 4;
    const batches = 6;
    const size = 20;
    await Promise.all(
      Array.from({ length: procs }, (_, p) => runChild('../../test/support/file-store-writer-child.ts', [dir, `p${p}`, String(batches), String(size)])),
    );
    const idx = await M3Index.open('stress', { store: new FileStore(dir), model: MODEL });
    const missing: string[] = [];
    for (let p = 0; p < procs; p++)
      for (let b = 0; b < batches; b++) for (let i = 0; i < size; i++) if (!idx.has(`p${p}-${b}-${i}`)) missing.push(`p${p}-${b}-${i}`);
    expect(missing).toEqual([]);
    expect(idx.count()).toBe(procs * batches * size);
    expect(JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')).docCount).toBe(procs * batches * size);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp') || f.startsWith('write.lock'))).toEqual([]);
    idx.close();
  }, 90_000);

  it('a lock naming this very process (a previous container run: pid 1 again) is stale, not waited on', async () => {
    const dir = tmp();
    const idx = await M3Index.open('f', { store: new FileStore(dir), model: MODEL });
    await idx.add(corpus(3, 16, 1));
    idx.close();
    // The format of earlier versions (the pid alone) and the current one (owner record) are both judged.
    for (const [n, lock] of [
      String(process.pid),
      JSON.stringify({ token: 'someone-else', host: hostname(), pid: process.pid, start: 'x', createdAt: Date.now() }),
    ].entries()) {
      writeFileSync(join(dir, 'write.lock'), lock);
      const t0 = Date.now();
      const again = await M3Index.open('f', { store: new FileStore(dir), model: MODEL });
      await again.add(corpus(2, 16, 2).map((d, i) => ({ ...d, id: `n${n}-${i}` })));
      expect(Date.now() - t0).toBeLessThan(5000);
      expect(again.count()).toBe(5 + 2 * n);
      again.close();
    }
  });

  it('a lock of a reused pid (alive, other start time) or of a dead pid is stale; a live holder is waited for', async () => {
    const dir = tmp();
    const idx = await M3Index.open('f', { store: new FileStore(dir), model: MODEL });
    idx.close();
    // The parent of this worker is alive, but it started at another time than the lock says: a reused pid.
    writeFileSync(
      join(dir, 'write.lock'),
      JSON.stringify({ token: 't1', host: hostname(), pid: process.ppid, start: 'not-its-start-time', createdAt: Date.now() }),
    );
    const s = new FileStore(dir);
    await s.open();
    expect(await s.withWriteLock(async () => 42)).toBe(42);
    // A pid that cannot exist (above pid_max) is dead.
    writeFileSync(join(dir, 'write.lock'), JSON.stringify({ token: 't2', host: hostname(), pid: 2 ** 30, start: '1', createdAt: Date.now() }));
    expect(await s.withWriteLock(async () => 43)).toBe(43);
    // Two stores in one process: the second waits for the first, and neither releases the other's lock.
    const other = new FileStore(dir);
    await other.open();
    const order: string[] = [];
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const first = s.withWriteLock(async () => {
      order.push('first in');
      await held;
      order.push('first out');
    });
    await new Promise((r) => setTimeout(r, 50));
    const second = other.withWriteLock(async () => {
      order.push('second in');
      expect(JSON.parse(readFileSync(join(dir, 'write.lock'), 'utf8')).pid).toBe(process.pid);
    });
    await new Promise((r) => setTimeout(r, 200));
    expect(order).toEqual(['first in']);
    release();
    await Promise.all([first, second]);
    expect(order).toEqual(['first in', 'first out', 'second in']);
    expect(readdirSync(dir).filter((f) => f.startsWith('write.lock'))).toEqual([]);
    s.close();
    other.close();
  });
});

describe('FileStore refuses what is not its own', () => {
  it('open() on a folder that is not an index refuses and deletes nothing; a read-only open writes nothing', async () => {
    const dir = tmp();
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'notes.tmp'), 'my notes');
    writeFileSync(join(dir, 'seg-00000001.m3s'), 'not a segment of ours');
    writeFileSync(join(dir, 'photo.jpg'), 'jpeg');
    const before = readdirSync(dir).sort();
    await expect(new FileStore(dir).open()).rejects.toThrow(/not an m3-search index/);
    await expect(new FileStore(dir, { readOnly: true }).open()).rejects.toThrow(/not an m3-search index/);
    expect(readdirSync(dir).sort()).toEqual(before);
    expect(readFileSync(join(dir, 'notes.tmp'), 'utf8')).toBe('my notes');
    // Read-only on a missing folder: refused, and the folder is not created.
    await expect(new FileStore(join(dir, 'nope'), { readOnly: true }).open()).rejects.toThrow(/no m3-search index/);
    expect(readdirSync(dir).includes('nope')).toBe(false);
  });

  it('a read-only open of an index leaves every file as it was (no lock, no cleanup) and refuses writes', async () => {
    const dir = tmp();
    const idx = await M3Index.open('f', { store: new FileStore(dir), model: MODEL });
    await idx.add(corpus(5, 16, 1));
    idx.close();
    writeFileSync(join(dir, 'meta.json.1.x.tmp'), '{');
    const snap = () =>
      readdirSync(dir)
        .sort()
        .map((f) => [f, readFileSync(join(dir, f)).toString('base64')]);
    const before = snap();
    const ro = await M3Index.open('f', { store: new FileStore(dir, { readOnly: true }), model: MODEL });
    expect(ro.count()).toBe(5);
    await expect(ro.add(corpus(1, 16, 9).map((d) => ({ ...d, id: 'z' })))).rejects.toThrow(/read-only/);
    ro.close();
    expect(snap()).toEqual(before);
  });
});

describe('FileStore: damaged files and the schema 2 → 3 migration', () => {
  async function built() {
    const dir = tmp();
    const idx = await M3Index.open('f', { store: new FileStore(dir), model: MODEL });
    await idx.add(corpus(30, 16, 3), { batchSize: 10 });
    idx.close();
    return dir;
  }
  const segFiles = (dir: string) =>
    readdirSync(dir)
      .filter((f) => f.endsWith('.m3s'))
      .sort();

  // Migrations from schema 2 and 3 folders: schema3-migration.test.ts (against files those versions wrote).

  it('a flipped bit, a missing segment, a bad meta.json: each refused with the file named and what to do', async () => {
    const dir = await built();
    const seg = join(dir, segFiles(dir)[1]);
    const good = readFileSync(seg);
    const flipped = Buffer.from(good);
    flipped[200] ^= 0x10;
    writeFileSync(seg, flipped);
    for (const readOnly of [false, true]) {
      await expect(M3Index.open('f', { store: new FileStore(dir, { readOnly }), model: MODEL })).rejects.toThrow(
        expect.objectContaining({
          name: 'M3StorageError',
          code: 'CORRUPT',
          message: expect.stringMatching(new RegExp(`${seg}: checksum mismatch.*restore the folder from a backup`)),
        }),
      );
    }
    writeFileSync(seg, good);
    rmSync(seg);
    await expect(M3Index.open('f', { store: new FileStore(dir, { readOnly: true }), model: MODEL })).rejects.toThrow(
      new RegExp(`${seg}: a segment file that .*meta.json lists is missing`),
    );
    writeFileSync(seg, good);
    writeFileSync(join(dir, 'meta.json'), '{"schemaVersion": 3, "segm');
    await expect(M3Index.open('f', { store: new FileStore(dir, { readOnly: true }), model: MODEL })).rejects.toThrow(
      /meta\.json is not valid JSON .*restore the folder/,
    );
    writeFileSync(
      join(dir, 'meta.json'),
      '{"schemaVersion": 9, "modelId": "m", "dims": 16, "segments": [], "tombstones": [], "nextKey": 0, "nextSeq": 0, "docCount": 0}',
    );
    await expect(new FileStore(dir, { readOnly: true }).open()).rejects.toThrow(/schema version 9, written by a newer m3-search/);
  });
});
