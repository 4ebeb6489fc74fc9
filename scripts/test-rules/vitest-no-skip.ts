/**
 * Vitest reporter for the suite's first rule: in CI (CI=true) a skipped or todo test fails the run. A test that
 * skips where it should run (no data, wrong runtime) would otherwise pass CI green while checking nothing.
 * Tests left out by a name filter (-t) are not skipped tests, so a filtered run is not judged.
 */
import type { Reporter, TestModule, Vitest } from 'vitest/node';
import { isCI } from './ci.ts';

export default class NoSkipInCi implements Reporter {
  private filtered = false;

  onInit(vitest: Vitest): void {
    this.filtered = !!vitest.config.testNamePattern;
  }

  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    if (!isCI() || this.filtered) return;
    const skipped: string[] = [];
    for (const m of modules)
      for (const t of m.children.allTests()) {
        const state = t.result().state;
        if (state === 'skipped' || state === 'pending') skipped.push(`${m.moduleId.replace(`${process.cwd()}/`, '')} > ${t.fullName}`);
      }
    if (!skipped.length) return;
    process.exitCode = 1;
    console.error(`\n[no-skip-in-ci] ${skipped.length} test(s) skipped in CI; a test that cannot run here must fail, not skip:\n  ${skipped.join('\n  ')}\n`);
  }
}
