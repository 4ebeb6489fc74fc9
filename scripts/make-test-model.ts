// npm run make-test-model                      → public/models/tiny-m3 (committed, byte-for-byte reproducible)
// npm run make-test-model -- --full [--out D]  → BGE-M3-sized random model for benchmarks (never committed)
// npm run make-test-model -- --real-shape [--out D]  → BGE-M3's exact shapes, vocabulary and Xenova/bge-m3's
//   file layout (fp32 + model.onnx_data, fp16, q8) in D/bge-m3, the heads in D/bge-m3-heads, and D/MANIFEST.json
//   written last (default D: models-full/real-shape, git-ignored; ~4 GB). Tensors are generated one at a time.
//   --variants fp32,fp16,q8   choose the ONNX files (default: all three)
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fullConfig, headFiles, modelFiles, realShapeConfig, tinyConfig, writeModelDir, type Variant, type WriteResult } from '../test/testmodel/index.ts';

const args = process.argv.slice(2);
const flag = (n: string) => args.includes(n);
const value = (n: string) => {
  const i = args.indexOf(n);
  if (i >= 0 && (i + 1 >= args.length || args[i + 1].startsWith('--'))) throw new Error(`${n} needs a value`);
  return i >= 0 ? args[i + 1] : undefined;
};
const known = new Set(['--full', '--real-shape', '--out', '--variants']);
for (const a of args) if (a.startsWith('--') && !known.has(a)) throw new Error(`unknown option ${a}`);

const full = flag('--full');
const real = flag('--real-shape');
if (full && real) throw new Error('--full and --real-shape exclude each other');
const variants = (value('--variants') ?? 'fp32,fp16,q8').split(',') as Variant[];
for (const v of variants) if (!['fp32', 'fp16', 'q8'].includes(v)) throw new Error(`unknown variant ${v}`);
const config = real ? realShapeConfig() : full ? fullConfig() : tinyConfig();

const t0 = performance.now();
const report = (dir: string, res: WriteResult) => {
  for (const f of res.files) console.log(`${(f.bytes / 1e6).toFixed(3).padStart(10)} MB  ${dir}/${f.path}`);
};
if (real) {
  const root = resolve(value('--out') ?? 'models-full/real-shape');
  const model = writeModelDir(join(root, 'bge-m3'), modelFiles(config, { name: 'bge-m3-real-shape', variants, realShape: true }), false);
  report('bge-m3', model);
  const heads = writeModelDir(join(root, 'bge-m3-heads'), headFiles(config), false);
  report('bge-m3-heads', heads);
  const manifest = {
    note: 'Random weights in BGE-M3 shape (npm run make-test-model -- --real-shape); written last, so its presence means the folders are complete.',
    seed: config.seed,
    config,
    variants,
    model: model.files.map(({ path, bytes }) => ({ path, bytes })),
    heads: heads.files.map(({ path, bytes }) => ({ path, bytes })),
    seconds: Math.round((performance.now() - t0) / 100) / 10,
  };
  writeFileSync(join(root, 'MANIFEST.json'), JSON.stringify(manifest, null, 2) + '\n');
  console.log(`${root}: ${((model.totalBytes + heads.totalBytes) / 1e9).toFixed(2)} GB in ${manifest.seconds} s`);
} else {
  const outDir = resolve(value('--out') ?? (full ? 'models-full/bge-m3-shaped' : 'public/models/tiny-m3'));
  const res = writeModelDir(outDir, modelFiles(config, { name: full ? 'bge-m3-shaped' : 'tiny-m3', variants }), !full);
  report(outDir, res);
  console.log(
    `${outDir}: ${config.numLayers} layers × hidden ${config.hiddenSize}, vocab ${config.vocabSize}, ` +
      `${(res.totalBytes / 1e6).toFixed(2)} MB in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
}
