import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { M3Encoder } from '../encoder/m3-encoder.ts';
import { generateHeadWeights, generateWeights, referenceForward, tinyConfig } from '../../test/testmodel/index.ts';

const weights = generateWeights(tinyConfig());
const heads = generateHeadWeights(tinyConfig());
const H = tinyConfig().hiddenSize;

function run(input: string, ...args: string[]) {
  return spawnSync('node', ['--import', 'tsx', 'src/cli/bin.ts', 'encode', '--model', 'public/models/tiny-m3', '--dtype', 'fp32', ...args], {
    input,
    encoding: 'utf8',
  });
}

describe('m3-search encode', () => {
  it('prints the stable JSON-lines contract, matching an independent float64 M3', async () => {
    const texts = ['What is BGE M3?', 'line one\nline two', ''];
    const input = `${texts[0]}\n${JSON.stringify(texts[1])}\n\n`;
    const res = run(input, '--colbert');
    expect(res.status, res.stderr).toBe(0);
    const lines = res.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(3);
    const tok = await M3Encoder.load({ model: 'public/models/tiny-m3', dtype: 'fp32' });
    lines.forEach((o, t) => {
      expect(Object.keys(o)).toEqual(['dense', 'sparse', 'colbert', 'tokens', 'truncated']);
      const ids = tok.tokenize(texts[t]).ids;
      expect(o.tokens).toBe(ids.length);
      expect(o.truncated).toBe(false);
      const hs = referenceForward(weights, [ids], [ids.map(() => 1)]);
      const cls = Array.from(hs.subarray(0, H));
      const n = Math.hypot(...cls);
      cls.forEach((x, i) => expect(Math.abs(o.dense[i] - x / n)).toBeLessThan(1e-5));
      const sparse: Record<string, number> = {};
      ids.forEach((id, i) => {
        if (id <= 3) return;
        let w = heads.sparse.bias.data[0];
        for (let j = 0; j < H; j++) w += hs[i * H + j] * heads.sparse.weight.data[j];
        if (w > 0 && w > (sparse[id] ?? 0)) sparse[id] = w;
      });
      expect(Object.keys(o.sparse).sort()).toEqual(Object.keys(sparse).sort());
      for (const k of Object.keys(sparse)) expect(Math.abs(o.sparse[k] - sparse[k])).toBeLessThan(1e-5);
      expect(o.colbert).toHaveLength(ids.length - 1);
      expect(o.colbert[0]).toHaveLength(H);
    });
  });

  it('flags truncation and leaves ColBERT out unless asked', () => {
    const res = run('flow '.repeat(50) + '\n', '--max-length', '16');
    expect(res.status, res.stderr).toBe(0);
    const o = JSON.parse(res.stdout);
    expect(o).toMatchObject({ tokens: 16, truncated: true });
    expect(o.colbert).toBeUndefined();
  });

  it('fails clearly on a bad JSON line and an unknown model', () => {
    const bad = run('"unterminated\n');
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/line 1/);
    const missing = spawnSync('node', ['--import', 'tsx', 'src/cli/bin.ts', 'encode', '--model', '/nonexistent/model'], { input: 'x\n', encoding: 'utf8' });
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toMatch(/not found/);
  });
});
