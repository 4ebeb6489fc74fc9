import { defineConfig, type Plugin } from 'vite';
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { demoPlugins } from './demo/vite-plugins.ts';

/**
 * onnxruntime-web's wasm runtime is served from this origin (public/ort/), never from a CDN, so the app works
 * offline and no request leaves the origin. Copied from node_modules at start so it always matches the
 * installed version.
 */
function ortWasmFiles(): Plugin {
  const copy = () => {
    const src = resolve('node_modules/onnxruntime-web/dist');
    const dst = resolve('public/ort');
    mkdirSync(dst, { recursive: true });
    for (const f of readdirSync(src)) if (/^ort-wasm-simd-threaded\.asyncify\.(wasm|mjs)$/.test(f)) copyFileSync(`${src}/${f}`, `${dst}/${f}`);
  };
  return { name: 'm3-ort-wasm-files', buildStart: copy, configureServer: copy };
}

// Cross-origin isolation gives ORT's WASM backend SharedArrayBuffer, hence its threads.
const isolation = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

export default defineConfig({
  plugins: [ortWasmFiles(), ...demoPlugins()],
  server: { headers: isolation, host: '127.0.0.1' },
  preview: { headers: isolation, host: '127.0.0.1' },
  build: {
    // dist/ is the npm package (npm run build); this build of the demo and the test pages goes beside it.
    outDir: 'dist-demo',
    target: 'es2022',
    rollupOptions: {
      input: {
        demo: resolve('demo/index.html'),
        encoder: resolve('e2e/pages/encoder.html'),
        bench: resolve('bench/page/index.html'),
        index: resolve('e2e/pages/index.html'),
        'static-site': resolve('e2e/pages/static-site.html'),
        tune: resolve('e2e/pages/tune.html'),
      },
    },
  },
  worker: { format: 'es' },
});
