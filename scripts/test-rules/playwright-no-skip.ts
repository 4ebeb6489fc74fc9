/**
 * Playwright reporter for the suite's first rule: in CI (CI=true) a skipped test (test.skip, test.fixme, a
 * conditional skip) turns the run's status to failed.
 */
import type { FullResult, Reporter, TestCase, TestResult } from '@playwright/test/reporter';
import { isCI } from './ci.ts';

export default class NoSkipInCi implements Reporter {
  private readonly skipped: string[] = [];

  onTestEnd(test: TestCase, result: TestResult): void {
    if (result.status === 'skipped')
      this.skipped.push(`${test.location.file.replace(`${process.cwd()}/`, '')} > ${test.titlePath().filter(Boolean).join(' > ')}`);
  }

  async onEnd(result: FullResult): Promise<{ status: FullResult['status'] } | undefined> {
    if (!isCI() || !this.skipped.length) return undefined;
    console.error(
      `\n[no-skip-in-ci] ${this.skipped.length} test(s) skipped in CI; a test that cannot run here must fail, not skip:\n  ${this.skipped.join('\n  ')}\n`,
    );
    return { status: result.status === 'passed' ? 'failed' : result.status };
  }

  printsToStdio(): boolean {
    return false;
  }
}
