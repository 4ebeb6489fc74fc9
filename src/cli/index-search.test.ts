import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const cli = (...args: string[]) => spawnSync('node', ['--import', 'tsx', 'src/cli/bin.ts', ...args], { encoding: 'utf8' });
const cliStdin = (input: string, ...args: string[]) => spawnSync('node', ['--import', 'tsx', 'src/cli/bin.ts', ...args], { encoding: 'utf8', input });

const DOCS = [
  { id: 'a', text: 'the boundary layer flow over a flat plate', year: 1960 },
  { id: 'b', text: 'supersonic shock waves on a swept wing', year: 1962 },
  { id: 'c', text: 'heat transfer in hypersonic flow <img src=x onerror=alert(1)>', year: 1965 },
];

describe('m3-search index / search', () => {
  const dir = mkdtempSync(join(tmpdir(), 'm3-cli-'));
  const docs = join(dir, 'docs.jsonl');
  writeFileSync(docs, DOCS.map((d) => JSON.stringify(d)).join('\n') + '\n');
  const out = join(dir, 'index');

  it('indexes JSON lines and answers a query, with per-signal scores and metadata', () => {
    const r = cli('index', '--model', 'public/models/tiny-m3', '--dtype', 'fp32', '--input', docs, '--out', out, '--quiet');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/indexed 3 documents/);
    expect(r.stderr).not.toMatch(/indexing \[/); // --quiet: no bar
    const s = cli('search', '--index', out, '--model', 'public/models/tiny-m3', '--json', '--k', '3', '--explain', 'boundary layer');
    expect(s.status, s.stderr).toBe(0);
    const hits = JSON.parse(s.stdout);
    expect(hits[0].id).toBe('a');
    expect(hits[0].metadata).toEqual({ year: 1960 });
    expect(hits[0].signals.bm25.rank).toBe(1);
    expect(hits[0].matches.map((m: any) => m.token)).toEqual(expect.arrayContaining(['boundary', 'layer']));
    expect(hits.map((h: any) => h.id).sort()).toEqual(['a', 'b', 'c']); // k 3 of 3 documents
    expect(hits.find((h: any) => h.id === 'c').text).toBe(DOCS[2].text); // HTML as data, byte for byte
  });

  it('shows docs/s, tokens/s and the device on the progress bar and in the summary', () => {
    const r = cli('index', '--model', 'public/models/tiny-m3', '--dtype', 'q8', '--threads', '1', '--input', docs, '--out', join(dir, 'bar-index'));
    expect(r.status, r.stderr).toBe(0);
    // Not a TTY: cli-progress prints the bar at start and at the end.
    expect(r.stderr).toMatch(/indexing \[.*\] 3\/3 docs \| [\d.]+ docs\/s \| [1-9]\d* tokens\/s on cpu q8, 1 thread \|/);
    expect(r.stderr).toMatch(/indexed 3 documents .* \([\d.]+ docs\/s, [1-9]\d* tokens\/s on cpu q8, 1 thread\)/);
    const bad = cli('index', '--model', 'public/models/tiny-m3', '--threads', 'many', '--input', docs, '--out', join(dir, 'x'));
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/--threads must be a positive integer/);
  });

  it('prints a TREC run for --queries', () => {
    const q = join(dir, 'q.tsv');
    writeFileSync(q, '1\tboundary layer\n2\tshock wave wing\n');
    const s = cli('search', '--index', out, '--model', 'public/models/tiny-m3', '--dtype', 'fp32', '--mode', 'bm25', '--queries', q, '--k', '2');
    expect(s.status, s.stderr).toBe(0);
    const lines = s.stdout
      .trim()
      .split('\n')
      .map((l) => l.split(' '));
    expect(lines[0].slice(0, 4)).toEqual(['1', 'Q0', 'a', '1']);
    expect(lines.find((l) => l[0] === '2')?.slice(2, 4)).toEqual(['b', '1']);
    expect(lines.every((l) => l.length === 6 && l[5] === 'm3-search' && Number.isFinite(Number(l[4])))).toBe(true);
  });

  it('takes the query syntax (after -- when it starts with "-"), explains clauses, and names syntax errors', () => {
    const base = ['search', '--index', out, '--model', 'public/models/tiny-m3', '--dtype', 'fp32', '--mode', 'bm25', '--explain'];
    const s = cli(...base, '--', '-"boundary layer" flow hyper*');
    expect(s.status, s.stderr).toBe(0);
    expect(s.stdout).toMatch(/^ {2}1\. c /);
    expect(s.stdout).not.toMatch(/^ +\d+\. a /m);
    expect(s.stdout).toMatch(/clauses: flow ✓ \(flow\), hyper\* ✓ \(hypersonic\), -"boundary layer" ✗/);
    const j = cli(...base, '--json', '+wng~1');
    expect(JSON.parse(j.stdout).map((h: any) => h.id)).toEqual(['b']);
    const bad = cli(...base, 'wing "swept');
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/unbalanced quote.*character 6/);
    const plain = cli(...base, '--syntax', 'plain', 'wing "swept');
    expect(plain.status, plain.stderr).toBe(0);
  });

  it('refuses bad input with the line or reason named', () => {
    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, '{"id":"x","text":"ok"}\n{"id":7,"text":"bad id"}\n');
    const r = cli('index', '--model', 'public/models/tiny-m3', '--input', bad, '--out', join(dir, 'bad-index'), '--quiet');
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/bad\.jsonl:2.*"id"/);
    const dup = join(dir, 'dup.jsonl');
    writeFileSync(dup, '{"id":"x","text":"one"}\n{"id":"x","text":"two"}\n');
    const d = cli('index', '--model', 'public/models/tiny-m3', '--input', dup, '--out', join(dir, 'dup-index'), '--quiet');
    expect(d.status).not.toBe(0);
    expect(d.stderr).toMatch(/duplicate/i);
    const mode = cli('search', '--index', out, '--model', 'public/models/tiny-m3', '--mode', 'fuzzy', 'x');
    expect(mode.status).not.toBe(0);
    expect(mode.stderr).toMatch(/hybrid.*dense.*sparse.*bm25.*colbert/);
    const k = cli('search', '--index', out, '--model', 'public/models/tiny-m3', '--k', '0', 'x');
    expect(k.status).not.toBe(0);
    expect(k.stderr).toMatch(/k/);
  });

  it('a bad line in a file is refused before anything is written; from stdin, the message says what was committed and how to resume', () => {
    // Batches of 1, read 4 at a time: lines 1-4 are committed before line 6 is read.
    const words = ['one', 'two', 'three', 'four', 'five', 'six'];
    const lines = words.map((w, i) => (i === 5 ? '{"id":"w5","text":6}' : `{"id":"w${i}","text":"${w}"}`));
    const bad = join(dir, 'late-bad.jsonl');
    writeFileSync(bad, lines.join('\n') + '\n');
    const fileOut = join(dir, 'late-file');
    const r = cli('index', '--model', 'public/models/tiny-m3', '--input', bad, '--out', fileOut, '--batch-size', '1', '--quiet');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/late-bad\.jsonl:6: "text" must be a string/);
    expect(existsSync(join(fileOut, 'meta.json'))).toBe(false);
    const pipeOut = join(dir, 'late-pipe');
    const p = cliStdin(lines.join('\n') + '\n', 'index', '--model', 'public/models/tiny-m3', '--input', '-', '--out', pipeOut, '--batch-size', '1', '--quiet');
    expect(p.status).toBe(1);
    expect(p.stderr).toMatch(/-:6: "text" must be a string/);
    expect(p.stderr).toMatch(/4 documents of this run were committed to .*late-pipe before the error \(through line 4 at least\).*--upsert to resume/);
    const fixed = lines.map((l) => l.replace('"text":6', '"text":"six"')).join('\n') + '\n';
    const again = cliStdin(fixed, 'index', '--model', 'public/models/tiny-m3', '--input', '-', '--out', pipeOut, '--upsert', '--quiet');
    expect(again.status, again.stderr).toBe(0);
    const s = cli('search', '--index', pipeOut, '--model', 'public/models/tiny-m3', '--json', '--mode', 'bm25', '--k', '10', words.join(' '));
    expect(
      JSON.parse(s.stdout)
        .map((h: any) => h.id)
        .sort(),
    ).toEqual(['w0', 'w1', 'w2', 'w3', 'w4', 'w5']);
  });

  it('accepts a UTF-8 byte order mark; search on a folder that is not an index refuses and deletes nothing', () => {
    const bom = join(dir, 'bom.jsonl');
    writeFileSync(bom, '\ufeff{"id":"bom","text":"byte order mark"}\n');
    const r = cli('index', '--model', 'public/models/tiny-m3', '--input', bom, '--out', join(dir, 'bom-index'), '--quiet');
    expect(r.status, r.stderr).toBe(0);
    const other = mkdtempSync(join(tmpdir(), 'not-an-index-'));
    writeFileSync(join(other, 'notes.tmp'), 'mine');
    writeFileSync(join(other, 'seg-00000001.m3s'), 'mine too');
    const s = cli('search', '--index', other, '--model', 'public/models/tiny-m3', 'x');
    expect(s.status).toBe(1);
    expect(s.stderr).toMatch(/is not an m3-search index/);
    expect(existsSync(join(other, 'notes.tmp')) && existsSync(join(other, 'seg-00000001.m3s'))).toBe(true);
  });
});
