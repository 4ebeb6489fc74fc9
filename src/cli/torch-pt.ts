/**
 * Reads a state dict saved by torch.save (zip format, torch ≥ 1.6): `<archive>/data.pkl` is a pickle whose
 * tensors point, through persistent ids, at raw storages in `<archive>/data/<key>`. Only what a state dict of
 * float tensors needs is accepted (see unpickle.ts for why the pickle is restricted).
 */
import { M3Error } from '../errors.ts';
import { float16BitsToFloat32 } from '../encoder/float16.ts';
import { readZipDirectory, readZipEntry, type ZipEntry } from './zip.ts';
import { unpickle, type AllowedGlobal } from './unpickle.ts';

export type TorchDtype = 'float16' | 'bfloat16' | 'float32';

export interface TorchTensor {
  dtype: TorchDtype;
  shape: number[];
  /**
   * Values widened to float32: exact for all three dtypes. Built on first access: a state dict may hold
   * many tensors (or many views of one storage) of which the caller wants two.
   */
  readonly data: Float32Array;
}

const ELEMENT_BYTES: Record<TorchDtype, number> = { float16: 2, bfloat16: 2, float32: 4 };

/** Tag for a storage type global, e.g. torch.HalfStorage. */
class StorageType {
  constructor(readonly dtype: TorchDtype) {}
}

interface Storage {
  dtype: TorchDtype;
  bytes: Uint8Array;
  numel: number;
  key: string;
}

class TensorRef {
  constructor(
    readonly storage: Storage,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
  ) {}
}

export class TorchFileError extends M3Error {
  override name = 'TorchFileError';
  constructor(message: string) {
    super('FILE_REFUSED', message);
  }
}

/** Parses one torch.save file held in memory. `label` names it in errors. */
export function readTorchStateDict(bytes: Uint8Array, label: string): Map<string, TorchTensor> {
  const fail = (why: string): never => {
    throw new TorchFileError(`${label}: ${why}`);
  };
  if (bytes.length >= 2 && bytes[0] === 0x80 && bytes[1] <= 5) {
    fail(
      'legacy torch.save format (torch < 1.6 or _use_new_zipfile_serialization=False) is not supported; ' +
        're-save it with a current torch: torch.save(torch.load(f), f)',
    );
  }
  const entries = readZipDirectory(bytes, label);
  // The archive folder is named after the file torch wrote (e.g. "sparse_linear/"), so locate data.pkl.
  const pkl = [...entries.values()].filter((e) => /^([^/]+\/)?data\.pkl$/.test(e.name));
  if (pkl.length !== 1) fail(pkl.length ? 'several data.pkl records' : 'no data.pkl record: not a torch.save file');
  const prefix = pkl[0].name.slice(0, -'data.pkl'.length);
  const record = (name: string): ZipEntry | undefined => entries.get(prefix + name);

  const order = record('byteorder');
  if (order) {
    const s = new TextDecoder().decode(readZipEntry(bytes, order, label)).trim();
    // Big-endian checkpoints come only from s390x-class machines; refusing beats guessing.
    if (s !== 'little') fail(`byte order "${s}" is not supported (only little-endian)`);
  }

  const storages = new Map<string, Storage>();
  const persistentLoad = (pid: unknown): Storage => {
    // torch: ('storage', <storage type>, key, location, numel)
    if (!Array.isArray(pid) || pid.length !== 5 || pid[0] !== 'storage') fail(`unexpected persistent id ${describe(pid)}`);
    const [, type, key, , numel] = pid as unknown[];
    if (!(type instanceof StorageType)) fail(`persistent id with storage type ${describe(type)}`);
    if (typeof key !== 'string' || !Number.isSafeInteger(numel) || (numel as number) < 0) fail(`bad persistent id ${describe(pid)}`);
    const dtype = (type as StorageType).dtype;
    const cached = storages.get(key as string);
    if (cached) {
      if (cached.dtype !== dtype) fail(`storage ${key} used as both ${cached.dtype} and ${dtype}`);
      return cached;
    }
    const entry = record(`data/${key}`);
    if (!entry) fail(`storage record data/${key} is missing`);
    const data = readZipEntry(bytes, entry!, label);
    const want = (numel as number) * ELEMENT_BYTES[dtype];
    if (data.length < want) fail(`storage data/${key} has ${data.length} bytes, ${want} expected`);
    const s: Storage = { dtype, bytes: data, numel: numel as number, key: key as string };
    storages.set(key as string, s);
    return s;
  };

  const rebuildTensor = (args: readonly unknown[]): TensorRef => {
    // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
    if (args.length < 4) throw new Error(`expected at least 4 arguments, got ${args.length}`);
    const [storage, offset, shape, stride] = args;
    if (!isStorage(storage)) throw new Error('argument 0 is not a storage');
    if (!Number.isSafeInteger(offset) || (offset as number) < 0) throw new Error(`bad storage offset ${describe(offset)}`);
    if (!isIntList(shape) || !isIntList(stride) || shape.length !== stride.length) throw new Error(`bad size/stride ${describe(shape)} / ${describe(stride)}`);
    return new TensorRef(storage, offset as number, [...shape], [...stride]);
  };

  const globals = new Map<string, AllowedGlobal>([
    [
      'collections.OrderedDict',
      {
        call: (args) => {
          if (args.length) throw new Error('only OrderedDict() with no arguments is accepted');
          return new Map();
        },
      },
    ],
    ['torch._utils._rebuild_tensor_v2', { call: rebuildTensor }],
    // nn.Parameter wrapper (a state dict saved with keep_vars=True): the tensor inside is what counts.
    [
      'torch._utils._rebuild_parameter',
      {
        call: (args) => {
          if (!(args[0] instanceof TensorRef)) throw new Error('argument 0 is not a tensor');
          return args[0];
        },
      },
    ],
    ['torch.HalfStorage', { value: new StorageType('float16') }],
    ['torch.BFloat16Storage', { value: new StorageType('bfloat16') }],
    ['torch.FloatStorage', { value: new StorageType('float32') }],
  ]);

  const root = unpickle(readZipEntry(bytes, pkl[0], label), { globals, persistentLoad, label: `${label}: ${pkl[0].name}` });
  if (!(root instanceof Map)) fail('data.pkl is not a state dict (expected a dict of tensors)');
  const out = new Map<string, TorchTensor>();
  for (const [k, v] of root as Map<unknown, unknown>) {
    if (typeof k !== 'string') fail(`state dict key ${describe(k)} is not a string`);
    if (!(v instanceof TensorRef)) fail(`"${k}" is not a tensor`);
    out.set(k as string, materialize(v as TensorRef, `${label}: "${k}"`));
  }
  return out;
}

/** Checks a tensor against its storage now; its values are converted when `data` is first read. */
function materialize(t: TensorRef, label: string): TorchTensor {
  const numel = t.shape.reduce((a, b) => a * b, 1);
  if (!Number.isSafeInteger(numel)) throw new TorchFileError(`${label}: tensor shape [${t.shape}] is too large`);
  // Contiguous = row-major strides; a dimension of size 1 may carry any stride (torch leaves them arbitrary).
  let expect = 1;
  for (let i = t.shape.length - 1; i >= 0; i--) {
    if (t.shape[i] !== 1 && t.stride[i] !== expect) {
      throw new TorchFileError(`${label}: non-contiguous tensor (shape [${t.shape}], stride [${t.stride}]); ` + 'save it with .contiguous() first');
    }
    expect *= t.shape[i];
  }
  if (numel > 0 && t.offset + numel > t.storage.numel) {
    throw new TorchFileError(`${label}: tensor [${t.shape}] at offset ${t.offset} overruns its ${t.storage.numel}-element storage`);
  }
  let data: Float32Array | undefined;
  return {
    dtype: t.storage.dtype,
    shape: t.shape,
    get data() {
      return (data ??= convert(t, numel));
    },
  };
}

function convert(t: TensorRef, numel: number): Float32Array {
  const size = ELEMENT_BYTES[t.storage.dtype];
  const b = t.storage.bytes;
  const view = new DataView(b.buffer, b.byteOffset + t.offset * size, numel * size);
  const data = new Float32Array(numel);
  if (t.storage.dtype === 'float32') for (let i = 0; i < numel; i++) data[i] = view.getFloat32(4 * i, true);
  else if (t.storage.dtype === 'float16') for (let i = 0; i < numel; i++) data[i] = float16BitsToFloat32(view.getUint16(2 * i, true));
  else {
    // bfloat16 is the top half of a float32.
    const bits = new Uint32Array(numel);
    for (let i = 0; i < numel; i++) bits[i] = view.getUint16(2 * i, true) << 16;
    data.set(new Float32Array(bits.buffer));
  }
  return data;
}

function isStorage(v: unknown): v is Storage {
  return typeof v === 'object' && v !== null && 'bytes' in v && 'dtype' in v && 'numel' in v;
}

function isIntList(v: unknown): v is number[] {
  return Array.isArray(v) && v.every((d) => Number.isSafeInteger(d) && d >= 0);
}

/** A value for an error message: short, and safe on anything a pickle builds (deep nesting, cycles). */
function describe(v: unknown): string {
  if (v instanceof Map) return 'dict';
  let s: string | undefined;
  try {
    s = JSON.stringify(v);
  } catch {
    /* too deep, or a cycle through the memo */
  }
  s ??= Array.isArray(v) ? 'a list' : typeof v;
  return s.length > 120 ? `${s.slice(0, 120)}…` : s;
}
