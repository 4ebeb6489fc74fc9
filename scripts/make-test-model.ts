// npm run make-test-model                      → public/models/tiny-m3 (committed, byte-for-byte reproducible)
// npm run make-test-model -- --full [--out D]  → BGE-M3-sized random model for benchmarks (never committed)
//   --variants fp32,fp16,q8   choose the ONNX files (default: all three)
import { resolve } from 'node:path';
import { fullConfig, modelFiles, tinyConfig, writeModelDir, type Variant } from '../src/testmodel/index.ts';

const args = process.argv.slice(2);
const flag = (n: string) => args.includes(n);
const value = (n: string) => {
  const i = args.indexOf(n);
  if (i >= 0 && (i + 1 >= args.length || args[i + 1].startsWith('--'))) throw new Error(`${n} needs a value`);
  return i >= 0 ? args[i + 1] : undefined;
};
const known = new Set(['--full', '--out', '--variants']);
for (const a of args) if (a.startsWith('--') && !known.has(a)) throw new Error(`unknown option ${a}`);

const full = flag('--full');
const outDir = resolve(value('--out') ?? (full ? 'models-full/bge-m3-shaped' : 'public/models/tiny-m3'));
const variants = (value('--variants') ?? 'fp32,fp16,q8').split(',') as Variant[];
for (const v of variants) if (!['fp32', 'fp16', 'q8'].includes(v)) throw new Error(`unknown variant ${v}`);
const config = full ? fullConfig() : tinyConfig();

const t0 = performance.now();
const res = writeModelDir(outDir, modelFiles(config, { name: full ? 'bge-m3-shaped' : 'tiny-m3', variants }), !full);
for (const f of res.files) console.log(`${(f.bytes / 1e6).toFixed(3).padStart(10)} MB  ${f.path}`);
console.log(
  `${outDir}: ${config.numLayers} layers × hidden ${config.hiddenSize}, vocab ${config.vocabSize}, ` +
    `${(res.totalBytes / 1e6).toFixed(2)} MB in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
);
