/** The suite's own rules: a skipped test fails CI, and tests depend on nothing outside the repository. */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isCI } from './ci.ts';
import { scanRepository, violationsIn } from './repo-bound.ts';

const ROOT = resolve(import.meta.dirname, '../..');
/** Built at run time, so this file's own literals do not name the folder the rule forbids. */
const SHARED = ['..', 'shared'].join('/');

/** Runs a command from the repository root with CI set or unset. */
function run(cmd: string[], ci: boolean): { status: number | null; out: string } {
  const env: NodeJS.ProcessEnv = { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1' };
  delete env.CI;
  delete env.VITEST; // the nested runner is a run of its own
  delete env.VITEST_WORKER_ID;
  delete env.VITEST_POOL_ID;
  if (ci) env.CI = 'true';
  const r = spawnSync(cmd[0], cmd.slice(1), { cwd: ROOT, env, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, out: `${r.stdout}\n${r.stderr}` };
}

describe('no test skips in CI', () => {
  it('reads CI=true as CI, and unset, empty, "false" and "0" as not', () => {
    expect(isCI({ CI: 'true' })).toBe(true);
    expect(isCI({ CI: '1' })).toBe(true);
    for (const v of [undefined, '', 'false', '0']) expect(isCI({ CI: v })).toBe(false);
  });

  it('Vitest: a skipped test fails the run when CI is set, and only then', () => {
    const cmd = ['npx', 'vitest', 'run', '--config', 'scripts/test-rules/fixtures/vitest.fixture.config.ts'];
    const ci = run(cmd, true);
    expect(ci.status, ci.out).toBe(1);
    expect(ci.out).toMatch(/\[no-skip-in-ci\] 1 test\(s\) skipped in CI/);
    expect(ci.out).toContain('skips.fixture.ts > is skipped');
    const local = run(cmd, false);
    expect(local.status, local.out).toBe(0);
    expect(local.out).not.toContain('[no-skip-in-ci]');
  }, 120_000);

  it('Playwright: a skipped test fails the run when CI is set, and only then', () => {
    const cmd = ['npx', 'playwright', 'test', '-c', 'scripts/test-rules/fixtures/playwright.fixture.config.ts'];
    const ci = run(cmd, true);
    expect(ci.status, ci.out).toBe(1);
    expect(ci.out).toMatch(/\[no-skip-in-ci\] 1 test\(s\) skipped in CI/);
    expect(ci.out).toContain('skips.pw-fixture.ts > is skipped');
    const local = run(cmd, false);
    expect(local.status, local.out).toBe(0);
    expect(local.out).not.toContain('[no-skip-in-ci]');
  }, 120_000);

  it('both runners are configured with the rule', () => {
    expect(readFileSync(join(ROOT, 'vitest.config.ts'), 'utf8')).toContain("reporters: ['default', './scripts/test-rules/vitest-no-skip.ts']");
    expect(readFileSync(join(ROOT, 'playwright.config.ts'), 'utf8')).toContain("['./scripts/test-rules/playwright-no-skip.ts']");
  });
});

describe('tests depend on nothing outside the repository', () => {
  it('no test file, nor any module one imports, reaches outside the repository', () => {
    const { files, violations } = scanRepository(ROOT);
    // The scan really covers the suite: unit tests, browser tests and the library code they import.
    for (const f of [
      'src/search/m3-index.test.ts',
      'e2e/index.spec.ts',
      'e2e/pages/index.ts',
      'src/eval/cranfield.test.ts',
      'src/search/m3-index.ts',
      'playwright.config.ts',
    ])
      expect(files).toContain(join(ROOT, f));
    expect(violations.map((v) => `${v.file}:${v.line}: ${v.what}`)).toEqual([]);
  });

  it('catches each way out', () => {
    const file = join(ROOT, 'src/eval/x.test.ts');
    const declared = new Set(['vitest']);
    const bad = [
      ["import { x } from '../../../elsewhere/x.ts';", /resolves outside/],
      [`const data = readFileSync('${SHARED}/cranfield/cran.all.1400');`, /outside the repository: "\.\.\/shared/],
      ["const p = join(process.cwd(), '/work/shared/M3.md');", /"\/work\/shared\/M3\.md"/],
      ['const p = `/home/user/${name}.json`;', /"\/home\/user\//],
      ["const p = new URL('../../../../data.json', import.meta.url);", /leaves the repository/],
      ["import fc from 'fast-check';", /package\.json does not declare/],
      ["const m = await import('../../../../m.ts');", /resolves outside/],
      ['const d = join(homedir(), ".cache");', /homedir/],
      ['const d = process.env.HOME + "/x";', /HOME/],
    ] as const;
    for (const [src, why] of bad) {
      const v = violationsIn(ROOT, file, src, declared);
      expect(v.length, src).toBe(1);
      expect(v[0].what).toMatch(why);
    }
    // What is fine: paths inside the repository, declared packages, builtins, comments, temp folders.
    const good = [
      "import { expect } from 'vitest';",
      "import { join } from 'node:path';",
      "import { x } from '../search/m3-index.ts';",
      "const d = readFileSync('../../data/cranfield/cran.qry');",
      `// data once came from ${SHARED}/cranfield, now vendored`,
      "const t = mkdtempSync(join(tmpdir(), 'm3-'));",
    ];
    for (const src of good) expect(violationsIn(ROOT, file, src, declared), src).toEqual([]);
  });
});
