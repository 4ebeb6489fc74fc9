/**
 * CPU time of the browsers a benchmark or test launched. On a shared machine wall time measures the other
 * workers as much as the run; the CPU seconds the run's own processes used measure mostly its work.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';

/** CPU seconds (user + system) of this process's descendants: the Chromium it launched (Linux /proc). */
export function childrenCpuS(): number {
  if (!existsSync('/proc/self/stat')) return NaN;
  const parent = new Map<number, number>();
  const ticks = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      // The command name (field 2) may hold spaces: fields are counted after its closing parenthesis.
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parent.set(+d, +f[1]);
      ticks.set(+d, +f[11] + +f[12]);
    } catch {
      // exited meanwhile
    }
  }
  const mine = (pid: number): boolean => {
    for (let p = parent.get(pid), hops = 0; p !== undefined && hops < 64; p = parent.get(p), hops++) if (p === process.pid) return true;
    return false;
  };
  let total = 0;
  for (const [pid, t] of ticks) if (mine(pid)) total += t;
  return total / CLOCK_TICKS;
}
/** USER_HZ: clock ticks per second in /proc/<pid>/stat (100 on Linux unless `getconf CLK_TCK` says otherwise). */
const CLOCK_TICKS = (() => {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  return Number(r.stdout?.trim()) || 100;
})();
