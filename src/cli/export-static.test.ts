import { SCHEMA_VERSION } from '../store/types.ts';
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const cli = (...args: string[]) => spawnSync('node', ['--import', 'tsx', 'src/cli/bin.ts', ...args], { encoding: 'utf8' });

describe('m3-search index --static / export', () => {
  const dir = mkdtempSync(join(tmpdir(), 'm3-cli-static-'));
  const docs = join(dir, 'docs.jsonl');
  writeFileSync(
    docs,
    ['boundary layer flow', 'shock waves on a swept wing', 'hypersonic heat transfer'].map((t, i) => JSON.stringify({ id: `d${i}`, text: t })).join('\n') +
      '\n',
  );
  const index = join(dir, 'index');

  it('writes a static package next to the index', () => {
    const r = cli('index', '--model', 'public/models/tiny-m3', '--dtype', 'fp32', '--input', docs, '--out', index, '--static', join(dir, 'site'), '--quiet');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/static package [0-9a-f]{16}: 3 documents, 1 chunks/);
    const m = JSON.parse(readFileSync(join(dir, 'site/manifest.json'), 'utf8'));
    expect(m).toMatchObject({ format: 'm3-search-static', packageVersion: 1, schemaVersion: SCHEMA_VERSION, docCount: 3, model: { dims: m.meta.dims } });
    for (const c of m.chunks) expect(existsSync(join(dir, 'site', c.file))).toBe(true);
  });

  it('exports to each engine, and refuses an unknown one', () => {
    for (const to of ['qdrant', 'milvus', 'vespa']) {
      const r = cli('export', '--index', index, '--to', to, '--out', join(dir, to));
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toMatch(new RegExp(`exported 3 documents \\(3 points\\) for ${to}`));
    }
    const bad = cli('export', '--index', index, '--to', 'elastic', '--out', join(dir, 'x'));
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/--to must be one of qdrant, milvus, vespa/);
  });
});
