// The manual set-up for bundlers without the Vite plugin (README, "Other bundlers"): webpack bundles the app and
// the package's worker by itself; ONNX Runtime's two files are copied to /ort/ (the encoder's default
// wasmPaths); the server sends COOP/COEP for WASM threads.
import { copyFileSync, cpSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import webpack from 'webpack';

const out = resolve('dist');
const stats = await new Promise((ok, fail) =>
  webpack({ mode: 'production', entry: './src/main.js', output: { path: out, filename: 'main.js' }, performance: { hints: false } }, (err, s) =>
    err ? fail(err) : ok(s),
  ),
);
if (stats.hasErrors()) throw new Error(stats.toString({ all: false, errors: true }));

// The onnxruntime-web that m3-search's Transformers.js uses (the wasm must match its JavaScript); with npm's
// flat node_modules that is node_modules/onnxruntime-web/dist.
const fromM3 = createRequire(createRequire(import.meta.url).resolve('m3-search/package.json'));
const ortDist = dirname(createRequire(fromM3.resolve('@huggingface/transformers')).resolve('onnxruntime-web'));
mkdirSync(resolve(out, 'ort'), { recursive: true });
for (const f of ['ort-wasm-simd-threaded.asyncify.wasm', 'ort-wasm-simd-threaded.asyncify.mjs']) copyFileSync(resolve(ortDist, f), resolve(out, 'ort', f));
copyFileSync('index.html', resolve(out, 'index.html'));
cpSync('models', resolve(out, 'models'), { recursive: true });
console.log('webpack consumer built');
