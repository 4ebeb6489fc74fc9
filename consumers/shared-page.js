// The browser check shared by the Vite and webpack consumers (copied into each app at test time): both expose
// window.m3check(phase) — 'first' indexes documents into IndexedDB and searches, 'again' (after a reload) reopens
// the same index and searches again. The test compares the two.
export const DOCS = [
  { id: 'shock', text: 'shock wave formed near the nose of the body at high speed' },
  { id: 'heat', text: 'heat transfer through the boundary layer of a flat plate' },
  { id: 'wing', text: 'swept wing flutter speed measured in the tunnel' },
  { id: 'jet', text: 'jet noise from the exhaust of an engine' },
];
export const QUERY = 'shock wave at the nose';
