/** FileStore's segment files (seg-<seq>.m3s, format in segment-file.ts): read, written, upgraded. */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { M3StorageError } from './errors.ts';
import { REPAIR, segName } from './file-layout.ts';
import { decodeSegmentFile, type DecodedSegmentFile, encodeSegmentFile, upgradeSegmentFile } from './segment-file.ts';
import type { DocRecord, MetaRecord, SegmentRecord } from './types.ts';
import { writeAtomic } from './write-atomic.ts';

/** Level 1: ~2× smaller texts for a few ms per 1,000 docs; higher levels gain little on short texts. */
const CODEC = { deflate: (b: Uint8Array) => deflateRawSync(b, { level: 1 }), inflate: (b: Uint8Array) => inflateRawSync(b) };

/**
 * The segment files `meta` lists, by seq: those in `loaded` as they are, the rest read from `dir`. Throws
 * the read's error as it is when a file is missing (the caller tells a racing compaction from damage).
 */
export async function readSegmentFiles(
  dir: string,
  meta: MetaRecord | null,
  loaded: Map<number, DecodedSegmentFile>,
): Promise<Map<number, DecodedSegmentFile>> {
  const listed = meta?.segments ?? [];
  const keep = new Map<number, DecodedSegmentFile>();
  // Read missing segments a few at a time: overlapping reads hide the disk's latency.
  const missing = listed.filter((seq) => !loaded.has(seq));
  const read = new Map<number, DecodedSegmentFile>();
  for (let i = 0; i < missing.length; i += 8) {
    await Promise.all(
      missing.slice(i, i + 8).map(async (seq) => {
        const path = join(dir, segName(seq));
        const bytes = new Uint8Array(await fsp.readFile(path));
        let f: DecodedSegmentFile;
        try {
          f = decodeSegmentFile(bytes, path, CODEC, meta!.dims);
        } catch (e) {
          throw new M3StorageError('CORRUPT', `${(e as Error).message}; ${REPAIR}`, e);
        }
        if (f.segment.seq !== seq) throw new M3StorageError('CORRUPT', `${path} holds segment ${f.segment.seq}; ${REPAIR}`);
        read.set(seq, f);
      }),
    );
  }
  for (const seq of listed) keep.set(seq, loaded.get(seq) ?? read.get(seq)!);
  return keep;
}

/** Writes `seg` with its documents to its file, atomically. */
export async function writeSegmentFile(dir: string, seg: SegmentRecord, docs: DocRecord[]): Promise<void> {
  await writeAtomic(dir, segName(seg.seq), encodeSegmentFile(seg, docs, CODEC));
}

/**
 * Schema 2 or 3 → 4: segment files are rewritten in the current format (format 1 → 3 adds the checksum,
 * 2 → 3 re-codes the postings). Each file is checked, then replaced atomically; the caller records the new
 * schema in meta.json last. A crash midway leaves a readable mix that the next open finishes.
 */
export async function upgradeSegmentFiles(dir: string, segments: number[]): Promise<void> {
  for (const seq of segments) {
    const path = join(dir, segName(seq));
    const bytes = new Uint8Array(await fsp.readFile(path));
    const up = upgradeSegmentFile(bytes, path, CODEC);
    if (up !== bytes) await writeAtomic(dir, segName(seq), up);
  }
}
