import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const cli = (...args: string[]) => spawnSync('node', ['--import', 'tsx', 'src/cli/bin.ts', ...args], { encoding: 'utf8' });
const MODEL = 'public/models/tiny-m3';

const DOCS = Array.from({ length: 24 }, (_, i) => ({
  id: `d${i}`,
  text: `${['boundary layer', 'shock wave', 'heat transfer', 'swept wing'][i % 4]} study ${i}\nThe flow over a plate was measured at station ${i}. A boundary layer formed near the ${['edge', 'nose', 'tail', 'root'][i % 4]}. Results agree with the theory of the flow.`,
}));

describe('m3-search tune', () => {
  const dir = mkdtempSync(join(tmpdir(), 'm3-cli-tune-'));
  const docs = join(dir, 'docs.jsonl');
  writeFileSync(docs, DOCS.map((d) => JSON.stringify(d)).join('\n') + '\n');
  const out = join(dir, 'index');
  const search = () => cli('search', '--index', out, '--model', MODEL, '--dtype', 'fp32', '--mode', 'sparse', '--json', '--k', '3', 'boundary layer study');

  it('tunes with pseudo-queries and user pairs (unknown ids reported), search ranks with the tuned head, --revert goes back', () => {
    expect(cli('index', '--model', MODEL, '--dtype', 'fp32', '--input', docs, '--out', out, '--quiet').status).toBe(0);
    const before = JSON.parse(search().stdout);
    const pairs = join(dir, 'pairs.jsonl');
    writeFileSync(pairs, '{"query":"heat transfer","docId":"d2"}\n{"query":"ghost","docId":"missing"}\n');
    const t = cli('tune', '--index', out, '--model', MODEL, '--pairs', pairs, '--pseudo-queries', '--epochs', '2', '--teacher', 'none');
    expect(t.status, t.stderr).toBe(0);
    expect(t.stdout).toMatch(/tuned head v1 .* is active/);
    expect(t.stderr).toMatch(/skipped 1 pair.*missing/);
    const list = cli('tune', '--index', out, '--list');
    expect(list.stdout).toMatch(/^v1 \(active\)/);
    const after = JSON.parse(search().stdout);
    expect(after.map((h: any) => h.signals.sparse.score)).not.toEqual(before.map((h: any) => h.signals.sparse.score));
    const r = cli('tune', '--index', out, '--model', MODEL, '--revert');
    expect(r.status, r.stderr).toBe(0);
    const reverted = JSON.parse(search().stdout);
    expect(reverted.map((h: any) => h.id)).toEqual(before.map((h: any) => h.id));
  });

  it('refuses a missing index', () => {
    const r = cli('tune', '--index', join(dir, 'nope'), '--model', MODEL);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/no index/);
  });
});
