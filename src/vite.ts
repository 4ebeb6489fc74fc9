/**
 * `m3-search/vite`: the one line a Vite app needs (`plugins: [m3search()]`).
 *
 * - ONNX Runtime's wasm runtime (the .wasm and its .mjs loader, which the encoder fetches at run time) is served
 *   by the dev server and emitted into the build at `wasmPaths` (default `/ort/`, the encoder's default), taken
 *   from the onnxruntime-web that Transformers.js itself resolves, so the versions always match.
 * - The worker (`createM3Worker()`) is bundled as an ES module worker: the encoder loads Transformers.js with a
 *   dynamic import, which a classic (iife) worker bundle cannot split.
 * - COOP/COEP headers on the dev and preview servers (option `isolation`, default on): cross-origin isolation
 *   gives ORT's WASM backend SharedArrayBuffer, hence threads. Your production server must send them too.
 */
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Plugin } from 'vite';

export interface M3SearchPluginOptions {
  /**
   * URL path where ONNX Runtime's files are served and emitted; pass the same to `M3Encoder.load({ wasmPaths })`
   * or `createM3Worker().load({ wasmPaths })` when you change it. Default `/ort/`.
   */
  wasmPaths?: string;
  /** Send `Cross-Origin-Opener-Policy: same-origin` and `Cross-Origin-Embedder-Policy: require-corp` from the dev and preview servers. Default true. */
  isolation?: boolean;
}

/** The files the encoder asks for (the asyncify build also carries the WebGPU execution provider). */
export const ORT_FILES = ['ort-wasm-simd-threaded.asyncify.wasm', 'ort-wasm-simd-threaded.asyncify.mjs'] as const;

export const ISOLATION_HEADERS = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

/** The folder holding onnxruntime-web's wasm files: the copy that Transformers.js (as installed beside m3-search) imports. */
export function ortDistDir(): string {
  const transformers = createRequire(import.meta.url).resolve('@huggingface/transformers');
  return dirname(createRequire(transformers).resolve('onnxruntime-web'));
}

export default function m3search(options: M3SearchPluginOptions = {}): Plugin {
  const urlPath = normalizePath(options.wasmPaths ?? '/ort/');
  const isolation = options.isolation ?? true;
  let dir: string | undefined;
  const ortDir = () => (dir ??= ortDistDir());

  return {
    name: 'm3-search',
    config() {
      const headers = isolation ? ISOLATION_HEADERS : undefined;
      return {
        worker: { format: 'es' },
        // Pre-bundling would move the package's `new URL('./m3.worker.js', import.meta.url)` away from the worker file.
        optimizeDeps: { exclude: ['m3-search'] },
        ...(headers ? { server: { headers }, preview: { headers } } : {}),
      };
    },
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const name = ortFileFor(req.url, urlPath);
        if (!name) return next();
        const file = join(ortDir(), name);
        res.setHeader('Content-Type', name.endsWith('.wasm') ? 'application/wasm' : 'text/javascript');
        res.setHeader('Content-Length', statSync(file).size);
        if (isolation) res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
        createReadStream(file).pipe(res);
      });
    },
    generateBundle() {
      if (/^[a-z][a-z0-9+.-]*:/i.test(urlPath)) return; // served from elsewhere (a CDN you set up): nothing to emit
      for (const name of ORT_FILES) {
        this.emitFile({ type: 'asset', fileName: `${urlPath.replace(/^\/+/, '')}${name}`, source: readFileSync(join(ortDir(), name)) });
      }
    },
  };
}

function normalizePath(p: string): string {
  if (typeof p !== 'string' || p === '') throw new TypeError('m3search({ wasmPaths }) must be a non-empty URL path like "/ort/"');
  return p.endsWith('/') ? p : `${p}/`;
}

function ortFileFor(url: string | undefined, urlPath: string): string | undefined {
  if (!url) return undefined;
  const path = url.split('?')[0];
  if (!path.startsWith(urlPath)) return undefined;
  const name = path.slice(urlPath.length);
  return (ORT_FILES as readonly string[]).includes(name) ? name : undefined;
}
