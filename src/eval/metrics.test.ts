import { describe, expect, it } from 'vitest';
import { evaluateRun, mean, ndcgAtK, parseTrecRun, recallAtK, writeTrecRun, type Qrels, type Run } from './metrics.ts';

const judged = new Map([
  ['a', 3],
  ['b', 2],
  ['c', 0],
  ['d', 1],
]);

describe('metrics', () => {
  it('computes graded nDCG@k by hand', () => {
    // Ranking c, a, x, b: DCG@3 = 0/1 + 3/log2(3) + 0/2; IDCG@3 = 3/1 + 2/log2(3) + 1/2.
    const dcg = 3 / Math.log2(3);
    const idcg = 3 + 2 / Math.log2(3) + 1 / 2;
    expect(ndcgAtK(['c', 'a', 'x', 'b'], judged, 3)).toBeCloseTo(dcg / idcg, 12);
    expect(ndcgAtK(['a', 'b', 'd'], judged, 3)).toBeCloseTo(1, 12);
    expect(ndcgAtK(['a', 'b', 'd'], judged, 10)).toBeCloseTo(1, 12);
    // Ideal is over all judged documents, not only the retrieved ones.
    expect(ndcgAtK(['a'], judged, 10)).toBeCloseTo(3 / (3 + 2 / Math.log2(3) + 1 / 2), 12);
    expect(ndcgAtK([], judged, 10)).toBe(0);
    expect(ndcgAtK(['a'], new Map([['a', 0]]), 10)).toBeNaN();
  });

  it('computes Recall@k', () => {
    expect(recallAtK(['c', 'a', 'x', 'b'], judged, 2)).toBeCloseTo(1 / 3, 12);
    expect(recallAtK(['c', 'a', 'x', 'b'], judged, 10)).toBeCloseTo(2 / 3, 12);
    expect(recallAtK(['a', 'a', 'a'], judged, 10)).toBeCloseTo(1 / 3, 12);
    expect(recallAtK(['a'], new Map(), 10)).toBeNaN();
  });

  it('averages over queries with relevant documents; missing queries score 0', () => {
    const qrels: Qrels = new Map([
      [
        '1',
        new Map([
          ['a', 2],
          ['b', 1],
        ]),
      ],
      ['2', new Map([['c', 1]])],
      ['3', new Map([['z', 0]])], // no relevant document: skipped
    ]);
    const run: Run = new Map([
      [
        '1',
        [
          { docId: 'a', score: 2 },
          { docId: 'b', score: 1 },
        ],
      ],
    ]);
    const ev = evaluateRun(run, qrels, 10, 100);
    expect(ev.queries).toBe(2);
    expect(ev.ndcg).toBeCloseTo(0.5, 12);
    expect(ev.recall).toBeCloseTo(0.5, 12);
    expect(mean([1, NaN, 3])).toBe(2);
    expect(mean([])).toBeNaN();
  });

  it('writes and reads TREC runs', () => {
    const run: Run = new Map([
      [
        '1',
        [
          { docId: 'd9', score: 3.5 },
          { docId: 'd2', score: 1.25 },
        ],
      ],
      ['2', [{ docId: 'd1', score: 0.5 }]],
    ]);
    const text = writeTrecRun(run, 'bm25');
    expect(text).toBe('1 Q0 d9 1 3.5 bm25\n1 Q0 d2 2 1.25 bm25\n2 Q0 d1 1 0.5 bm25\n');
    expect(parseTrecRun(text)).toEqual({ run, tag: 'bm25' });
    // Lines out of order are put back in rank order.
    expect(
      parseTrecRun('1 Q0 b 2 1 t\n1 Q0 a 1 2 t\n')
        .run.get('1')!
        .map((d) => d.docId),
    ).toEqual(['a', 'b']);
    expect(() => parseTrecRun('1 Q0 a 1\n')).toThrow();
    expect(() => writeTrecRun(run, 'two words')).toThrow();
  });
});
