/**
 * Loading by hub id from a hub that is not huggingface.co (the local stand-in): the hub's URL layout, the
 * heads from another path, a download cut midway that resumes with Range instead of starting over, and the
 * app's own Transformers.js hub settings left as they were.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { env } from '@huggingface/transformers';
import { M3Encoder } from './m3-encoder.ts';
import { resumableFetch } from './resumable-fetch.ts';
import { startLocalHub, type LocalHub } from '../../test/testmodel/local-hub.ts';

const MODEL = 'public/models/tiny-m3';
const Q8 = 'onnx/model_quantized.onnx';
let hub: LocalHub;
let cacheDir: string;
let repo: string;
const savedCacheDir = env.cacheDir;

beforeAll(async () => {
  // Xenova/bge-m3's layout: the ONNX export and tokenizer, no heads (those come from a second path)
  repo = mkdtempSync(join(tmpdir(), 'm3-hub-repo-'));
  cpSync(MODEL, repo, { recursive: true, filter: (src) => !src.endsWith('.safetensors') });
  hub = await startLocalHub({ repos: { 'Xenova/bge-m3': repo }, mounts: { '/heads/bge-m3/': MODEL } });
  cacheDir = mkdtempSync(join(tmpdir(), 'm3-hub-cache-'));
  env.cacheDir = cacheDir; // Transformers.js's Node file cache: a fresh one, never the real hub's files
});
afterAll(async () => {
  env.cacheDir = savedCacheDir;
  await hub.close();
  rmSync(cacheDir, { recursive: true, force: true });
  rmSync(repo, { recursive: true, force: true });
});

describe('local hub', () => {
  it('serves ranges, ETags and 404s the way the hub does', async () => {
    const url = `${hub.url}Xenova/bge-m3/resolve/main/config.json`;
    const full = await fetch(url);
    const body = new Uint8Array(await full.arrayBuffer());
    const etag = full.headers.get('etag')!;
    expect(full.status).toBe(200);
    expect(full.headers.get('accept-ranges')).toBe('bytes');
    expect(body).toEqual(new Uint8Array(readFileSync(join(MODEL, 'config.json'))));
    const part = await fetch(url, { headers: { Range: 'bytes=10-19', 'If-Range': etag } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 10-19/${body.length}`);
    expect(new Uint8Array(await part.arrayBuffer())).toEqual(body.subarray(10, 20));
    const stale = await fetch(url, { headers: { Range: 'bytes=10-19', 'If-Range': '"other"' } });
    expect(stale.status).toBe(200); // the file changed: all of it, not a splice
    await stale.arrayBuffer();
    expect((await fetch(url, { headers: { 'If-None-Match': etag } })).status).toBe(304);
    expect((await fetch(url, { headers: { Range: `bytes=${body.length}-` } })).status).toBe(416);
    expect((await fetch(`${hub.url}Xenova/bge-m3/resolve/main/nope.json`)).status).toBe(404);
    expect((await fetch(`${hub.url}Xenova/bge-m3/resolve/main/..%2F..%2Fpackage.json`)).status).toBe(404);
  });
});

describe('resumableFetch', () => {
  const file = join(MODEL, Q8);
  const size = statSync(file).size;
  const url = () => `${hub.url}Xenova/bge-m3/resolve/main/${Q8}`;

  it('splices a cut body with Range + If-Range: the bytes are whole and none is sent twice', async () => {
    Object.assign(hub.behaviour, { cutAfterBytes: 100_000, cuts: 2, match: Q8 });
    hub.log.length = 0;
    const resumes: number[] = [];
    const f = resumableFetch(fetch, { backoffMs: 10, onResume: (_u, from) => resumes.push(from) });
    const res = await f(url());
    const bytes = new Uint8Array(await res.arrayBuffer());
    expect(bytes).toEqual(new Uint8Array(readFileSync(file)));
    expect(resumes).toEqual([100_000, 200_000]);
    const gets = hub.log.filter((r) => r.path.endsWith(Q8));
    expect(gets.map((r) => [r.status, r.range ?? null, r.cut])).toEqual([
      [200, null, true],
      [206, 'bytes=100000-', true],
      [206, 'bytes=200000-', false],
    ]);
    expect(hub.sentFor(Q8)).toBe(size);
  });

  it('gives up with the byte count when the connection keeps dropping without progress', async () => {
    Object.assign(hub.behaviour, { cutAfterBytes: 50_000, cuts: 1, match: Q8 });
    const f = resumableFetch(
      async (input, init) => {
        // after the first cut the network is gone
        if (new Headers(init?.headers).has('Range')) throw new TypeError('fetch failed');
        return fetch(input, init);
      },
      { retries: 2, backoffMs: 1 },
    );
    const res = await f(url());
    await expect(res.arrayBuffer()).rejects.toThrow(/failed after 50000 of \d+ bytes and 2 resumes/);
  });
});

describe('M3Encoder.load from a hub id on another host', () => {
  it('downloads through the hub layout with heads from a second path, resumes a cut graph, leaves env as it was', async () => {
    hub.log.length = 0;
    Object.assign(hub.behaviour, { cutAfterBytes: 300_000, cuts: 1, match: Q8 });
    const before = { remoteHost: env.remoteHost, remotePathTemplate: env.remotePathTemplate };
    const progress: number[] = [];
    const enc = await M3Encoder.load({
      model: 'Xenova/bge-m3',
      heads: `${hub.url}heads/bge-m3`,
      remoteHost: hub.url,
      device: 'cpu',
      dtype: 'q8',
      onProgress: (p) => progress.push(p.loadedBytes),
    });
    try {
      expect(enc.info.modelId).toBe('Xenova/bge-m3');
      expect(enc.info.heads).toEqual({ sparse: true, colbert: true });
      const [e] = await enc.encode(['offline search in the browser'], { colbert: true });
      expect(e.dense!.length).toBe(32);
      expect(e.sparse!.ids.length).toBeGreaterThan(0);
      expect(e.colbert!.length).toBe((e.tokens - 1) * 32);
      // a cut, then one ranged request from where it stopped: the graph was sent exactly once in all
      // (Transformers.js first asks for bytes=0-0 in Node, to learn the size)
      const graph = hub.log.filter((r) => r.path.endsWith(Q8) && r.range !== 'bytes=0-0');
      expect(graph.map((r) => [r.status, r.range ?? null, r.cut])).toEqual([
        [200, null, true],
        [206, 'bytes=300000-', false],
      ]);
      expect(graph.reduce((s, r) => s + r.sent, 0)).toBe(statSync(join(MODEL, Q8)).size);
      expect(hub.log.some((r) => r.path === '/heads/bge-m3/sparse_linear.safetensors' && r.status === 200)).toBe(true);
      expect(hub.log.every((r) => r.path.startsWith('/Xenova/bge-m3/resolve/main/') || r.path.startsWith('/heads/bge-m3/'))).toBe(true);
      expect(Math.max(...progress)).toBeGreaterThan(statSync(join(MODEL, Q8)).size);
      expect({ remoteHost: env.remoteHost, remotePathTemplate: env.remotePathTemplate }).toEqual(before);
    } finally {
      await enc.dispose();
    }
  });

  it("follows the app's own env.remoteHost when no remoteHost option is given", async () => {
    const saved = env.remoteHost;
    env.remoteHost = hub.url;
    try {
      const enc = await M3Encoder.load({ model: 'Xenova/bge-m3', device: 'cpu', dtype: 'fp32' });
      expect(enc.info.heads).toEqual({ sparse: false, colbert: false }); // Xenova's repo has none: dense only
      await enc.dispose();
      expect(env.remoteHost).toBe(hub.url);
    } finally {
      env.remoteHost = saved;
    }
  });

  it('says which file and host when the hub fails', async () => {
    Object.assign(hub.behaviour, { failStatus: 503 });
    writeFileSync(join(cacheDir, 'marker'), ''); // the cache folder exists but holds nothing for this id
    try {
      await expect(M3Encoder.load({ model: 'Other/model', remoteHost: hub.url, device: 'cpu' })).rejects.toThrow(/config\.json.*HTTP 503|503.*config\.json/s);
    } finally {
      hub.behaviour.failStatus = 0;
    }
  });
});
