import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

  it('a process killed mid-ingest leaves whole batches: reopening is consistent (5 kills)', async () => {
    const dir = tmp();
    const child = fileURLToPath(new URL('./file-store-crash-child.ts', import.meta.url));
    let last = 0;
    for (let round = 0; round < 5; round++) {
      const seen = await new Promise<number>((resolve, reject) => {
        const p = spawn(process.execPath, ['--import', 'tsx', child, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
        let committed = 0;
        let commits = 0;
        let err = '';
        const killAfter = 2 + round; // commits before the kill, varied so it lands at different points
        p.stdout.on('data', (b: Buffer) => {
          for (const m of b.toString().matchAll(/committed (\d+)/g)) {
            committed = Number(m[1]);
            if (++commits === killAfter) {
              // Kill at a random moment inside the next commit.
              setTimeout(() => p.kill('SIGKILL'), Math.random() * 15);
            }
          }
        });
        p.stderr.on('data', (b: Buffer) => (err += b.toString()));
        p.on('exit', (_code, signal) => (signal === 'SIGKILL' ? resolve(committed) : reject(new Error(`child exited: ${err}`))));
      });
      const idx = await M3Index.open('crash', { store: new FileStore(dir), model: { modelId: 'precomputed', dims: 64, headHash: 'h' } });
      const n = idx.count();
      // Every reported commit is there; at most the batch in flight was added on top, whole.
      expect(n).toBeGreaterThanOrEqual(seen);
      expect(n).toBeGreaterThan(last);
      const ids = [...Array(2 * n + 200).keys()].map((i) => `d${i}`).filter((id) => idx.has(id));
      expect(ids.length).toBe(n);
      for (const id of ids.slice(-3)) expect((await idx.get(id))?.id).toBe(id);
      const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8'));
      expect(meta.docCount).toBe(n);
      expect(readdirSync(dir).filter((f) => f.endsWith('.tmp') || f === 'write.lock')).toEqual([]);
      last = n;
      idx.close();
    }
  }, 120_000);
});
