import { describe, expect, it } from 'vitest';
import { cranfieldAvailable, cranfieldDir, loadCranfield, parseCranfieldDocs, parseCranfieldQrels, parseCranfieldQueries } from './cranfield.ts';
import { evaluateRun } from './metrics.ts';
import { MODES } from '../../scripts/eval-cranfield.ts';

describe('cranfield parsers', () => {
  it('parses documents, queries (numbered by position) and qrels', () => {
    const docs = parseCranfieldDocs('.I 1\n.T\nwing flow .\n.A\nsmith\n.B\nj. ae.\n.W\nwing flow .\n  lift\n.A\nstray\n.I 2\n.T\n.A\n.B\n.W\n');
    expect(docs).toEqual([
      { id: '1', title: 'wing flow .', authors: 'smith', source: 'j. ae.', abstract: 'wing flow . lift stray' },
      { id: '2', title: '', authors: '', source: '', abstract: '' },
    ]);
    const qs = parseCranfieldQueries('.I 001\n.W\nwhat is lift .\n.I 004\n.W\nheat\nconduction .\n');
    expect(qs).toEqual([
      { id: '1', fileId: '001', text: 'what is lift .' },
      { id: '2', fileId: '004', text: 'heat conduction .' },
    ]);
    const qrels = parseCranfieldQrels('1 184 2 \n1 29 1\n\n1 486 -1\n2 5 4\n');
    expect([...qrels.get('1')!]).toEqual([
      ['184', 3],
      ['29', 4],
      ['486', 0],
    ]);
    expect([...qrels.get('2')!]).toEqual([['5', 1]]);
  });
});

const dir = await cranfieldDir();
const available = await cranfieldAvailable(dir);
describe('cranfield BM25 quality', () => {
  it('has the collection (vendored at data/cranfield; never skipped)', () => {
    expect(available, `Cranfield not found in ${dir}`).toBe(true);
  });

  const evalMode = async (name: string) => {
    const data = await loadCranfield(dir);
    const mode = MODES.find((m) => m.name === name)!;
    return evaluateRun(await mode.run(data, 100), data.qrels, 10, 100);
  };

  it('loads the full collection', async () => {
    const data = await loadCranfield(dir);
    expect(data.docs).toHaveLength(1400);
    expect(data.queries).toHaveLength(225);
    expect(data.qrels.size).toBe(225);
  });

  it('reproduces the README reference (validates the metrics)', async () => {
    const ev = await evalMode('bm25-ascii-uniq');
    expect(ev.queries).toBe(225);
    expect(ev.ndcg).toBeCloseTo(0.342, 3);
    expect(ev.recall).toBeCloseTo(0.697, 3);
  });

  it('reaches nDCG@10 >= 0.342 with the project analyzer, with and without stemming', async () => {
    expect((await evalMode('bm25')).ndcg).toBeGreaterThanOrEqual(0.342);
    expect((await evalMode('bm25-stem')).ndcg).toBeGreaterThanOrEqual(0.342);
  });
});
