/**
 * Reads and checks sparse_linear.safetensors and colbert_linear.safetensors. A missing file means that output
 * is unavailable (dense-only models exist); a file with the wrong shape is an error naming tensor and shapes.
 */
import { firstNonFinite, readSafetensors } from './safetensors.ts';
import { describeLocation, readModelFile, type ModelLocation } from './model-source.ts';
import type { ModelStore } from './model-cache.ts';
import type { Heads } from './heads.ts';

export const SPARSE_FILE = 'sparse_linear.safetensors';
export const COLBERT_FILE = 'colbert_linear.safetensors';

interface Tracker {
  file(name: string): (loaded: number, total: number | undefined) => void;
  done(name: string): void;
}

export async function loadHeads(loc: ModelLocation, hidden: number, track?: Tracker, store?: ModelStore | null): Promise<{ heads: Heads; hash: string }> {
  const read = async (name: string) => {
    const bytes = await readModelFile(loc, name, track?.file(name), store);
    if (bytes) track?.done(name);
    return bytes;
  };
  const [sparseBytes, colbertBytes] = await Promise.all([read(SPARSE_FILE), read(COLBERT_FILE)]);
  const heads: Heads = {};
  const where = describeLocation(loc);
  if (sparseBytes) {
    const t = readSafetensors(sparseBytes, `${where}/${SPARSE_FILE}`).tensors;
    const weight = tensor(t, 'weight', [1, hidden], SPARSE_FILE);
    const bias = tensor(t, 'bias', [1], SPARSE_FILE);
    heads.sparse = { weight, bias: bias[0] };
  }
  if (colbertBytes) {
    const t = readSafetensors(colbertBytes, `${where}/${COLBERT_FILE}`).tensors;
    const rows = t.weight?.shape?.[0] ?? hidden;
    const weight = tensor(t, 'weight', [rows, hidden], COLBERT_FILE);
    const bias = tensor(t, 'bias', [rows], COLBERT_FILE);
    heads.colbert = { weight, bias, dim: rows };
  }
  return { heads, hash: await headHash(sparseBytes, colbertBytes) };
}

function tensor(all: Record<string, { shape: number[]; data: Float32Array }>, name: string, shape: number[], file: string): Float32Array {
  const t = all[name];
  if (!t) throw new Error(`${file}: tensor "${name}" is missing (found: ${Object.keys(all).join(', ') || 'none'})`);
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new Error(`${file}: tensor "${name}" has shape [${t.shape}] but the model needs [${shape}]`);
  }
  const bad = firstNonFinite(t.data);
  if (bad >= 0) throw new Error(`${file}: tensor "${name}" holds NaN or an infinity at index ${bad}; a head with such weights gives no usable scores`);
  return t.data;
}

/** sha256 over both head files (absent ones count as empty), hex. */
export async function headHash(sparse: Uint8Array | null, colbert: Uint8Array | null): Promise<string> {
  const parts = [sparse ?? new Uint8Array(), colbert ?? new Uint8Array()];
  const buf = new Uint8Array(parts[0].length + parts[1].length + 1);
  buf.set(parts[0], 0);
  buf[parts[0].length] = 0x1f; // separator, so moving bytes between files changes the hash
  buf.set(parts[1], parts[0].length + 1);
  const digest = await crypto.subtle.digest('SHA-256', buf as Uint8Array<ArrayBuffer>);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}
