/**
 * The demo's build plugins: its corpus (the project's docs) and that corpus indexed by the CLI (both rebuilt
 * when they change, at build and dev start), and the offline PWA (manifest, icons, a Workbox service worker
 * precaching the app and ORT's wasm; models live in the library's cache).
 */
import type { Plugin, PluginOption } from 'vite';
import { VitePWA } from 'vite-plugin-pwa';
import { buildDemoIndex } from '../scripts/build-demo-index.ts';

/** The corpus (public/demo-corpus.json) and its index built by the CLI (public/demo-index/, a static package). */
function demoCorpus(): Plugin {
  const write = () => void buildDemoIndex(process.cwd());
  return { name: 'm3-demo-corpus', buildStart: write, configureServer: write };
}

export function demoPlugins(): PluginOption[] {
  return [
    demoCorpus(),
    VitePWA({
      strategies: 'injectManifest',
      srcDir: 'demo',
      filename: 'sw.ts',
      injectRegister: false, // demo/main.ts registers it (production builds only)
      scope: '/',
      base: '/',
      manifest: {
        name: 'm3-search demo',
        short_name: 'm3-search',
        description: 'BGE-M3 search in the browser: dense, sparse, ColBERT and BM25, explained, offline.',
        start_url: '/demo/',
        scope: '/',
        display: 'standalone',
        background_color: '#f6f7fb',
        theme_color: '#1e3a8a',
        icons: [
          { src: '/icons/icon-192.png', sizes: '192x192', type: 'image/png' },
          { src: '/icons/icon-512.png', sizes: '512x512', type: 'image/png' },
          { src: '/icons/icon-512.png', sizes: '512x512', type: 'image/png', purpose: 'maskable' },
          { src: '/icons/icon.svg', sizes: 'any', type: 'image/svg+xml' },
        ],
      },
      injectManifest: {
        // No model files: the library's model cache keeps those, once (see demo/sw.ts).
        globPatterns: ['demo/index.html', 'assets/**/*.{js,css}', 'ort/*.{wasm,mjs}', 'demo-corpus.json'],
        // ORT's threaded wasm is ~27 MB; Workbox refuses files over 2 MB by default.
        maximumFileSizeToCacheInBytes: 64 * 1024 * 1024,
      },
      devOptions: { enabled: false },
    }),
  ];
}
