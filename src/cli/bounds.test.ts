/**
 * Bounded memory in the checkpoint readers: inflate stops at the size the directory declares (and a
 * declared size past the limit is refused before inflating); tensors are built only when chosen, so many
 * views of one storage cost nothing; NaN weights are refused by name.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { convertHeads } from './convert-heads.ts';
import { makeTorchFile, makeZip } from '../../test/support/torch-fixture.ts';
import { readTorchStateDict } from './torch-pt.ts';
import { MAX_ZIP_ENTRY_BYTES, readZipDirectory, readZipEntry, ZipError } from './zip.ts';

describe('zip inflate has an output bound', () => {
  it('a deflate bomb that declares a small size stops there, without inflating the rest', () => {
    const bomb = makeZip([{ name: 'a/data.pkl', data: new Uint8Array(64 * 2 ** 20), deflate: true, declaredSize: 1000 }]);
    expect(bomb.length).toBeLessThan(200_000);
    const before = process.memoryUsage().arrayBuffers;
    const [entry] = readZipDirectory(bomb, 'bomb.pt').values();
    expect(() => readZipEntry(bomb, entry, 'bomb.pt')).toThrow(/inflates past the 1000 bytes its directory declares/);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(16 * 2 ** 20);
  });

  it('a declared size past the limit is refused before inflating', () => {
    const zip = makeZip([{ name: 'x', data: new Uint8Array(10), deflate: true, declaredSize: MAX_ZIP_ENTRY_BYTES + 1 }]);
    const [entry] = readZipDirectory(zip, 'big.pt').values();
    expect(() => readZipEntry(zip, entry, 'big.pt')).toThrow(ZipError);
    expect(() => readZipEntry(zip, entry, 'big.pt')).toThrow(/declares \d+ bytes; at most/);
  });
});

describe('torch state dicts: tensors built only when chosen', () => {
  it('100 tensors sharing one 8 MB storage cost one storage, not 100 copies', () => {
    const storage = new Float32Array(2 * 2 ** 20).map((_, i) => (i % 7) / 7);
    const tensors = Array.from({ length: 98 }, (_, i) => ({ key: `other.${i}`, storage: '0', offset: 0, shape: [storage.length] }));
    tensors.push({ key: 'weight', storage: '0', offset: 0, shape: [1, 8] }, { key: 'bias', storage: '0', offset: 8, shape: [1] });
    const file = makeTorchFile(tensors, { 0: storage });
    expect(file.length).toBeLessThan(9 * 2 ** 20);
    const before = process.memoryUsage().arrayBuffers;
    const sd = readTorchStateDict(file, 'shared.pt');
    expect(sd.size).toBe(100);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * 2 ** 20);
    expect(Array.from(sd.get('weight')!.data)).toEqual(Array.from(storage.subarray(0, 8)));
    expect(sd.get('bias')!.data[0]).toBe(storage[8]);
  });
});

describe('head weights must be finite numbers', () => {
  it('convert-heads refuses a NaN weight, naming file and tensor, and writes nothing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nan-heads-'));
    try {
      const w = Float32Array.from([0.1, NaN, 0.3, 0.4]);
      await writeFile(
        join(dir, 'sparse_linear.pt'),
        makeTorchFile(
          [
            { key: 'weight', storage: 'w', offset: 0, shape: [1, 4] },
            { key: 'bias', storage: 'b', offset: 0, shape: [1] },
          ],
          { w, b: Float32Array.of(0.5) },
        ),
      );
      await expect(convertHeads(dir)).rejects.toThrow(/sparse_linear\.pt: tensor "weight" holds NaN or an infinity at index 1/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('the head loader refuses a NaN in sparse_linear.safetensors, naming file and tensor', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nan-st-'));
    try {
      const { writeSafetensors } = await import('../encoder/safetensors.ts');
      await writeFile(
        join(dir, 'sparse_linear.safetensors'),
        writeSafetensors({ weight: { shape: [1, 4], data: Float32Array.from([1, 2, 3, NaN]) }, bias: { shape: [1], data: Float32Array.of(0) } }),
      );
      const { loadHeads } = await import('../encoder/load-heads.ts');
      await expect(loadHeads({ kind: 'folder', path: dir }, 4)).rejects.toThrow(
        /sparse_linear\.safetensors: tensor "weight" holds NaN or an infinity at index 3/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
