/// <reference lib="webworker" />
/**
 * The demo's service worker (built by vite-plugin-pwa's injectManifest). Precaches the app shell, the demo
 * corpus and ORT's wasm runtime. Model files (the bundled test model too) are NOT cached here: the library
 * keeps them in Transformers.js's Cache API cache ("transformers-cache", src/encoder/model-cache.ts), which it
 * reads before the network in any app, with or without a service worker. Caching them here as well would store
 * every model twice (1.1 GB for BGE-M3 q8 instead of 570 MB).
 *
 * Every same-origin response it serves carries COOP/COEP again: the page must stay cross-origin
 * isolated offline (SharedArrayBuffer, hence ORT's WASM threads), and a static host that can't set
 * those headers gets them from here after the first visit.
 */
import { clientsClaim } from 'workbox-core';
import { addPlugins, cleanupOutdatedCaches, precacheAndRoute } from 'workbox-precaching';
import type { WorkboxPlugin } from 'workbox-core/types.js';

declare let self: ServiceWorkerGlobalScope & { __WB_MANIFEST: (string | { url: string; revision: string | null })[] };

const ISOLATION: Record<string, string> = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

function isolated(response: Response): Response {
  if (response.type === 'opaque' || response.type === 'opaqueredirect' || new URL(response.url || self.location.href).origin !== self.location.origin)
    return response;
  const headers = new Headers(response.headers);
  for (const [k, v] of Object.entries(ISOLATION)) headers.set(k, v);
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}

const reisolate: WorkboxPlugin = {
  cachedResponseWillBeUsed: async ({ cachedResponse }) => cachedResponse && isolated(cachedResponse),
};

self.skipWaiting();
clientsClaim(); // the first visit is controlled at once, so it is offline-ready without a reload

addPlugins([reisolate]);
// The demo's own query parameters (?device=, ?hub=) must not make the precached page miss offline.
precacheAndRoute(self.__WB_MANIFEST, { ignoreURLParametersMatching: [/.*/] });
cleanupOutdatedCaches();
// Earlier versions kept model files in a runtime cache of their own: drop that second copy.
self.addEventListener('activate', (event) => event.waitUntil(caches.delete('m3-models')));
