// Service worker of the static-site example page (e2e/pages/static-site.*): network first for the page and
// its scripts, the cache when the network is gone. The search index itself is not cached here: it lives in
// IndexedDB, put there by M3Index.fromStatic, and the package's manifest and chunks always go to the network
// (so a new version is noticed online, and offline the loader falls back to the installed one).
const CACHE = 'static-site-shell';

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== 'GET' || url.origin !== self.location.origin) return;
  const shell = event.request.mode === 'navigate' || url.pathname.startsWith('/assets/');
  if (!shell) return;
  event.respondWith(
    fetch(event.request)
      .then((res) => {
        if (res.ok) {
          const copy = res.clone();
          void caches.open(CACHE).then((c) => c.put(event.request, copy));
        }
        return res;
      })
      // ignoreVary: the server sends "Vary: Origin", and module scripts carry an Origin header that the
      // page-side cache.addAll requests did not.
      .catch(async () => (await caches.match(event.request, { ignoreVary: true })) ?? Response.error()),
  );
});
