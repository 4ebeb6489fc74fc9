// The full-size Node rehearsal (part of `npm run test:real-shape`): the real-shape stand-in served by the local
// hub, then `m3-search encode` and `m3-search index` on q8 and on fp32 (external data), each a child process
// under /usr/bin/time -v for wall time and peak memory. Fails on any wrong output; writes the figures to the
// "node" section of bench/real-model-results.json.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startLocalHub } from '../test/testmodel/local-hub.ts';

const ROOT = resolve(process.env.M3_REAL_SHAPE_DIR ?? 'models-full/real-shape');
const MODEL = join(ROOT, 'bge-m3');
const HEADS = join(ROOT, 'bge-m3-heads');
const RESULTS = 'bench/real-model-results.json';
const PORT = Number(process.env.E2E_PORT ?? 4173) + 2;
const DOCS = Number(process.env.M3_REAL_SHAPE_DOCS ?? 24);
if (!existsSync(join(ROOT, 'MANIFEST.json'))) throw new Error(`${ROOT} is missing: npm run make-test-model -- --real-shape`);

const work = mkdtempSync(join(tmpdir(), 'm3-real-shape-'));
// Short Cranfield titles: real text through the 250,002-piece tokenizer, few tokens (24 layers × 1024 on a shared CPU).
const titles = readFileSync('data/cranfield/cran.all.1400', 'utf8')
  .split(/^\.I /m)
  .slice(1, DOCS + 1)
  .map((rec, i) => ({ id: `cran-${i + 1}`, text: (/\.T\n([\s\S]*?)\n\.A/.exec(rec)?.[1] ?? '').replace(/\s+/g, ' ').trim() }));
writeFileSync(join(work, 'docs.jsonl'), titles.map((d) => JSON.stringify(d)).join('\n') + '\n');
const texts =
  titles
    .slice(0, 4)
    .map((d) => d.text)
    .join('\n') + '\n';

interface Run {
  name: string;
  command: string;
  wall_s: number;
  peak_rss_MB: number;
  exit: number;
}

/** Runs the CLI as a child (asynchronously: the hub answers from this process meanwhile). */
async function timed(name: string, args: string[], input?: string): Promise<{ run: Run; stdout: string }> {
  const child = spawn('/usr/bin/time', ['-v', process.execPath, 'bin/m3-search.js', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  child.stdin.end(input ?? '');
  const status = await new Promise<number | null>((ok) => child.on('close', ok));
  const r = { status, stdout, stderr };
  const wall = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)/.exec(r.stderr);
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr);
  const run: Run = {
    name,
    command: `m3-search ${args.join(' ')}`,
    wall_s: wall ? Number(wall[1] ?? 0) * 3600 + Number(wall[2]) * 60 + Number(wall[3]) : NaN,
    peak_rss_MB: rss ? Math.round(Number(rss[1]) / 1024) : NaN,
    exit: r.status ?? -1,
  };
  console.log(`${name}: exit ${run.exit}, ${run.wall_s} s, peak ${run.peak_rss_MB} MB`);
  if (run.exit !== 0) throw new Error(`${run.command} failed:\n${r.stderr.slice(-3000)}`);
  return { run, stdout: r.stdout };
}

function checkEncoded(stdout: string, label: string): void {
  const lines = stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  if (lines.length !== 4) throw new Error(`${label}: ${lines.length} outputs for 4 texts`);
  for (const o of lines) {
    if (o.dense?.length !== 1024) throw new Error(`${label}: dense has ${o.dense?.length} dims, want 1024`);
    const norm = Math.hypot(...o.dense);
    if (Math.abs(norm - 1) > 1e-3) throw new Error(`${label}: dense norm ${norm}`);
    if (!o.sparse || Object.keys(o.sparse).some((id) => Number(id) >= 250_002)) throw new Error(`${label}: sparse ids out of the vocabulary`);
  }
}

function checkIndex(dir: string, label: string): void {
  const out = execFileSync(process.execPath, ['bin/m3-search.js', 'search', '--index', dir, '--model', MODEL, '--heads', HEADS, '--json', 'boundary layer'], {
    encoding: 'utf8',
  });
  if (!out.includes('cran-')) throw new Error(`${label}: search found nothing: ${out.slice(0, 300)}`);
}

const hub = await startLocalHub({ port: PORT, repos: { 'Xenova/bge-m3': MODEL }, mounts: { '/heads/bge-m3/': HEADS } });
const runs: Run[] = [];
try {
  const cache = join(work, 'hf-cache');
  const viaHub = ['--model', 'Xenova/bge-m3', '--hub', hub.url, '--cache-dir', cache, '--heads', `${hub.url}heads/bge-m3`, '--dtype', 'q8'];
  let r = await timed('encode q8, downloaded from the local hub', ['encode', ...viaHub], texts);
  checkEncoded(r.stdout, 'q8 hub');
  runs.push(r.run);
  const sentFirst = hub.log.reduce((s, x) => s + x.sent, 0);
  r = await timed('encode q8, again: from the download cache', ['encode', ...viaHub], texts);
  checkEncoded(r.stdout, 'q8 cached');
  runs.push(r.run);
  const q8Gets = hub.log.filter((x) => x.path.endsWith('model_quantized.onnx') && x.sent > 1).length;
  if (q8Gets !== 1) throw new Error(`the q8 graph was downloaded ${q8Gets} times, want once`);

  for (const dtype of ['q8', 'fp32']) {
    const folder = ['--model', MODEL, '--heads', HEADS, '--dtype', dtype];
    r = await timed(`encode ${dtype} (folder${dtype === 'fp32' ? ', external data' : ''})`, ['encode', ...folder], texts);
    checkEncoded(r.stdout, dtype);
    runs.push(r.run);
    const out = join(work, `index-${dtype}`);
    r = await timed(`index ${DOCS} docs ${dtype}`, ['index', ...folder, '--input', join(work, 'docs.jsonl'), '--out', out], undefined);
    runs.push(r.run);
    checkIndex(out, dtype);
  }
  const old = existsSync(RESULTS) ? JSON.parse(readFileSync(RESULTS, 'utf8')) : {};
  const node = { docs: DOCS, hub_bytes_sent_first_download: sentFirst, runs, load_average: execFileSync('uptime').toString().trim() };
  writeFileSync(RESULTS, JSON.stringify({ ...old, node }, null, 2) + '\n');
  console.log(`wrote ${RESULTS}`);
} finally {
  await hub.close();
  rmSync(work, { recursive: true, force: true });
}
