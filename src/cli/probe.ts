/**
 * `m3-search probe --model DIR`: encodes the verification probe texts on the CPU for each dtype the model
 * ships and writes m3-probe.json beside it, so browsers verify WebGPU against these known answers instead
 * of loading a second (WASM) copy of the model.
 */
import { parseArgs } from 'node:util';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { M3Encoder } from '../encoder/m3-encoder.ts';
import { DTYPES } from '../encoder/device.ts';
import { PROBE_TEXTS, toProbeAnswer, type ProbeFile } from '../encoder/verify.ts';

const FILE = { fp32: 'model.onnx', fp16: 'model_fp16.onnx', q8: 'model_quantized.onnx' } as const;

export async function runProbe(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { model: { type: 'string' } } });
  if (!values.model || !existsSync(values.model)) throw new Error('--model must name a local model folder');
  const probe: ProbeFile = { texts: PROBE_TEXTS, answers: {} };
  for (const dtype of DTYPES) {
    if (!existsSync(join(values.model, 'onnx', FILE[dtype]))) continue;
    const enc = await M3Encoder.load({ model: values.model, dtype, device: 'cpu' });
    const out = await enc.encode(PROBE_TEXTS, { dense: true, sparse: enc.info.heads.sparse });
    probe.answers[dtype] = out.map(toProbeAnswer);
    await enc.dispose();
  }
  const path = join(values.model, 'm3-probe.json');
  await writeFile(path, JSON.stringify(probe) + '\n');
  process.stdout.write(`wrote ${path} (${Object.keys(probe.answers).join(', ')})\n`);
  return 0;
}
