/**
 * Consumer tests (issue 9): the packed tarball, installed the way users install it, in fresh folders outside
 * the repository, one per kind of user:
 *   (a) vite     a Vite app with `plugins: [m3search()]`: build + preview, and the dev server, in Chromium
 *   (b) webpack  a webpack 5 app using createM3Worker(), set up by hand (README "Other bundlers"), in Chromium
 *   (c) node     plain Node ESM: m3-search/node indexes a folder into a FileStore, reopens it, searches
 *   (d) cli      `npx m3-search index` then `search`, compiled JavaScript only (no tsx installed)
 *   (e) types    a TypeScript consumer type-checks under moduleResolution bundler and node16
 * The browser pages index documents into IndexedDB and search; after a reload they reopen and search again.
 *
 *   npx tsx consumers/run.ts            packs the repository (prepack builds it), or M3_TGZ=path reuses a tarball
 *   M3_KEEP=1 keeps the temporary folders; E2E_PORT+1..+3 are the servers' ports.
 * Installs share the user's npm cache (--prefer-offline), so a second run downloads nothing.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, createReadStream, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, resolve } from 'node:path';
import { deepStrictEqual, equal, ok } from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { BASE_ARGS, CHROMIUM, PORT } from '../playwright.config.ts';

const REPO = resolve(import.meta.dirname, '..');
const HERE = join(REPO, 'consumers');
const MODEL = join(REPO, 'public/models/tiny-m3');
const ENV = { ...process.env, ONNXRUNTIME_NODE_INSTALL_CUDA: 'skip', npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' };
const QUERY = 'shock wave at the nose';
const DOCS: Record<string, string> = {
  shock: 'shock wave formed near the nose of the body at high speed',
  heat: 'heat transfer through the boundary layer of a flat plate',
  wing: 'swept wing flutter speed measured in the tunnel',
  jet: 'jet noise from the exhaust of an engine',
};

const root = mkdtempSync(join(tmpdir(), 'm3-consumers-'));
const children: ChildProcess[] = [];
const servers: Server[] = [];

function run(cmd: string, args: string[], cwd: string, input?: string): string {
  const r = spawnSync(cmd, args, { cwd, env: ENV, encoding: 'utf8', input, maxBuffer: 64 << 20 });
  if (r.status !== 0)
    throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) exited ${r.status}:\n${(r.stdout ?? '').slice(-3000)}\n${(r.stderr ?? '').slice(-3000)}`);
  return r.stdout;
}

function runAsync(cmd: string, args: string[], cwd: string): Promise<void> {
  return new Promise((done, fail) => {
    const p = spawn(cmd, args, { cwd, env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    p.stdout.on('data', (d) => (log += d));
    p.stderr.on('data', (d) => (log += d));
    p.on('close', (code) => (code === 0 ? done() : fail(new Error(`${cmd} ${args.join(' ')} (in ${cwd}) exited ${code}:\n${log.slice(-4000)}`))));
  });
}

function pack(): string {
  const out = join(root, 'pack');
  mkdirSync(out);
  run('npm', ['pack', '--silent', '--pack-destination', out], REPO);
  return join(out, readdirSync(out).find((f) => f.endsWith('.tgz'))!);
}

/** A fresh folder with the fixture's files and a package.json depending on the tarball (plus `deps`). */
function makeApp(name: string, fixture: string | null, deps: Record<string, string>, tgz: string): string {
  const dir = join(root, name);
  mkdirSync(dir);
  if (fixture) cpSync(join(HERE, fixture), dir, { recursive: true });
  const pkg = { name: `m3-consumer-${name}`, private: true, type: 'module', dependencies: { 'm3-search': `file:${tgz}`, ...deps } };
  writeFileSync(join(dir, 'package.json'), JSON.stringify(pkg, null, 2));
  return dir;
}

const install = (dir: string) => runAsync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], dir);

function waitFor(url: string, ms = 120_000): Promise<void> {
  const end = Date.now() + ms;
  return new Promise((done, fail) => {
    const poll = () =>
      fetch(url)
        .then((r) => (r.ok ? done() : retry()))
        .catch(retry);
    const retry = () => (Date.now() > end ? fail(new Error(`${url} did not come up`)) : setTimeout(poll, 300));
    poll();
  });
}

function serve(cmd: string, args: string[], cwd: string): void {
  const p = spawn(cmd, args, { cwd, env: ENV, stdio: 'ignore', detached: true });
  children.push(p);
}

const TYPES: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
};

/** A static server for the webpack build, sending the COOP/COEP headers the README asks for. */
function staticServer(dir: string, port: number): Promise<void> {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url!, 'http://x').pathname);
    let file = join(dir, path);
    if (!file.startsWith(dir)) return void res.writeHead(403).end();
    if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
    if (!existsSync(file)) return void res.writeHead(404).end();
    res.writeHead(200, {
      'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Embedder-Policy': 'require-corp',
    });
    createReadStream(file).pipe(res);
  });
  servers.push(server);
  return new Promise((done) => server.listen(port, '127.0.0.1', done));
}

interface PageResult {
  device: string;
  isolated: boolean;
  count: number;
  hits: { id: string; score: number }[];
}

/** Index + search in Chromium, reload, search again: the index survived in IndexedDB and answers the same. */
async function browserCheck(url: string): Promise<string> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: BASE_ARGS });
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(url);
    await page.waitForFunction(() => document.title === 'ready');
    const first: PageResult = await page.evaluate(() => (window as any).m3check('first'));
    await page.reload();
    await page.waitForFunction(() => document.title === 'ready');
    const again: PageResult = await page.evaluate(() => (window as any).m3check('again'));
    deepStrictEqual(errors, []);
    equal(first.device, 'wasm');
    equal(first.isolated, true, 'the page is cross-origin isolated (COOP/COEP)');
    equal(first.count, 4);
    ok(first.hits.length > 0 && first.hits.some((h) => h.id === 'shock'), `"shock" among the hits: ${JSON.stringify(first.hits)}`);
    equal(again.count, 4, 'the index survived the reload');
    deepStrictEqual(again.hits, first.hits, 'the reopened index answers the same');
    return `hits ${first.hits.map((h) => h.id).join(',')}; after reload the same`;
  } finally {
    await browser.close();
  }
}

function writeDocsFolder(dir: string): void {
  mkdirSync(dir, { recursive: true });
  for (const [id, text] of Object.entries(DOCS)) writeFileSync(join(dir, `${id}.txt`), text);
}

const consumers: Record<string, (dir: string) => Promise<string>> = {
  async vite(dir) {
    cpSync(join(HERE, 'shared-page.js'), join(dir, 'shared-page.js'));
    cpSync(MODEL, join(dir, 'public/models/tiny-m3'), { recursive: true });
    run('npx', ['vite', 'build', '--logLevel', 'warn'], dir);
    for (const f of ['ort-wasm-simd-threaded.asyncify.wasm', 'ort-wasm-simd-threaded.asyncify.mjs'])
      ok(existsSync(join(dir, 'dist/ort', f)), `build emitted ort/${f}`);
    const preview = PORT + 1;
    serve('npx', ['vite', 'preview', '--port', String(preview), '--strictPort', '--host', '127.0.0.1'], dir);
    await waitFor(`http://127.0.0.1:${preview}/`);
    const built = await browserCheck(`http://127.0.0.1:${preview}/`);
    // The dev server: the plugin serves ORT's files and the headers there too.
    const devPort = PORT + 3;
    serve('npx', ['vite', '--port', String(devPort), '--strictPort', '--host', '127.0.0.1'], dir);
    await waitFor(`http://127.0.0.1:${devPort}/`);
    const wasm = await fetch(`http://127.0.0.1:${devPort}/ort/ort-wasm-simd-threaded.asyncify.wasm`);
    equal(wasm.headers.get('content-type'), 'application/wasm');
    equal(Number(wasm.headers.get('content-length')), statSync(join(dir, 'dist/ort/ort-wasm-simd-threaded.asyncify.wasm')).size);
    equal((await fetch(`http://127.0.0.1:${devPort}/`)).headers.get('cross-origin-embedder-policy'), 'require-corp');
    const dev = await browserCheck(`http://127.0.0.1:${devPort}/`);
    const kb = Number(run('du', ['-sk', 'node_modules'], dir).split('\t')[0]);
    return `build+preview: ${built}; dev server: ${dev}; install size ${(kb / 1024).toFixed(0)} MB (du -sk node_modules)`;
  },

  async webpack(dir) {
    cpSync(join(HERE, 'shared-page.js'), join(dir, 'src/shared-page.js'));
    cpSync(MODEL, join(dir, 'models/tiny-m3'), { recursive: true });
    run('node', ['build.mjs'], dir);
    const port = PORT + 2;
    await staticServer(join(dir, 'dist'), port);
    return browserCheck(`http://127.0.0.1:${port}/`);
  },

  async node(dir) {
    writeDocsFolder(join(dir, 'docs'));
    const out = JSON.parse(run('node', ['index-folder.mjs', MODEL, 'docs', 'index', QUERY], dir).trim().split('\n').pop()!);
    equal(out.device, 'cpu');
    equal(out.count, 4);
    equal(out.before[0]?.id, 'shock', `top hit: ${JSON.stringify(out.before)}`);
    deepStrictEqual(out.after, out.before, 'the reopened FileStore answers the same');
    return `indexed 4 files, reopened: top hit ${out.after[0].id}, same hits`;
  },

  async cli(dir) {
    ok(!existsSync(join(dir, 'node_modules/tsx')), 'tsx is not installed with the package');
    ok(/index\s+index JSON-lines/.test(run('npx', ['m3-search', '--help'], dir)), '--help lists the commands');
    const jsonl =
      Object.entries(DOCS)
        .map(([id, text]) => JSON.stringify({ id, text }))
        .join('\n') + '\n';
    writeFileSync(join(dir, 'docs.jsonl'), jsonl);
    run('npx', ['m3-search', 'index', '--model', MODEL, '--input', 'docs.jsonl', '--out', 'cli-index'], dir);
    const hits = JSON.parse(run('npx', ['m3-search', 'search', '--index', 'cli-index', '--model', MODEL, '--json', QUERY], dir));
    equal(hits[0]?.id, 'shock', `top hit: ${JSON.stringify(hits.map((h: { id: string }) => h.id))}`);
    equal(hits.length, 4);
    return `npx m3-search index + search: top hit ${hits[0].id}`;
  },

  async types(dir) {
    for (const mr of ['bundler', 'node16']) run('npx', ['tsc', '-p', `tsconfig.${mr}.json`], dir);
    return 'tsc clean under moduleResolution bundler and node16';
  },
};

async function main(): Promise<number> {
  const only = process.argv.slice(2);
  const tgz = process.env.M3_TGZ ? resolve(process.env.M3_TGZ) : pack();
  const files = run('tar', ['tzf', tgz], root).trim().split('\n');
  console.log(`tarball ${tgz}: ${files.length} files, ${(statSync(tgz).size / 1024).toFixed(1)} KB`);
  const viteVersion = JSON.parse(readFileSync(join(REPO, 'node_modules/vite/package.json'), 'utf8')).version;
  const tsVersion = JSON.parse(readFileSync(join(REPO, 'node_modules/typescript/package.json'), 'utf8')).version;
  const apps: Record<string, () => string> = {
    vite: () => makeApp('vite', 'vite-app', { vite: `^${viteVersion}` }, tgz),
    webpack: () => makeApp('webpack', 'webpack-app', { webpack: '^5' }, tgz),
    node: () => makeApp('node', 'node-app', {}, tgz),
    cli: () => makeApp('cli', null, {}, tgz),
    types: () => makeApp('types', 'ts-app', { typescript: tsVersion, vite: `^${viteVersion}` }, tgz),
  };
  const names = only.length ? only : Object.keys(apps);
  const dirs = Object.fromEntries(names.map((n) => [n, apps[n]()]));
  const t0 = Date.now();
  const installed = await Promise.allSettled(names.map((n) => install(dirs[n])));
  console.log(`installed ${names.length} consumers in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  let failed = 0;
  for (const [i, name] of names.entries()) {
    const t = Date.now();
    try {
      const inst = installed[i];
      if (inst.status === 'rejected') throw inst.reason;
      const note = await consumers[name](dirs[name]);
      console.log(`PASS ${name} (${((Date.now() - t) / 1000).toFixed(0)} s): ${note}`);
    } catch (e) {
      failed++;
      console.log(`FAIL ${name}: ${e instanceof Error ? e.message : e}`);
    }
  }
  return failed ? 1 : 0;
}

let code = 1;
try {
  code = await main();
} finally {
  for (const p of children) {
    try {
      process.kill(-p.pid!); // the server's process group (npx and vite under it)
    } catch {}
  }
  for (const s of servers) s.close();
  if (!process.env.M3_KEEP) rmSync(root, { recursive: true, force: true });
  else console.log(`kept ${root}`);
}
process.exit(code);
