/**
 * Property tests of the index formats read from outside — the portable index file, segment files (what a
 * FileStore folder holds), static package manifests — and of safetensors: thousands of generated and
 * mutated inputs each; no crash, no hang, only the module's own error type.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readSafetensors, SafetensorsError, writeSafetensors } from '../encoder/safetensors.ts';
import { StaticPackageError, validateManifest } from '../static/manifest.ts';
import { M3StorageError } from '../store/errors.ts';
import { MemoryStore } from '../store/memory-store.ts';
import { decodeSegmentFile } from '../store/segment-file.ts';
import { crc32 } from '../util/crc32.ts';
import { mutated, onlyRejects, onlyThrows, RUNS } from '../../test/support/fuzz.ts';
import { M3Index } from './m3-index.ts';
import { exportStore, parsePortable, PortableImportError } from './portable.ts';
import { sha256Hex } from '../util/sha256.ts';
import { corpus } from '../../test/support/test-corpus.ts';

const MODEL = { modelId: 'precomputed', dims: 8, headHash: 'h' };
const store = new MemoryStore();
const idx = await M3Index.open('p', { store, model: MODEL, colbert: true });
await idx.add(corpus(12, 8, 2, { colbert: true }), { batchSize: 5 });
await idx.remove(['d3']);
const file = await exportStore(store);
const hLen = new DataView(file.buffer).getUint32(8, true);
const header = JSON.parse(new TextDecoder().decode(file.subarray(12, 12 + hLen)));
const firstSegment = file.slice(12 + hLen, 12 + hLen + header.segments[0]);

/** A portable file around `body` with a correct SHA-256, so mutations get past the checksum. */
async function resealed(body: Uint8Array): Promise<Uint8Array> {
  const h = new TextEncoder().encode(
    JSON.stringify({
      ...header,
      segments: [body.length, ...header.segments.slice(1)],
      sha256: await sha256Hex(new Uint8Array([...body, ...file.subarray(12 + hLen + header.segments[0])])),
    }),
  );
  const rest = file.subarray(12 + hLen + header.segments[0]);
  const out = new Uint8Array(12 + h.length + body.length + rest.length);
  out.set(file.subarray(0, 12));
  new DataView(out.buffer).setUint32(8, h.length, true);
  out.set(h, 12);
  out.set(body, 12 + h.length);
  out.set(rest, 12 + h.length + body.length);
  return out;
}

describe('portable index files', () => {
  it('mutated files (checksum intact or resealed): a whole index or a PortableImportError', async () => {
    await expect(parsePortable(file)).resolves.toBeTruthy();
    await fc.assert(
      fc.asyncProperty(fc.oneof(mutated(file), mutated(file, [0, 12 + hLen]), fc.uint8Array({ maxLength: 64 })), (bytes) =>
        onlyRejects([PortableImportError], () => parsePortable(bytes)),
      ),
      { numRuns: RUNS / 2 },
    );
    // Resealed: the body mutated, the SHA-256 recomputed, so every content check is reached.
    await fc.assert(
      fc.asyncProperty(mutated(firstSegment), async (seg) => onlyRejects([PortableImportError], async () => parsePortable(await resealed(seg)))),
      { numRuns: RUNS / 2 },
    );
  });
});

describe('segment files', () => {
  it('mutated segment files, their checksum recomputed half the time: a segment that passes its checks, or M3StorageError', () => {
    // Recomputing the CRC and length trailer takes the runs past the checksum into the structural checks.
    const reseal = (b: Uint8Array) => {
      if (b.length < 16) return b;
      const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
      dv.setUint32(b.length - 8, crc32(b.subarray(0, b.length - 8)), true);
      dv.setUint32(b.length - 4, b.length, true);
      return b;
    };
    const body = firstSegment.subarray(0, firstSegment.length - 8);
    const resealed = mutated(body, [12, body.length]).map((b) => reseal(new Uint8Array([...b, 0, 0, 0, 0, 0, 0, 0, 0])));
    fc.assert(
      fc.property(fc.oneof(mutated(firstSegment), resealed), (bytes) =>
        onlyThrows([M3StorageError], () => {
          const d = decodeSegmentFile(bytes, 'seg', {}, 8);
          for (const doc of d.docs()) expect(typeof doc.id).toBe('string');
        }),
      ),
      { numRuns: RUNS },
    );
  });
});

describe('static manifests', () => {
  const manifest = {
    format: 'm3-search-static',
    packageVersion: 1,
    schemaVersion: header.meta.schemaVersion,
    version: '0123456789abcdef',
    model: { modelId: MODEL.modelId, dims: 8, headHash: 'h', dtype: '' },
    colbert: true,
    docCount: header.meta.docCount,
    meta: header.meta,
    segments: header.meta.segments.map((seq: number, i: number) => ({ seq, docs: 1, bytes: header.segments[i], chunks: [i] })),
    chunks: header.segments.map((n: number, i: number) => ({ file: `chunks/${i}.bin`, bytes: n, sha256: 'a'.repeat(64) })),
    totalBytes: header.segments.reduce((a: number, b: number) => a + b, 0),
    createdAt: '2026-01-01T00:00:00Z',
  };
  it('JSON-mutated manifests and arbitrary values: a manifest whose chunk paths stay inside, or StaticPackageError', () => {
    expect(() => validateManifest(structuredClone(manifest))).not.toThrow();
    const text = new TextEncoder().encode(JSON.stringify(manifest));
    const fromBytes = mutated(text).map((b) => {
      try {
        return JSON.parse(new TextDecoder().decode(b));
      } catch {
        return null;
      }
    });
    const fieldEdits = fc
      .tuple(fc.constantFrom('chunks', 'segments', 'meta', 'model', 'totalBytes', 'schemaVersion', 'version'), fc.anything())
      .map(([k, v]) => ({ ...structuredClone(manifest), [k]: v }));
    const paths = fc.oneof(fc.string(), fc.constantFrom('..', '%2e%2e/x', '\\\\h\\x', ' /x', 'a\tb', 'https://x/y')).map((f) => {
      const m = structuredClone(manifest);
      m.chunks[0].file = f;
      return m;
    });
    fc.assert(
      fc.property(fc.oneof(fromBytes, fieldEdits, paths, fc.anything()), (m) =>
        onlyThrows([StaticPackageError], () => {
          const v = validateManifest(m);
          for (const c of v.chunks) expect(new URL(c.file, 'https://s.example/pkg/manifest.json').href.startsWith('https://s.example/pkg/')).toBe(true);
        }),
      ),
      { numRuns: RUNS },
    );
  });
});

describe('safetensors', () => {
  const st = writeSafetensors(
    { weight: { shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) }, bias: { shape: [2], data: Float32Array.of(7, 8), dtype: 'F16' } },
    { source: 'x' },
  );
  it('mutated files and random headers: tensors whose data matches their shape, or SafetensorsError', () => {
    const headers = fc.json().map((j) => {
      const h = new TextEncoder().encode(j);
      const out = new Uint8Array(8 + h.length + 16);
      new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
      out.set(h, 8);
      return out;
    });
    fc.assert(
      fc.property(fc.oneof(mutated(st), mutated(st, [0, 8]), headers, fc.uint8Array({ maxLength: 40 })), (bytes) =>
        onlyThrows([SafetensorsError], () => {
          for (const t of Object.values(readSafetensors(bytes, 'f.safetensors').tensors)) expect(t.data.length).toBe(t.shape.reduce((a, b) => a * b, 1));
        }),
      ),
      { numRuns: RUNS },
    );
  });
});
