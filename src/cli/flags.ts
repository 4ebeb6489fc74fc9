/** Flags every command that loads an encoder shares. */
import type { LoadOptions } from '../encoder/load-options.ts';
import type { DType, Device } from '../encoder/device.ts';

export const ENCODER_FLAGS = {
  model: { type: 'string' },
  dtype: { type: 'string' },
  device: { type: 'string' },
  heads: { type: 'string' },
  threads: { type: 'string' },
  /** For a hub id: a mirror or self-hosted hub (huggingface.co's URL layout) instead of huggingface.co. */
  hub: { type: 'string' },
  /** For a hub id: where downloads are kept (default: Transformers.js's cache folder). */
  'cache-dir': { type: 'string' },
} as const;

export function encoderOptions(values: {
  model?: string;
  dtype?: string;
  device?: string;
  heads?: string;
  threads?: string;
  hub?: string;
  'cache-dir'?: string;
}): LoadOptions {
  if (!values.model) throw new Error('--model DIR|ID is required');
  const threads = values.threads === undefined ? undefined : Number(values.threads);
  if (threads !== undefined && !(Number.isInteger(threads) && threads >= 1)) throw new Error(`--threads must be a positive integer, got ${values.threads}`);
  return {
    threads,
    model: values.model,
    dtype: values.dtype as DType | undefined,
    device: (values.device as Device | undefined) ?? 'cpu',
    heads: values.heads,
    ...(values.hub ? { remoteHost: values.hub } : {}),
    ...(values['cache-dir'] ? { cacheDir: values['cache-dir'] } : {}),
  };
}
