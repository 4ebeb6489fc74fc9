/**
 * The suite's second rule: a test may depend on nothing outside the repository. Scans every test file (Vitest's
 * `*.test.ts`, everything under e2e/, the two runner configs) and every module they import through relative
 * paths, with the TypeScript parser (string literals and import specifiers, not comments), for:
 *   - relative imports or path literals that resolve outside the repository root;
 *   - absolute paths into a machine's home or work folders (/work, /home, /root, /mnt, /srv, ~/) and a `shared/` folder beside the clone;
 *   - the user's home directory (`homedir()`, `process.env.HOME`);
 *   - bare imports of packages package.json does not declare (they would come from some parent node_modules).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';

const OUTSIDE_PATH = /(^|[^.\w])\.\.\/shared\b|^\/(work|home|root|mnt|srv)(\/|$)|^~\//;
const EXTENSIONS = ['', '.ts', '.tsx', '.js', '.mjs', '/index.ts', '/index.js'];

export interface Violation {
  file: string;
  line: number;
  what: string;
}

/** Test entry points: what `npx vitest run` and `npx playwright test` load. */
export function testEntryFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string, keep: (f: string) => boolean) => {
    if (!existsSync(dir)) return;
    for (const name of readdirSync(dir)) {
      if (name === 'node_modules' || name.startsWith('.')) continue;
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p, keep);
      else if (keep(p)) out.push(p);
    }
  };
  walk(join(root, 'src'), (f) => f.endsWith('.test.ts'));
  walk(join(root, 'scripts'), (f) => f.endsWith('.test.ts'));
  walk(join(root, 'e2e'), (f) => f.endsWith('.ts'));
  for (const f of ['vitest.config.ts', 'playwright.config.ts']) if (existsSync(join(root, f))) out.push(join(root, f));
  return out.sort();
}

/** Problems in one file's source. `file` is absolute; relative paths are resolved against its folder. */
export function violationsIn(root: string, file: string, source: string, declared: ReadonlySet<string>): Violation[] {
  const out: Violation[] = [];
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const rel = relative(root, file);
  const at = (node: ts.Node) => sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1;
  const inside = (p: string) => p === root || p.startsWith(root + sep);
  const checkSpecifier = (node: ts.Node, spec: string) => {
    if (spec.startsWith('.')) {
      if (!inside(resolve(dirname(file), spec))) out.push({ file: rel, line: at(node), what: `import "${spec}" resolves outside the repository` });
      return;
    }
    if (spec.startsWith('/')) {
      out.push({ file: rel, line: at(node), what: `import of the absolute path "${spec}"` });
      return;
    }
    const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
    if (spec.startsWith('node:') || builtinModules.includes(pkg)) return;
    if (!declared.has(pkg)) out.push({ file: rel, line: at(node), what: `import of "${spec}", which package.json does not declare` });
  };
  const checkLiteral = (node: ts.Node, text: string) => {
    if (OUTSIDE_PATH.test(text)) out.push({ file: rel, line: at(node), what: `path outside the repository: "${text}"` });
    else if (/^\.\.?\//.test(text) && !/\s/.test(text) && !inside(resolve(dirname(file), text)))
      out.push({ file: rel, line: at(node), what: `relative path "${text}" leaves the repository` });
  };
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      checkSpecifier(node, node.moduleSpecifier.text);
      return;
    }
    if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] && ts.isStringLiteral(node.arguments[0])) {
      checkSpecifier(node, node.arguments[0].text);
      return;
    }
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node) || ts.isTemplateHead(node) || ts.isTemplateMiddle(node) || ts.isTemplateTail(node))
      checkLiteral(node, node.text);
    if (ts.isIdentifier(node) && node.text === 'homedir' && ts.isCallExpression(node.parent))
      out.push({ file: rel, line: at(node), what: "homedir(): the user's home folder" });
    if (ts.isPropertyAccessExpression(node) && node.name.text === 'HOME' && node.expression.getText(sf) === 'process.env')
      out.push({ file: rel, line: at(node), what: "process.env.HOME: the user's home folder" });
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

/** Relative module imports of a file, resolved to existing files inside the repository. */
function localImports(root: string, file: string, source: string): string[] {
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const specs: string[] = [];
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier))
      specs.push(node.moduleSpecifier.text);
    else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] && ts.isStringLiteral(node.arguments[0]))
      specs.push(node.arguments[0].text);
    ts.forEachChild(node, visit);
  };
  visit(sf);
  const out: string[] = [];
  for (const spec of specs) {
    if (!spec.startsWith('.')) continue;
    const base = resolve(dirname(file), spec);
    if (!(base === root || base.startsWith(root + sep))) continue; // reported by violationsIn
    const hit = EXTENSIONS.map((e) => base + e).find((p) => existsSync(p) && statSync(p).isFile() && /\.(ts|tsx|js|mjs)$/.test(p));
    if (hit) out.push(hit);
  }
  return out;
}

/** Every violation in the test files and the modules they import (transitively, through relative imports). */
export function scanRepository(root: string): { files: string[]; violations: Violation[] } {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const declared = new Set<string>([...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.devDependencies ?? {}), pkg.name]);
  const seen = new Set<string>();
  const queue = testEntryFiles(root);
  const violations: Violation[] = [];
  while (queue.length) {
    const f = queue.pop()!;
    if (seen.has(f)) continue;
    seen.add(f);
    const src = readFileSync(f, 'utf8');
    violations.push(...violationsIn(root, f, src, declared));
    queue.push(...localImports(root, f, src));
  }
  return { files: [...seen].sort(), violations };
}
