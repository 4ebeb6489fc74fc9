/**
 * Clicks as training pairs (issue 5, source c): opening a result for a query is taken as "this document
 * answers this query". Kept per index in localStorage (small, synchronous, survives reloads), newest last,
 * capped so a long session cannot grow it without bound.
 */
export interface Click {
  query: string;
  docId: string;
}

const MAX = 500;
const key = (indexName: string) => `m3-search:clicks:${indexName}`;

export function readClicks(indexName: string): Click[] {
  try {
    const v = JSON.parse(localStorage.getItem(key(indexName)) ?? '[]');
    return Array.isArray(v) ? v.filter((c) => typeof c?.query === 'string' && typeof c?.docId === 'string') : [];
  } catch {
    return []; // a corrupt entry costs the clicks, never the page
  }
}

export function logClick(indexName: string, click: Click): void {
  const query = click.query.trim();
  if (!query) return;
  const all = readClicks(indexName).filter((c) => !(c.query === query && c.docId === click.docId));
  all.push({ query, docId: click.docId });
  try {
    localStorage.setItem(key(indexName), JSON.stringify(all.slice(-MAX)));
  } catch {
    /* storage full or blocked: clicks are a bonus */
  }
}
