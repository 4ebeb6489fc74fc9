/**
 * Child process for file-store.test.ts's kill test. Runs the same script of operations on a FileStore index
 * every time, continuing from what the folder holds: add batch b (50 documents d<50b>…d<50b+49>), and once
 * batch b+2 is in, remove batch b whole for every b divisible by 3 (tombstones, then compaction).
 *
 * It prints "op <add|remove> <batch>" before an operation and "done" after it. argv[3] names a kill point,
 * "<op>:<step>:<file>:<phase>" (step open|write|sync|rename|rm; file seg|meta|lock; phase pre|post|torn): the
 * child watches its own filesystem calls (node:fs promises, wrapped here) and at the first one that matches
 * prints "at <point> applied=<0|1>" (1 once this operation's meta.json has been renamed into place: its commit
 * point) and freezes until the parent SIGKILLs it. "torn" writes half the file first. Exits 3 if the point never
 * comes within 16 operations.
 */
import { promises as fsp, writeSync } from 'node:fs';
import { basename } from 'node:path';
import { M3Index } from '../../src/search/m3-index.ts';
import { corpus } from './test-corpus.ts';
import { FileStore } from '../../src/store/file-store.ts';
import { tuningAccess } from '../../src/search/tuning-access.ts';

const [dir, spec] = process.argv.slice(2);
const [wantOp, wantStep, wantFile, wantPhase] = spec.split(':');
let op = 'open';
let committed = 0; // meta.json renames in the current operation

const kindOf = (path: string) => {
  const b = basename(String(path));
  return b.startsWith('meta.json') ? 'meta' : b.startsWith('seg-') ? 'seg' : b.startsWith('write.lock') ? 'lock' : 'other';
};
const say = (line: string) => writeSync(1, `${line}\n`); // synchronous: the parent must see it before the freeze
const matches = (step: string, path: string, phase: string) => op === wantOp && step === wantStep && kindOf(path) === wantFile && phase === wantPhase;
function freeze(): never {
  say(`at ${spec} applied=${committed > 0 ? 1 : 0}`);
  for (;;) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
}
const point = (step: string, path: string, phase: string) => matches(step, path, phase) && freeze();

const real = { open: fsp.open.bind(fsp), rename: fsp.rename.bind(fsp), rm: fsp.rm.bind(fsp) };
(fsp as { open: unknown }).open = async (path: string, flags?: string, mode?: number) => {
  const writing = flags === 'w';
  if (writing) point('open', path, 'pre');
  const fh = await real.open(path, flags, mode);
  if (writing) {
    const writeFile = fh.writeFile.bind(fh);
    const sync = fh.sync.bind(fh);
    fh.writeFile = (async (data: Uint8Array) => {
      if (matches('write', path, 'torn')) {
        await writeFile(data.subarray(0, data.length >> 1));
        await sync();
        freeze();
      }
      return writeFile(data);
    }) as typeof fh.writeFile;
    fh.sync = async () => {
      point('sync', path, 'pre');
      return sync();
    };
  }
  return fh;
};
(fsp as { rename: unknown }).rename = async (from: string, to: string) => {
  point('rename', to, 'pre');
  await real.rename(from, to);
  if (kindOf(to) === 'meta') committed++;
  point('rename', to, 'post');
};
(fsp as { rm: unknown }).rm = async (path: string, opts?: object) => {
  point('rm', path, 'pre');
  return real.rm(path, opts);
};

const BATCH = 50;
const ids = (b: number) => Array.from({ length: BATCH }, (_, i) => `d${b * BATCH + i}`);
// compactThreshold 0: every second removal (64+ tombstones) compacts, so compaction's steps come up too.
const idx = await M3Index.open('crash', { store: new FileStore(dir), model: { modelId: 'precomputed', dims: 64, headHash: 'h' }, compactThreshold: 0 });
for (let n = 0; n < 16; n++) {
  const added = tuningAccess(idx).meta.nextKey / BATCH; // keys are dense and every add is one batch of 50
  const doomed = Array.from({ length: Math.max(0, added - 2) }, (_, b) => b).find((b) => b % 3 === 0 && idx.has(`d${b * BATCH}`));
  committed = 0;
  if (doomed !== undefined) {
    op = 'remove';
    say(`op remove ${doomed}`);
    await idx.remove(ids(doomed));
  } else {
    op = 'add';
    say(`op add ${added}`);
    await idx.add(
      corpus(BATCH, 64, 1000 + added).map((d, i) => ({ ...d, id: `d${added * BATCH + i}` })),
      { batchSize: BATCH },
    );
  }
  op = 'between';
  say('done');
}
process.exit(3);
