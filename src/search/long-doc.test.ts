/** Long documents: a 5 MB one becomes passages in bounded memory; one past MAX_DOC_CHARS is refused by name. */
import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../store/memory-store.ts';
import { MAX_DOC_CHARS } from './chunking.ts';
import { FakeEncoder } from '../../test/support/fake-encoder.ts';
import { M3Index } from './m3-index.ts';
import { tuningAccess } from './tuning-access.ts';

describe('long documents', () => {
  it('a 5 MB document is indexed as passages, each within the model length, in bounded memory', async () => {
    const enc = new FakeEncoder({ dims: 16, maxLength: 512 });
    const idx = await M3Index.open('long', { store: new MemoryStore(), encoder: enc });
    const words = 'alpha beta gamma delta epsilon zeta eta theta iota kappa'.split(' ');
    let text = Array.from({ length: 700_000 }, (_, i) => words[(i * 7) % 10]).join(' ');
    text = text.slice(0, 2 ** 20) + ' ' + 'z'.repeat(2 ** 20) + ' ' + text.slice(2 ** 20, 4 * 2 ** 20); // a 1 MB run without spaces too
    expect(text.length).toBeGreaterThan(5 * 10 ** 6);
    const before = process.memoryUsage().rss;
    await idx.add([
      { id: 'big', text },
      { id: 'small', text: 'omega' },
    ]);
    const grew = process.memoryUsage().rss - before; // garbage included: an upper bound on what was live
    expect(idx.count()).toBe(2);
    expect(enc.calls.reduce((a, b) => a + b, 0)).toBeGreaterThan(1000);
    expect(grew).toBeLessThan(512 * 2 ** 20); // 78 MiB measured (load average ~20, shared machine)
    const [seg] = await tuningAccess(idx).store.readSegments();
    const spans = seg.rowSpans;
    expect(spans.length / 2).toBeGreaterThan(1000);
    for (let r = 0; r < spans.length / 2; r += 97) expect(enc.tokenize(text.slice(spans[2 * r], spans[2 * r + 1])).ids.length).toBeLessThanOrEqual(512);
    const [hit] = await idx.search('omega', { k: 1, mode: 'bm25' });
    expect(hit.id).toBe('small');
  }, 120_000);

  it(`a document over ${MAX_DOC_CHARS} characters is refused with its id and the limit`, async () => {
    const idx = await M3Index.open('huge', { store: new MemoryStore(), encoder: new FakeEncoder({ dims: 16 }) });
    await expect(idx.add([{ id: 'huge', text: 'x'.repeat(MAX_DOC_CHARS + 1) }])).rejects.toThrow(/document "huge" has \d+ characters; at most \d+ are indexed/);
    expect(idx.count()).toBe(0);
  });
});
