/**
 * The dense-scan kernels in Chromium, where relaxed SIMD exists (Node 20 lacks it, so only this test runs the
 * relaxed kernel): every kernel's scores equal the integer reference exactly (scan and gather paths), and top-k
 * equals a full sort of those scores.
 */
import { test, expect } from '@playwright/test';
import { openHarness } from './helpers.ts';

test('relaxed-SIMD, SIMD and JS kernels score exactly like the integer reference in Chromium', async ({ page }) => {
  await openHarness(page, '/e2e/pages/index.html');
  const r = await page.evaluate(() => {
    const { DenseMatrix, wasmKernelSupported, randomRows, referenceScore } = (window as any).m3index.dense;
    const out: { supported: boolean[]; auto: string; checked: Record<string, number>; bad: string[] } = {
      supported: [wasmKernelSupported(false), wasmKernelSupported(true)],
      auto: new DenseMatrix(8).kernel,
      checked: {},
      bad: [],
    };
    for (const kernel of ['relaxed', 'simd', 'js']) {
      let n = 0;
      for (const dim of [1024, 130, 64]) {
        const rows = 103; // not a multiple of 4: padded kernel slots must not leak
        const mat = new DenseMatrix(dim, { kernel });
        if (mat.kernel !== kernel) out.bad.push(`${kernel}: got kernel ${mat.kernel}`);
        if (kernel === 'relaxed' && mat.queryMax !== 63) out.bad.push(`relaxed queryMax ${mat.queryMax}`);
        mat.appendFloat(randomRows(rows, dim, dim));
        mat.removeRow(5);
        const queries = randomRows(4, dim, dim + 7);
        for (let j = 0; j < 4; j++) {
          const q = queries.subarray(j * dim, (j + 1) * dim);
          const all = mat.scoreAll(q);
          const ref = Array.from({ length: rows }, (_, row) => referenceScore(mat, q, row));
          for (let row = 0; row < rows; row++) {
            if (row !== 5 && all[row] !== ref[row]) out.bad.push(`${kernel} dim ${dim} q${j} row ${row}: scan ${all[row]} vs ${ref[row]}`);
            n++;
          }
          const cand = [101, 0, 57, 3, 102, 20];
          const gathered = mat.scoreRows(q, cand);
          cand.forEach((row, i) => gathered[i] !== ref[row] && out.bad.push(`${kernel} dim ${dim} q${j} row ${row}: gather ${gathered[i]} vs ${ref[row]}`));
          const top = mat.search(q, 10);
          const want = ref
            .map((s, row) => ({ s, row }))
            .filter((x) => x.row !== 5)
            .sort((a, b) => b.s - a.s || a.row - b.row)
            .slice(0, 10);
          if (JSON.stringify(Array.from(top.rows)) !== JSON.stringify(want.map((x) => x.row)))
            out.bad.push(`${kernel} dim ${dim} q${j}: top-10 ${Array.from(top.rows)} vs ${want.map((x) => x.row)}`);
        }
      }
      out.checked[kernel] = n;
    }
    return out;
  });
  expect(r.supported).toEqual([true, true]); // Chromium has SIMD128 and relaxed SIMD
  expect(r.auto).toBe('simd'); // 'auto' never picks relaxed (its 7-bit query loses recall)
  expect(r.bad.slice(0, 10)).toEqual([]);
  expect(r.checked).toEqual({ relaxed: 3 * 4 * 103, simd: 3 * 4 * 103, js: 3 * 4 * 103 });
});
