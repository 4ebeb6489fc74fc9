import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { M3Index } from '../search/m3-index.ts';
import { corpus } from '../search/test-corpus.ts';
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
      docs.map((d, i) => ({ key: 100 + i, id: d.id, metadata: d.metadata ?? null, rows: [{ dense: d.embedding!.dense, sparse: d.embedding!.sparse, colbert: d.embedding!.colbert }], bm25: { tf: new Map([['w' + (i % 5), 2]]), length: 9 } })),
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
    expect(readdirSync(dir).sort()).toEqual(['meta.json', 'seg-00000000.m3s', 'seg-00000001.m3s', 'seg-00000002.m3s']);
    expect(await idx.get('d77')).toEqual({ id: 'd77', text: docs[77].text, metadata: docs[77].metadata });
    const q = { embedding: { dense: docs[77].embedding!.dense, sparse: docs[77].embedding!.sparse, tokens: 1, truncated: false } };
    expect((await idx.search(q, { k: 1 }))[0].id).toBe('d77');
    const st = await idx.storage();
    expect(st.usage).toBeGreaterThan(120 * 24);
    idx.close();
  });

  it('processes killed at each step of a commit leave every batch all present or all absent (12 kills)', async () => {
    const dir = tmp();
    const child = fileURLToPath(new URL('./file-store-crash-child.ts', import.meta.url));
    const BATCH = 50;
    // Where each child is killed: every step of an add's commit (segment file, then meta.json, the commit point,
    // then the lock), of a removal's (meta.json only) and of the compaction a removal sets off.
    const POINTS = [
      'add:open:seg:pre', 'add:write:seg:torn', 'add:sync:seg:pre', 'add:rename:seg:post', 'add:write:meta:torn',
      'add:rename:meta:pre', 'add:rename:meta:post', 'add:rm:lock:pre', 'remove:rename:meta:pre', 'remove:rename:meta:post',
      'remove:rename:seg:post', 'remove:rm:seg:pre',
    ];
    // The parent's own model of which batches exist, from the operations the children reported.
    const present = new Set<number>();
    let added = 0;
    const apply = (o: { kind: string; batch: number }) => {
      if (o.kind === 'add') (present.add(o.batch), (added = o.batch + 1));
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
            else if (line === 'done') (apply(inflight!), (inflight = null));
            else if (line.startsWith(`at ${point} `)) {
              at = line.endsWith('applied=1');
              if (at) apply(inflight!);
              log.push(`${point}: killed during ${inflight!.kind} ${inflight!.batch}, ${at ? 'after' : 'before'} its commit point`);
              p.kill('SIGKILL');
            }
          }
        });
        p.stderr.on('data', (b: Buffer) => (err += b.toString()));
        p.on('exit', (code, signal) => (signal === 'SIGKILL' && at !== null ? resolve(at) : reject(new Error(`child for ${point} exited ${code ?? signal} without reaching it: ${err}`))));
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
        for (const i of [0, BATCH - 1]) expect(await idx.get(`d${b * BATCH + i}`)).toEqual({ id: `d${b * BATCH + i}`, text: docs[i].text, metadata: docs[i].metadata });
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
