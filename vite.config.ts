import { defineConfig } from 'vite';
import { resolve } from 'node:path';
import m3search from './src/vite.ts';
import { demoPlugins } from './demo/vite-plugins.ts';

// The package's own Vite plugin (src/vite.ts, `m3-search/vite`): ONNX Runtime's wasm files at /ort/ on this
// origin (never a CDN, so the app works offline), the ES worker format, and COOP/COEP for WASM threads.
export default defineConfig({
  plugins: [m3search(), ...demoPlugins()],
  server: { host: '127.0.0.1' },
  preview: { host: '127.0.0.1' },
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
});
