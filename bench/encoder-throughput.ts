/**
 * Encoder throughput (tokens/s) on the full-size BGE-M3-shaped test model, with the same inputs everywhere:
 *   (a) Node, onnxruntime-node on the CPU: q8 and fp32
 *   (b) headless Chromium, onnxruntime-web WASM: q8 and fp32 (fp32 is a 1.28 GB graph; a failure is reported)
 *   (c) headless Chromium, WebGPU on SwiftShader (CPU-emulated, so not a speed figure): q8, abandoned after a
 *       time budget
 *
 *   npm run bench:encoder                        # everything, 32 texts × 128 tokens, batchSize 8
 *   npm run bench:encoder -- --texts 16          # fewer texts (faster)
 *   --only node,wasm,webgpu   pick the parts     --threads N   WASM and Node threads (default: the encoder's
 *                                                 own default, one per core up to 8)
 *   --webgpu-budget S         seconds (default 120) before the WebGPU run is abandoned
 *   --dtypes q8,fp32          the Node and WASM runs (default both)
 *   --model DIR               another model folder inside the repository (default models-full/bge-m3-shaped)
 *   --gpu-flags               launch Chromium for a real GPU (Vulkan; see bench/gpu-encoder.sh)
 *   --webgpu-dtypes q8,fp16   the WebGPU runs (default q8; fp16 needs shader-f16 and onnx/model_fp16.onnx)
 *   --out FILE                results file (default bench/encoder-results.json)
 *
 * Every run: load (timed, cold: the browser fetches the files from a local Vite dev server), one warm-up
 * encode of the first batch (not timed), then one timed encode of all texts with dense + sparse + ColBERT.
 * All texts have exactly the same token count, so no batch carries padding: tokens = tokens computed.
 * Writes bench/encoder-results.json (beside the index benchmark's bench/results.json), or --out.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import os from 'node:os';
import { dirname, relative, resolve } from 'node:path';
import { M3Encoder } from '../src/encoder/m3-encoder.ts';
import { softwareAdapter } from '../src/encoder/device.ts';
import { REAL_GPU_ARGS } from './gpu-flags.ts';
import { BASE_ARGS, CHROMIUM } from '../playwright.config.ts';
import { mulberry32 as rng } from '../src/util/random.ts';
import { childrenCpuS } from './cpu-time.ts';

type DType = 'q8' | 'fp32' | 'fp16';
type Runtime = 'node-cpu' | 'wasm' | 'webgpu';

interface Result {
  runtime: Runtime;
  dtype: DType;
  status: 'ok' | 'failed' | 'skipped';
  reason?: string;
  loadS?: number;
  warmupS?: number;
  tokens?: number;
  seconds?: number;
  tokensPerS?: number;
  /**
   * CPU seconds the timed encode consumed (Node: this process; Chromium: its processes), and tokens per CPU
   * second: on a shared machine wall time measures the other workers too, CPU time mostly this run's work
   * (with one thread it compares the kernels themselves; with more it includes threads spinning while idle).
   */
  cpuS?: number;
  tokensPerCpuS?: number;
  /** Threads the runtime used (encoder.info.threads: WASM threads or onnxruntime-node intra-op threads). */
  threads?: number;
  /** Why fewer threads ran than asked for / the machine has. */
  threadsReason?: string;
  /** 1-minute load average right after the run (this bench's own threads included): > CPUs means contention. */
  loadAvg1?: number;
  /** WebGPU: the adapter the page got (vendor / architecture / description) and whether it is software. */
  adapter?: string;
  /** max |dense − dense of Node at the same dtype| over all texts: the runs computed the same thing. */
  denseMaxDiffVsNode?: number;
}

// ---------- options ----------
const argv = process.argv.slice(2);
const opt = (name: string): string | undefined => {
  const i = argv.indexOf(name);
  if (i < 0) return undefined;
  const v = argv[i + 1];
  if (v === undefined || v.startsWith('--')) throw new Error(`${name} needs a value`);
  return v;
};
const known = new Set([
  '--model',
  '--dtypes',
  '--texts',
  '--tokens',
  '--batch',
  '--only',
  '--threads',
  '--webgpu-budget',
  '--gpu-flags',
  '--out',
  '--webgpu-dtypes',
]);
for (const a of argv) if (a.startsWith('--') && !known.has(a)) throw new Error(`unknown option ${a}`);
const GPU_FLAGS = argv.includes('--gpu-flags');
const posInt = (name: string, dflt: number): number => {
  const raw = opt(name);
  const v = raw === undefined ? dflt : Number(raw);
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name} must be a positive integer, got ${raw}`);
  return v;
};
const N_TEXTS = posInt('--texts', 32);
const TOKENS = posInt('--tokens', 128);
const BATCH = posInt('--batch', 8);
const WEBGPU_BUDGET_S = posInt('--webgpu-budget', 120);
const THREADS = opt('--threads') === undefined ? undefined : posInt('--threads', 1);
const ONLY = new Set((opt('--only') ?? 'node,wasm,webgpu').split(','));
for (const p of ONLY) if (!['node', 'wasm', 'webgpu'].includes(p)) throw new Error(`--only: unknown part ${p}`);
if (TOKENS < 8) throw new Error('--tokens must be at least 8');
// The Node and WASM runs (default both); the 1.28 GB fp32 graph takes the longest.
const CPU_DTYPES = (opt('--dtypes') ?? 'q8,fp32').split(',') as DType[];
for (const d of CPU_DTYPES) if (!['q8', 'fp32'].includes(d)) throw new Error(`--dtypes: unknown dtype ${d} (q8, fp32)`);
const WEBGPU_DTYPES = (opt('--webgpu-dtypes') ?? 'q8').split(',') as DType[];
for (const d of WEBGPU_DTYPES) if (!['q8', 'fp16', 'fp32'].includes(d)) throw new Error(`--webgpu-dtypes: unknown dtype ${d}`);

// --model: another folder under the repository (served by the same dev server), e.g. a 2-layer full-width
// cut of the graph whose layers have the full graph's shapes: a per-layer comparison in minutes, not hours.
const MODEL_ARG = opt('--model');
const MODEL_DIR = resolve(MODEL_ARG ?? 'models-full/bge-m3-shaped');
if (!MODEL_DIR.startsWith(resolve('.') + '/')) throw new Error('--model must be a folder inside the repository (the dev server serves it)');
const MODEL_URL_PATH = '/' + relative(resolve('.'), MODEL_DIR).split('\\').join('/');
const OUT = resolve(opt('--out') ?? 'bench/encoder-results.json');
const ENCODE = { dense: true, sparse: true, colbert: true, batchSize: BATCH };

const log = (s: string) => console.log(`[bench] ${s}`);
const secs = (t0: number) => (performance.now() - t0) / 1000;

// ---------- model ----------
function ensureModel(): void {
  const need = ['config.json', 'tokenizer.json', 'sparse_linear.safetensors', 'colbert_linear.safetensors', 'onnx/model.onnx', 'onnx/model_quantized.onnx'];
  const fp16 = ONLY.has('webgpu') && WEBGPU_DTYPES.includes('fp16');
  if (fp16) need.push('onnx/model_fp16.onnx');
  if (need.every((f) => existsSync(`${MODEL_DIR}/${f}`))) return;
  if (MODEL_ARG) throw new Error(`${MODEL_DIR} lacks ${need.filter((f) => !existsSync(`${MODEL_DIR}/${f}`)).join(', ')}`);
  log(`${MODEL_DIR} is incomplete: generating it (npm run make-test-model -- --full)`);
  const r = spawnSync('npm', ['run', 'make-test-model', '--', '--full', '--variants', fp16 ? 'fp32,fp16,q8' : 'fp32,q8'], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`make-test-model --full failed (exit ${r.status})`);
}

/** Whole words the tokenizer has as single pieces (`▁word`), from tokenizer.json. */
function vocabWords(): string[] {
  const tok = JSON.parse(readFileSync(`${MODEL_DIR}/tokenizer.json`, 'utf8'));
  const vocab: [string, number][] = tok?.model?.vocab ?? [];
  const words = vocab
    .map(([p]) => p)
    .filter((p) => /^▁[a-z]{3,}$/.test(p))
    .map((p) => p.slice(1));
  if (words.length < 100) throw new Error(`tokenizer.json has only ${words.length} plain word pieces`);
  return words;
}

/**
 * N texts of exactly `tokens` tokens each (`<s>` and `</s>` included), counted by the encoder's own
 * tokenizer. Words are added while they fit; a word that would overshoot is skipped for another.
 */
function buildTexts(enc: M3Encoder, n: number, tokens: number): string[] {
  const words = vocabWords();
  const rand = rng(20240913);
  const texts: string[] = [];
  for (let t = 0; t < n; t++) {
    const parts: string[] = [];
    let count = enc.tokenize('').ids.length;
    for (let tries = 0; count < tokens; tries++) {
      if (tries > 10_000) throw new Error(`could not build a text of exactly ${tokens} tokens`);
      const w = words[Math.floor(rand() * words.length)];
      const c = enc.tokenize([...parts, w].join(' ')).ids.length;
      if (c <= tokens) {
        parts.push(w);
        count = c;
      }
    }
    texts.push(parts.join(' '));
  }
  return texts;
}

// ---------- Node ----------
async function runNode(dtype: DType, texts: string[], tokens: number): Promise<{ result: Result; dense: number[][] }> {
  let t0 = performance.now();
  const enc = await M3Encoder.load({ model: MODEL_DIR, device: 'cpu', dtype, threads: THREADS });
  const loadS = secs(t0);
  try {
    t0 = performance.now();
    await enc.encode(texts.slice(0, BATCH), ENCODE);
    const warmupS = secs(t0);
    t0 = performance.now();
    const c0 = process.cpuUsage();
    const out = await enc.encode(texts, ENCODE);
    const seconds = secs(t0);
    const c = process.cpuUsage(c0);
    const cpuS = (c.user + c.system) / 1e6;
    return {
      result: {
        runtime: 'node-cpu',
        dtype,
        status: 'ok',
        loadS,
        warmupS,
        tokens,
        seconds,
        tokensPerS: tokens / seconds,
        cpuS,
        tokensPerCpuS: tokens / cpuS,
        ...threadsOf(enc.info.threads),
      },
      dense: out.map((e) => Array.from(e.dense!)),
    };
  } finally {
    await enc.dispose();
  }
}

// ---------- browser ----------
function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createNetServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

/** What the page returns from one run. */
interface PageRun {
  loadS: number;
  warmupS: number;
  seconds: number;
  tokens: number;
  device: string;
  dtype: string;
  threads: { used: number; reason?: string };
  fallbackReason?: string;
  adapter?: string;
  dense: number[][];
}

function webgpuNote(adapter: string | undefined): string {
  if (!adapter) return 'adapter unknown';
  return softwareAdapter({ description: adapter }) ? `SOFTWARE adapter (${adapter}): not a GPU speed figure` : `adapter: ${adapter}`;
}

const threadsOf = (t: { used: number; reason?: string }) => ({ threads: t.used, ...(t.reason ? { threadsReason: t.reason } : {}) });

async function runBrowser(
  origin: string,
  device: 'wasm' | 'webgpu',
  dtype: DType,
  texts: string[],
  budgetS?: number,
): Promise<{ result: Result; dense?: number[][] }> {
  const { chromium } = await import('playwright-core');
  const args = device === 'webgpu' ? [...BASE_ARGS, '--enable-unsafe-webgpu', ...(GPU_FLAGS ? REAL_GPU_ARGS : [])] : BASE_ARGS;
  const browser = await chromium.launch({ executablePath: CHROMIUM, args });
  let crashed: string | undefined;
  try {
    const page = await browser.newPage();
    // tsx compiles the evaluated callback with esbuild's keepNames, which calls a __name helper the page lacks.
    await page.addInitScript('globalThis.__name = (f) => f;');
    const seen: { loadS?: number; warmupS?: number; at?: number; cpuAtTimed?: number } = {};
    page.on('console', (m) => {
      const loaded = /^\[m3bench\] loaded in ([\d.]+) s/.exec(m.text());
      if (loaded) Object.assign(seen, { loadS: +loaded[1], at: performance.now() });
      const warm = /^\[m3bench\] warm-up batch ([\d.]+) s/.exec(m.text());
      if (warm) Object.assign(seen, { warmupS: +warm[1], at: performance.now(), cpuAtTimed: childrenCpuS() });
      if (m.text().startsWith('[m3bench]') || (m.type() === 'error' && !/status of 404/.test(m.text())))
        console.log(`  [chromium ${device} ${dtype}] ${m.text()}`);
    });
    page.on('response', (r) => {
      if (r.status() >= 400 && !r.url().endsWith('/favicon.ico')) console.log(`  [chromium ${device} ${dtype}] HTTP ${r.status()} ${r.url()}`);
    });
    page.on('crash', () => (crashed = 'the tab crashed (renderer process died, typically out of memory)'));
    let running = false; // the harness page's own script may fail on unrelated exports: only errors of the run count
    page.on('pageerror', (e) => running && console.log(`  [chromium ${device} ${dtype}] page error: ${e.message}`));
    // The harness page gives the origin and its COOP/COEP headers; the encoder module is imported directly
    // (the one window.m3 re-exports), so unrelated exports of src/index.ts cannot break the run.
    await page.goto(`${origin}/e2e/pages/encoder.html`);
    if (!(await page.evaluate(() => crossOriginIsolated))) log('warning: page is not cross-origin isolated: WASM runs single-threaded');

    running = true;
    const work = page.evaluate(
      async ({ model, device, dtype, texts, encode, threads, batch }) => {
        const say = (s: string) => console.log(`[m3bench] ${s}`);
        const encoderModule = '/src/encoder/m3-encoder.ts';
        const { M3Encoder } = await import(/* @vite-ignore */ encoderModule);
        let t0 = performance.now();
        const enc = await M3Encoder.load({ model, device, dtype, verify: 'never', ...(threads ? { threads } : {}) });
        const loadS = (performance.now() - t0) / 1000;
        say(`loaded in ${loadS.toFixed(1)} s on ${enc.info.device}/${enc.info.dtype}${enc.info.fallbackReason ? ` (${enc.info.fallbackReason})` : ''}`);
        let tokens = 0;
        for (const t of texts) tokens += enc.tokenize(t).ids.length;
        t0 = performance.now();
        await enc.encode(texts.slice(0, batch), encode);
        const warmupS = (performance.now() - t0) / 1000;
        say(`warm-up batch ${warmupS.toFixed(1)} s`);
        t0 = performance.now();
        const out = await enc.encode(texts, encode);
        const seconds = (performance.now() - t0) / 1000;
        const info = enc.info;
        await enc.dispose();
        let adapter: string | undefined;
        if (device === 'webgpu') {
          const a = await (navigator as any).gpu?.requestAdapter({ powerPreference: 'high-performance' });
          const i = a?.info ?? {};
          adapter = [i.vendor, i.architecture, i.device, i.description, i.isFallbackAdapter ? '(fallback adapter)' : ''].filter(Boolean).join(' ');
        }
        return {
          loadS,
          warmupS,
          seconds,
          tokens,
          device: info.device,
          dtype: info.dtype,
          threads: info.threads,
          fallbackReason: info.fallbackReason,
          adapter,
          dense: out.map((e: any) => Array.from(e.dense as Float32Array)),
        } as PageRun;
      },
      { model: `${origin}${MODEL_URL_PATH}`, device, dtype, texts, encode: ENCODE, threads: THREADS, batch: BATCH },
    );
    work.catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    const timeout = budgetS ? new Promise<'timeout'>((res) => (timer = setTimeout(() => res('timeout'), budgetS * 1000))) : new Promise<never>(() => undefined);
    const r = await Promise.race([work, timeout]).finally(() => clearTimeout(timer));
    const cpuS = seen.cpuAtTimed === undefined ? undefined : childrenCpuS() - seen.cpuAtTimed;
    if (r === 'timeout') {
      const since = seen.at === undefined ? 0 : secs(seen.at);
      const reason =
        seen.loadS === undefined
          ? `not loaded after ${budgetS} s`
          : seen.warmupS === undefined
            ? `loaded in ${seen.loadS.toFixed(1)} s, but the ${BATCH}-text warm-up batch had not finished ${since.toFixed(0)} s later (< ${((BATCH * TOKENS) / since).toFixed(1)} tokens/s)`
            : `loaded in ${seen.loadS.toFixed(1)} s, warm-up batch ${seen.warmupS.toFixed(1)} s, timed run unfinished ${since.toFixed(0)} s later`;
      return {
        result: { runtime: device, dtype, status: 'skipped', loadS: seen.loadS, warmupS: seen.warmupS, reason: `over the ${budgetS} s budget: ${reason}` },
      };
    }
    if (r.device !== device || r.dtype !== dtype) {
      return { result: { runtime: device, dtype, status: 'failed', reason: `ran on ${r.device}/${r.dtype} instead: ${r.fallbackReason ?? '?'}` } };
    }
    return {
      result: {
        runtime: device,
        dtype,
        status: 'ok',
        loadS: r.loadS,
        warmupS: r.warmupS,
        tokens: r.tokens,
        seconds: r.seconds,
        tokensPerS: r.tokens / r.seconds,
        ...(cpuS ? { cpuS, tokensPerCpuS: r.tokens / cpuS } : {}),
        ...threadsOf(r.threads),
        ...(r.adapter ? { adapter: r.adapter } : {}),
      },
      dense: r.dense,
    };
  } catch (e: any) {
    const msg = String(e?.message ?? e).split('\n')[0];
    return { result: { runtime: device, dtype, status: 'failed', reason: crashed ?? msg } };
  } finally {
    await browser.close().catch(() => undefined);
  }
}

function maxDiff(a: number[][], b: number[][]): number {
  let m = 0;
  a.forEach((row, i) => row.forEach((x, j) => (m = Math.max(m, Math.abs(x - b[i][j])))));
  return m;
}

/** The model's shape from its config.json (the default is the full-size 24 × 1024 graph). */
function modelShapeText(): string {
  const c = JSON.parse(readFileSync(`${MODEL_DIR}/config.json`, 'utf8'));
  return `${c.num_hidden_layers} layers, hidden ${c.hidden_size}, ${c.num_attention_heads} heads, intermediate ${c.intermediate_size}, vocab ${c.vocab_size}, random weights`;
}

// ---------- report ----------
function table(results: Result[], nodeRate: Partial<Record<DType, number>>): string {
  const head = [
    'runtime',
    'dtype',
    'threads',
    'load s',
    'warm-up s',
    'tokens',
    'seconds',
    'tokens/s',
    'vs Node',
    'CPU s',
    'tok/CPU-s',
    'vs Node (CPU)',
    'max|Δdense|',
    'loadavg',
    'note',
  ];
  const rows = results.map((r) => {
    const ok = r.status === 'ok';
    const ratio = ok && r.runtime !== 'node-cpu' && nodeRate[r.dtype] ? `${(r.tokensPerS! / nodeRate[r.dtype]!).toFixed(2)}×` : '';
    const node = results.find((n) => n.runtime === 'node-cpu' && n.dtype === r.dtype && n.status === 'ok');
    const cpuRatio = ok && r.runtime !== 'node-cpu' && r.tokensPerCpuS && node?.tokensPerCpuS ? `${(r.tokensPerCpuS / node.tokensPerCpuS).toFixed(2)}×` : '';
    return [
      r.runtime,
      r.dtype,
      r.threads === undefined ? '' : String(r.threads),
      r.loadS === undefined ? '' : r.loadS.toFixed(1),
      r.warmupS === undefined ? '' : r.warmupS.toFixed(1),
      ok ? String(r.tokens) : '',
      ok ? r.seconds!.toFixed(1) : '',
      ok ? r.tokensPerS!.toFixed(1) : '',
      ratio,
      r.cpuS === undefined ? '' : r.cpuS.toFixed(1),
      r.tokensPerCpuS === undefined ? '' : r.tokensPerCpuS.toFixed(1),
      cpuRatio,
      r.denseMaxDiffVsNode === undefined ? '' : r.denseMaxDiffVsNode.toExponential(1),
      r.loadAvg1 === undefined ? '' : r.loadAvg1.toFixed(1),
      r.status === 'ok' ? (r.runtime === 'webgpu' ? webgpuNote(r.adapter) : '') : `${r.status.toUpperCase()}: ${r.reason}`,
    ];
  });
  const last = head.length - 1;
  const widths = head.map((h, i) => (i === last ? 4 : Math.max(h.length, ...rows.map((r) => r[i].length))));
  const fmt = (cells: string[]) => cells.map((c, i) => (i === last ? c : i <= 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [fmt(head), fmt(head.map((_, i) => '-'.repeat(widths[i]))), ...rows.map(fmt)].join('\n');
}

async function main(): Promise<void> {
  const started = performance.now();
  ensureModel();
  const machine = {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? '?',
    memGiB: +(os.totalmem() / 2 ** 30).toFixed(1),
    gpu: GPU_FLAGS ? "asked for a real GPU (--gpu-flags): see each WebGPU row's adapter" : 'none assumed (WebGPU runs on SwiftShader, a CPU emulation)',
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    loadAvg1AtStart: +os.loadavg()[0].toFixed(2),
    loadAvg1AtEnd: undefined as number | undefined,
  };
  log(`machine: ${machine.cpus} × ${machine.cpuModel}, ${machine.memGiB} GiB, no GPU; Node ${machine.node}; load average ${machine.loadAvg1AtStart}`);
  if (machine.loadAvg1AtStart > machine.cpus / 2)
    log(`warning: other processes are busy (load average ${machine.loadAvg1AtStart}): timings will be low and noisy`);

  // The Node q8 encoder also builds and counts the inputs.
  const t0 = performance.now();
  const counter = await M3Encoder.load({ model: MODEL_DIR, device: 'cpu', dtype: 'q8' });
  const texts = buildTexts(counter, N_TEXTS, TOKENS);
  const perText = texts.map((t) => counter.tokenize(t).ids.length);
  await counter.dispose();
  const tokens = perText.reduce((a, b) => a + b, 0);
  if (perText.some((c) => c !== TOKENS)) throw new Error(`texts are not all ${TOKENS} tokens: ${perText.join(',')}`);
  log(`inputs: ${N_TEXTS} texts × ${TOKENS} tokens = ${tokens} tokens (built in ${secs(t0).toFixed(1)} s), batchSize ${BATCH}, dense+sparse+colbert`);

  const results: Result[] = [];
  const nodeDense: Partial<Record<DType, number[][]>> = {};
  // fp16 has no Node run: WebGPU fp16 is compared with Node fp32.
  const nodeRate: Partial<Record<DType, number>> = {};
  const add = (r: Result) => {
    r.loadAvg1 = +os.loadavg()[0].toFixed(2);
    results.push(r);
    const what =
      r.status === 'ok' ? `${r.tokensPerS!.toFixed(1)} tokens/s (load ${r.loadS!.toFixed(1)} s, ${r.seconds!.toFixed(1)} s timed)` : `${r.status}: ${r.reason}`;
    log(`${r.runtime} ${r.dtype}: ${what}  [${secs(started).toFixed(0)} s elapsed]`);
  };

  if (ONLY.has('node')) {
    for (const dtype of CPU_DTYPES) {
      log(`node-cpu ${dtype} …`);
      try {
        const { result, dense } = await runNode(dtype, texts, tokens);
        nodeDense[dtype] = dense;
        nodeRate[dtype] = result.tokensPerS;
        add(result);
      } catch (e: any) {
        add({ runtime: 'node-cpu', dtype, status: 'failed', reason: String(e?.message ?? e) });
      }
    }
  }

  let chromiumVersion: string | undefined;
  if (ONLY.has('wasm') || ONLY.has('webgpu')) {
    const { createServer } = await import('vite');
    const port = await freePort();
    // Vite serves the repository root, so /models-full/… is the git-ignored model folder itself: no copy, no link.
    const server = await createServer({
      configFile: resolve('vite.config.ts'),
      logLevel: 'warn',
      // No watcher, no HMR: an edit elsewhere in the tree must not reload the page mid-run.
      server: { port, strictPort: true, host: '127.0.0.1', watch: null, hmr: false },
    });
    await server.listen();
    const origin = `http://127.0.0.1:${port}`;
    log(`Vite dev server at ${origin}`);
    try {
      const { chromium } = await import('playwright-core');
      const b = await chromium.launch({ executablePath: CHROMIUM, args: BASE_ARGS });
      chromiumVersion = b.version();
      await b.close();
      const runs: ['wasm' | 'webgpu', DType][] = [];
      if (ONLY.has('wasm')) for (const d of CPU_DTYPES) runs.push(['wasm', d]);
      if (ONLY.has('webgpu')) for (const d of WEBGPU_DTYPES) runs.push(['webgpu', d]);
      for (const [device, dtype] of runs) {
        log(`chromium ${device} ${dtype} …`);
        const { result, dense } = await runBrowser(origin, device, dtype, texts, device === 'webgpu' ? WEBGPU_BUDGET_S : undefined);
        const ref = nodeDense[dtype === 'fp16' ? 'fp32' : dtype];
        if (dense && ref) result.denseMaxDiffVsNode = maxDiff(dense, ref);
        add(result);
      }
    } finally {
      await server.close();
    }
  }

  const report = {
    date: new Date().toISOString(),
    machine: { ...machine, chromium: chromiumVersion },
    model: { dir: relative(resolve('.'), MODEL_DIR), shape: modelShapeText() },
    inputs: {
      texts: N_TEXTS,
      tokensPerText: TOKENS,
      totalTokens: tokens,
      batchSize: BATCH,
      outputs: 'dense+sparse+colbert',
      warmup: `first batch (${Math.min(BATCH, N_TEXTS)} texts), not timed`,
    },
    options: {
      threads: THREADS ?? 'encoder default (one per core, at most 8)',
      webgpuBudgetS: WEBGPU_BUDGET_S,
      webgpuDtypes: WEBGPU_DTYPES,
      gpuFlags: GPU_FLAGS,
    },
    results,
    wasmOverNode: Object.fromEntries(
      results.filter((r) => r.runtime === 'wasm' && r.status === 'ok' && nodeRate[r.dtype]).map((r) => [r.dtype, r.tokensPerS! / nodeRate[r.dtype]!]),
    ),
    /** The same per CPU second (see Result.cpuS): what the kernels do with the CPU they get. */
    wasmOverNodePerCpuS: Object.fromEntries(
      results.flatMap((r) => {
        const node = results.find((n) => n.runtime === 'node-cpu' && n.dtype === r.dtype && n.tokensPerCpuS);
        return r.runtime === 'wasm' && r.tokensPerCpuS && node ? [[r.dtype, r.tokensPerCpuS / node.tokensPerCpuS!]] : [];
      }),
    ),
    totalS: secs(started),
  };
  report.machine.loadAvg1AtEnd = +os.loadavg()[0].toFixed(2);
  mkdirSync(dirname(OUT), { recursive: true });
  writeFileSync(OUT, JSON.stringify(report, null, 2) + '\n');

  console.log(
    `\nEncoder throughput, ${relative(resolve('.'), MODEL_DIR)} (${modelShapeText()}), ${N_TEXTS} texts × ${TOKENS} tokens, batchSize ${BATCH}, dense+sparse+colbert`,
  );
  console.log(
    `machine: ${machine.cpus} CPUs (${machine.cpuModel}), ${machine.memGiB} GiB RAM, no GPU; Node ${machine.node}; Chromium ${chromiumVersion ?? '-'}\n`,
  );
  console.log(table(results, nodeRate));
  console.log(`\n"vs Node" = tokens/s ÷ Node's tokens/s at the same dtype. load s = cold load (browser: fetched from a local Vite server).`);
  console.log(`threads: encoder.info.threads.used (WASM threads; Node: onnxruntime-node intra-op threads).`);
  console.log(
    `loadavg = 1-minute load average after the run (this bench included); above ${machine.cpus} other work shared the CPUs. Load average at start: ${machine.loadAvg1AtStart}.`,
  );
  console.log(`wrote ${OUT} (total ${secs(started).toFixed(0)} s)`);
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
