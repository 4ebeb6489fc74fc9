/**
 * A minimal zip reader for torch.save archives: central directory, stored and deflated entries, zip64 sizes.
 * torch writes its records uncompressed (stored, 64-byte aligned), but a user who re-zipped a checkpoint may
 * have deflated them, so both are read. Everything is bounds-checked: a truncated download must give a clear
 * error, never a RangeError or a silent short tensor.
 */
import { M3Error } from '../errors.ts';
import { inflateRawSync } from 'node:zlib';
import { crc32 } from '../util/crc32.ts';

export interface ZipEntry {
  name: string;
  method: number;
  crc32: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

const EOCD_SIG = 0x06054b50;
const ZIP64_LOCATOR_SIG = 0x07064b50;
const ZIP64_EOCD_SIG = 0x06064b50;
const CENTRAL_SIG = 0x02014b50;
const LOCAL_SIG = 0x04034b50;

export class ZipError extends M3Error {
  override name = 'ZipError';
  constructor(message: string) {
    super('FILE_REFUSED', message);
  }
}

/** Largest entry inflated (or read stored): head checkpoints are a few MB; 512 MiB leaves ample room. */
export const MAX_ZIP_ENTRY_BYTES = 512 * 2 ** 20;

/** Lists the entries of a zip held in memory, by name. `label` names the file in errors. */
export function readZipDirectory(bytes: Uint8Array, label: string): Map<string, ZipEntry> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fail = (why: string): never => {
    throw new ZipError(`${label}: ${why}`);
  };
  // The end record is 22 bytes plus a comment of up to 65535 bytes; scan back for its signature.
  let eocd = -1;
  for (let p = bytes.length - 22; p >= Math.max(0, bytes.length - 22 - 0xffff); p--) {
    if (view.getUint32(p, true) === EOCD_SIG) {
      eocd = p;
      break;
    }
  }
  if (eocd < 0) fail('not a zip archive or truncated (no end-of-central-directory record)');
  let count = view.getUint16(eocd + 10, true);
  let cdSize = view.getUint32(eocd + 12, true);
  let cdOffset = view.getUint32(eocd + 16, true);
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const loc = eocd - 20;
    if (loc < 0 || view.getUint32(loc, true) !== ZIP64_LOCATOR_SIG) fail('zip64 archive without a zip64 locator');
    const z = safeNumber(view.getBigUint64(loc + 8, true), fail);
    if (z + 56 > bytes.length || view.getUint32(z, true) !== ZIP64_EOCD_SIG) fail('zip64 end record out of range');
    count = safeNumber(view.getBigUint64(z + 32, true), fail);
    cdSize = safeNumber(view.getBigUint64(z + 40, true), fail);
    cdOffset = safeNumber(view.getBigUint64(z + 48, true), fail);
  }
  if (cdOffset + cdSize > bytes.length) fail(`truncated: the central directory ends at byte ${cdOffset + cdSize} of ${bytes.length}`);

  const entries = new Map<string, ZipEntry>();
  let p = cdOffset;
  const decoder = new TextDecoder();
  for (let i = 0; i < count; i++) {
    if (p + 46 > cdOffset + cdSize || view.getUint32(p, true) !== CENTRAL_SIG) fail(`corrupt central directory at entry ${i}`);
    const method = view.getUint16(p + 10, true);
    const crc32 = view.getUint32(p + 16, true);
    let compressedSize = view.getUint32(p + 20, true);
    let size = view.getUint32(p + 24, true);
    const nameLen = view.getUint16(p + 28, true);
    const extraLen = view.getUint16(p + 30, true);
    const commentLen = view.getUint16(p + 32, true);
    let localHeaderOffset = view.getUint32(p + 42, true);
    const end = p + 46 + nameLen + extraLen + commentLen;
    if (end > cdOffset + cdSize) fail(`corrupt central directory at entry ${i}`);
    const name = decoder.decode(bytes.subarray(p + 46, p + 46 + nameLen));
    // Zip64 extra field (id 1): the 64-bit values appear only for fields saturated at 0xffffffff, in this order.
    let q = p + 46 + nameLen;
    const extraEnd = q + extraLen;
    while (q + 4 <= extraEnd) {
      const id = view.getUint16(q, true);
      const len = view.getUint16(q + 2, true);
      if (id === 1) {
        let r = q + 4;
        const next = () => {
          if (r + 8 > q + 4 + len) fail(`bad zip64 field for ${name}`);
          const v = safeNumber(view.getBigUint64(r, true), fail);
          r += 8;
          return v;
        };
        if (size === 0xffffffff) size = next();
        if (compressedSize === 0xffffffff) compressedSize = next();
        if (localHeaderOffset === 0xffffffff) localHeaderOffset = next();
      }
      q += 4 + len;
    }
    entries.set(name, { name, method, crc32, compressedSize, size, localHeaderOffset });
    p = end;
  }
  return entries;
}

/** The uncompressed bytes of one entry, CRC-checked. Stored entries are returned as a view, not a copy. */
export function readZipEntry(bytes: Uint8Array, entry: ZipEntry, label: string): Uint8Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fail = (why: string): never => {
    throw new ZipError(`${label}: ${entry.name}: ${why}`);
  };
  const h = entry.localHeaderOffset;
  if (h + 30 > bytes.length || view.getUint32(h, true) !== LOCAL_SIG) fail('local header missing (truncated or corrupt archive)');
  // The local header's name/extra lengths can differ from the central copy (torch pads the extra for alignment).
  const start = h + 30 + view.getUint16(h + 26, true) + view.getUint16(h + 28, true);
  const end = start + entry.compressedSize;
  if (end > bytes.length) fail(`truncated: data ends at byte ${end} of ${bytes.length}`);
  if (entry.size > MAX_ZIP_ENTRY_BYTES) fail(`declares ${entry.size} bytes; at most ${MAX_ZIP_ENTRY_BYTES} are read`);
  const raw = bytes.subarray(start, end);
  let data: Uint8Array;
  if (entry.method === 0) data = raw;
  else if (entry.method === 8) {
    // The output is bounded by the declared size: a bomb stops there instead of filling memory.
    try {
      data = inflateRawSync(raw, { maxOutputLength: Math.max(1, entry.size) });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE')
        fail(`inflates past the ${entry.size} bytes its directory declares (corrupt, or a zip bomb)`);
      return fail(`cannot inflate: ${(e as Error).message}`);
    }
  } else return fail(`unsupported compression method ${entry.method} (only stored and deflate)`);
  if (data.length !== entry.size) fail(`size ${data.length} differs from the directory's ${entry.size}`);
  if (crc32(data) !== entry.crc32) fail('CRC mismatch (corrupt archive)');
  return data;
}

function safeNumber(v: bigint, fail: (why: string) => never): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail('zip64 value too large');
  return Number(v);
}
