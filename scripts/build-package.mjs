// `npm run build` (and prepack): the package in dist/ — tsc's ESM and .d.ts from the entry points, then three
// fixes tsc leaves to us, each checked so a source change that defeats one fails the build instead of shipping:
// - .d.ts files keep the sources' `./x.ts` specifiers (side-effect imports too); consumers resolve `./x.js`.
// - `nodeImport(name)` (a Node built-in, never resolved by browser bundlers) gets wrapped in tsc's
//   extension-rewriting helper, which hides the webpackIgnore / @vite-ignore comments: unwrap it.
// - the worker URLs `new URL('./m3.worker.ts', import.meta.url)` (and the segment builder's) are strings, not
//   imports: point them at the .js.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const DIST = 'dist';
rmSync(DIST, { recursive: true, force: true });
execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });

const files = (dir) => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)]));
const edit = (file, fn) => writeFileSync(file, fn(readFileSync(file, 'utf8')));
const expectOne = (text, re, what) => {
  const n = (text.match(re) ?? []).length;
  if (n !== 1) throw new Error(`build-package: expected one ${what}, found ${n}`);
};

const RELATIVE_TS = /((?:from |import\(|import )\s*['"])(\.{1,2}\/[^'"]+)\.ts(['"])/g;
for (const f of files(DIST)) {
  if (f.endsWith('.d.ts')) edit(f, (s) => s.replace(RELATIVE_TS, '$1$2.js$3'));
}

edit(join(DIST, 'encoder/model-source.js'), (s) => {
  expectOne(s, /import\(__rewriteRelativeImportExtension\(/g, 'wrapped nodeImport in model-source.js');
  return s
    .replace(/^var __rewriteRelativeImportExtension = [\s\S]*?\n};\n/m, '')
    .replace(/import\(__rewriteRelativeImportExtension\(([^)]*)\)\)/, 'import($1)');
});

for (const [file, name] of [
  ['worker/client.js', 'm3.worker'],
  ['worker/segment-build-client.js', 'segment-build.worker'],
]) {
  edit(join(DIST, file), (s) => {
    const url = `new URL('./${name}.ts', import.meta.url)`;
    expectOne(s, new RegExp(url.replace(/[.()/]/g, '\\$&'), 'g'), `worker URL in ${file}`);
    return s.replace(url, `new URL('./${name}.js', import.meta.url)`);
  });
}

const left = files(DIST).filter((f) => /__rewriteRelativeImportExtension|(['"])\.{1,2}\/[^'"]+\.ts\1/.test(readFileSync(f, 'utf8')));
if (left.length) throw new Error(`build-package: .ts specifiers left in ${left.join(', ')}`);
console.log(`build-package: ${files(DIST).length} files in ${DIST}/`);
