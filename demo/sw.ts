/// <reference lib="webworker" />
/**
 * The demo's service worker (built by vite-plugin-pwa's injectManifest). Precaches the app shell, the
 * tiny test model, the demo corpus and ORT's wasm runtime; caches real model files when first fetched.
 *
 * Every same-origin response it serves carries COOP/COEP again: the page must stay cross-origin
 * isolated offline (SharedArrayBuffer, hence ORT's WASM threads), and a static host that can't set
 * those headers gets them from here after the first visit.
 */
import { clientsClaim } from 'workbox-core';
import { addPlugins, cleanupOutdatedCaches, precacheAndRoute } from 'workbox-precaching';
import { registerRoute } from 'workbox-routing';
import { CacheFirst } from 'workbox-strategies';
import { CacheableResponsePlugin } from 'workbox-cacheable-response';
import type { WorkboxPlugin } from 'workbox-core/types.js';

declare let self: ServiceWorkerGlobalScope & { __WB_MANIFEST: (string | { url: string; revision: string | null })[] };

const ISOLATION: Record<string, string> = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

function isolated(response: Response): Response {
  if (response.type === 'opaque' || response.type === 'opaqueredirect' || new URL(response.url || self.location.href).origin !== self.location.origin) return response;
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
precacheAndRoute(self.__WB_MANIFEST);
cleanupOutdatedCaches();

// Model files not precached (BGE-M3 from the hub, a self-hosted folder): they never change under the same
// URL, so the first download is kept and served from then on, offline too.
registerRoute(
  ({ url, request }) => request.method === 'GET' && /\.(onnx|onnx_data|safetensors|json|txt|model)$/.test(url.pathname) && (url.origin !== self.location.origin || url.pathname.startsWith('/models/')),
  new CacheFirst({ cacheName: 'm3-models', plugins: [new CacheableResponsePlugin({ statuses: [200] }), reisolate] }),
);
