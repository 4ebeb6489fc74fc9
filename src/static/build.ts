/**
 * Node side of static packages: writes an index (any Store) as manifest + content-addressed chunks.
 * Chunks are written before the manifest, and the manifest by rename, so a server never serves a manifest
 * whose chunks are not all there yet.
 */
import { mkdir, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256Hex } from '../util/sha256.ts';
import { encodeSegmentFile } from '../store/segment-file.ts';
import type { DocRecord, Store } from '../store/types.ts';
import {
  DEFAULT_CHUNK_BYTES,
  MANIFEST_FILE,
  MAX_CHUNK_BYTES,
  manifestVersion,
  STATIC_FORMAT,
  STATIC_PACKAGE_VERSION,
  type StaticChunk,
  type StaticManifest,
  type StaticSegment,
} from './manifest.ts';

export interface BuildStaticOptions {
  /** Largest chunk (default 4 MiB): the unit of verification and of resuming after a reload. */
  chunkBytes?: number;
}

export async function writeStaticPackage(store: Store, out: string, opts: BuildStaticOptions = {}): Promise<StaticManifest> {
  const chunkBytes = opts.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  if (!Number.isInteger(chunkBytes) || chunkBytes < 1024 || chunkBytes > MAX_CHUNK_BYTES)
    throw new RangeError(`chunkBytes must be an integer from 1024 to ${MAX_CHUNK_BYTES}, got ${chunkBytes}`);
  const meta = await store.readMeta();
  if (!meta) throw new Error('nothing to package: the index has no model recorded');
  const segs = meta.segments.length ? await store.readSegments(meta.segments) : [];
  const docsByKey = new Map((await store.allDocs()).map((d) => [d.key, d]));
  await mkdir(join(out, 'chunks'), { recursive: true });
  const chunks: StaticChunk[] = [];
  const segments: StaticSegment[] = [];
  for (const seg of segs) {
    // Texts as plain JSON (no deflate): the browser decodes synchronously, and servers compress on the wire.
    const docs = Array.from(seg.keys, (k) => docsByKey.get(k)).filter((d): d is DocRecord => !!d);
    const file = encodeSegmentFile(seg, docs);
    const ids: number[] = [];
    for (let at = 0; at < file.byteLength; at += chunkBytes) {
      const part = file.subarray(at, Math.min(at + chunkBytes, file.byteLength));
      const sha256 = await sha256Hex(part);
      const name = `chunks/${sha256.slice(0, 32)}.bin`;
      const exists = await stat(join(out, name)).then(
        (s) => s.size === part.byteLength,
        () => false,
      );
      if (!exists) await writeAtomic(join(out, name), part);
      ids.push(chunks.length);
      chunks.push({ file: name, bytes: part.byteLength, sha256 });
    }
    segments.push({ seq: seg.seq, docs: docs.length, bytes: file.byteLength, chunks: ids });
  }
  const manifest: StaticManifest = {
    format: STATIC_FORMAT,
    packageVersion: STATIC_PACKAGE_VERSION,
    schemaVersion: meta.schemaVersion,
    version: await manifestVersion(meta, chunks, sha256Hex),
    model: { modelId: meta.modelId, dims: meta.dims, headHash: meta.headHash, dtype: meta.dtype },
    colbert: meta.colbert,
    docCount: meta.docCount,
    meta,
    segments,
    chunks,
    totalBytes: chunks.reduce((n, c) => n + c.bytes, 0),
    createdAt: new Date().toISOString(),
  };
  await writeAtomic(join(out, MANIFEST_FILE), new TextEncoder().encode(JSON.stringify(manifest, null, 1)));
  return manifest;
}

async function writeAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  await writeFile(tmp, bytes);
  await rename(tmp, path);
}
