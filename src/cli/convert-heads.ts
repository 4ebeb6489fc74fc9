/**
 * `m3-search convert-heads <dir>`: turns BAAI's sparse_linear.pt / colbert_linear.pt (torch.save pickles,
 * fp16) into the sparse_linear.safetensors / colbert_linear.safetensors the library loads. The pickles are
 * parsed by a restricted reader, never executed, so an untrusted download cannot run code.
 */
import { parseArgs } from 'node:util';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { firstNonFinite, writeSafetensors } from '../encoder/safetensors.ts';
import { readTorchStateDict, type TorchTensor } from './torch-pt.ts';

export interface ConvertHeadsOptions {
  /** Where the .safetensors go; default: `dir` itself, beside the model as the loader expects. */
  outDir?: string;
  /** F32 (default) widens fp16 exactly; F16 keeps the source's half precision. */
  dtype?: 'F32' | 'F16';
}

// The loader's names (src/encoder/load-heads.ts); not imported, since that module pulls in Transformers.js.
const HEADS = [
  { name: 'sparse_linear', source: 'sparse_linear.pt', target: 'sparse_linear.safetensors' },
  { name: 'colbert_linear', source: 'colbert_linear.pt', target: 'colbert_linear.safetensors' },
] as const;

interface Converted {
  target: string;
  source: string;
  weight: TorchTensor;
  bias: TorchTensor;
}

export async function convertHeads(dir: string, opts: ConvertHeadsOptions = {}): Promise<{ written: string[] }> {
  const dtype = opts.dtype ?? 'F32';
  if (dtype !== 'F32' && dtype !== 'F16') throw new Error(`dtype must be F32 or F16, not ${String(dtype)}`);
  const outDir = opts.outDir ?? dir;
  const isDir = await stat(dir).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (!isDir) throw new Error(`${dir}: no such folder`);

  const found: Converted[] = [];
  for (const head of HEADS) {
    const path = join(dir, head.source);
    let bytes: Uint8Array;
    try {
      bytes = await readFile(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // a model may ship only one head
      throw e;
    }
    const state = readTorchStateDict(bytes, path);
    const { weight, bias } = pickLinear(state, head.name, path);
    for (const [name, t] of [
      ['weight', weight],
      ['bias', bias],
    ] as const) {
      const bad = firstNonFinite(t.data);
      if (bad >= 0) throw new Error(`${path}: tensor "${name}" holds NaN or an infinity at index ${bad}; a head with such weights gives no usable scores`);
    }
    found.push({ target: head.target, source: head.source, weight, bias });
  }
  if (found.length === 0) throw new Error(`${dir}: neither sparse_linear.pt nor colbert_linear.pt is there`);
  checkShapes(found);
  if (dtype === 'F16') {
    // F16 means "keep the fp16 source as is"; narrowing bf16/f32 would round silently, so it is refused.
    const wide = found.flatMap((c) => [c.weight, c.bias].filter((t) => t.dtype !== 'float16').map(() => `${c.source} (${c.weight.dtype})`));
    if (wide.length) throw new Error(`--dtype f16 keeps fp16 sources only; ${[...new Set(wide)].join(', ')} would be rounded: use f32`);
  }

  // Everything is parsed and checked before the first write, so a bad input leaves no half-converted folder.
  await mkdir(outDir, { recursive: true });
  const written: string[] = [];
  for (const c of found) {
    const out = writeSafetensors(
      { weight: { shape: c.weight.shape, data: c.weight.data, dtype }, bias: { shape: c.bias.shape, data: c.bias.data, dtype } },
      { format: 'pt', source: c.source, source_dtype: c.weight.dtype, converted_by: 'm3-search convert-heads' },
    );
    const path = join(outDir, c.target);
    // Write then rename: a reader (or a crash) never sees a partial file under the final name.
    await writeFile(`${path}.tmp`, out);
    await rename(`${path}.tmp`, path);
    written.push(path);
  }
  return { written };
}

/**
 * Finds the Linear's weight and bias: plain `weight`/`bias` as BAAI saves them, or the same under one module
 * prefix (`sparse_linear.weight`, `model.colbert_linear.weight`) as a whole-model state dict carries them.
 */
function pickLinear(state: Map<string, TorchTensor>, head: string, label: string): { weight: TorchTensor; bias: TorchTensor } {
  const keys = [...state.keys()];
  const prefixes = keys
    .filter((k) => k === 'weight' || k.endsWith('.weight'))
    .map((k) => k.slice(0, -'weight'.length))
    .filter((p) => state.has(`${p}bias`));
  let prefix: string | undefined;
  if (prefixes.includes('')) prefix = '';
  else if (prefixes.length === 1) prefix = prefixes[0];
  else {
    // Several Linears: take the one named after this head.
    const named = prefixes.filter((p) => p === `${head}.` || p.endsWith(`.${head}.`));
    if (named.length === 1) prefix = named[0];
  }
  if (prefix === undefined) {
    throw new Error(
      `${label}: expected tensors "weight" and "bias" (optionally under one prefix such as "${head}."), ` + `found: ${keys.join(', ') || 'none'}`,
    );
  }
  return { weight: state.get(`${prefix}weight`)!, bias: state.get(`${prefix}bias`)! };
}

/** sparse: weight [1, H], bias [1]; colbert: weight [D, H], bias [D]; H the same in both. */
function checkShapes(found: Converted[]): void {
  const bad = (c: Converted, tensor: string, got: number[], want: string) =>
    new Error(`${c.source}: tensor "${tensor}" has shape [${got.join(', ')}], expected ${want}`);
  let hidden: { H: number; from: string } | undefined;
  for (const c of found) {
    const w = c.weight.shape;
    const b = c.bias.shape;
    const sparse = c.target.startsWith('sparse');
    if (w.length !== 2 || (sparse && w[0] !== 1) || w[0] === 0 || w[1] === 0) {
      throw bad(c, 'weight', w, sparse ? '[1, H]' : '[D, H]');
    }
    if (b.length !== 1 || b[0] !== w[0]) throw bad(c, 'bias', b, `[${w[0]}]`);
    if (hidden && hidden.H !== w[1]) {
      throw new Error(`${c.source}: weight [${w.join(', ')}] has hidden size ${w[1]}, but ${hidden.from} has ${hidden.H}`);
    }
    hidden ??= { H: w[1], from: c.source };
  }
}

const USAGE = `usage: m3-search convert-heads <dir> [--out <dir>] [--dtype f32|f16]

Converts <dir>/sparse_linear.pt and <dir>/colbert_linear.pt (torch.save state dicts, as BAAI ships them
beside BGE-M3) to sparse_linear.safetensors / colbert_linear.safetensors. Either file may be absent.
  --out <dir>      write there instead of <dir>
  --dtype f32|f16  f32 (default) is an exact widening of fp16; f16 keeps half precision
`;

/** CLI entry: returns the exit code; errors are reported on stderr, not thrown. */
export async function runConvertHeads(argv: string[]): Promise<number> {
  let values: { out?: string; dtype?: string; help?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { out: { type: 'string' }, dtype: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    }));
  } catch (e) {
    process.stderr.write(`m3-search convert-heads: ${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const dtype = (values.dtype ?? 'f32').toUpperCase();
  if (positionals.length !== 1 || (dtype !== 'F32' && dtype !== 'F16')) {
    const why = positionals.length !== 1 ? 'expected exactly one <dir>' : `--dtype must be f32 or f16, not "${values.dtype}"`;
    process.stderr.write(`m3-search convert-heads: ${why}\n\n${USAGE}`);
    return 2;
  }
  try {
    const { written } = await convertHeads(positionals[0], { outDir: values.out, dtype });
    for (const path of written) process.stdout.write(`wrote ${path} (${dtype})\n`);
    return 0;
  } catch (e) {
    process.stderr.write(`m3-search convert-heads: ${(e as Error).message}\n`);
    return 1;
  }
}
