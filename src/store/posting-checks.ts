/**
 * Posting-list structure checks deferred from a cold open to first use (issue 14). An open checks each record's
 * CRC and its cheap structure (lengths, offsets, group directories) at once, but walking every byte of every
 * posting list was most of a cold open's time. So a block's lists are checked per group (16 sparse tokens or BM25
 * terms): the first time a query reads a group, and the rest in idle slices after the open. A group that fails
 * throws the same M3StorageError its record would have got at open, and from then on every search of that index
 * throws it too (`PostingChecks.failure`): no wrong answers, nothing written.
 */

/** One block's deferred groups. */
interface Pending {
  readonly checks: PostingChecks;
  /** 1 where a group passed. */
  readonly done: Uint8Array;
  left: number;
  next: number;
  readonly group: (g: number) => string | null;
  /** Whole-block facts (totals), once every group passed. */
  readonly whole: () => string | null;
  readonly fail: (problem: string) => Error;
}

const pending = new WeakMap<object, Pending>();

/** The deferred checks of one open: what is left, and the first failure found. */
export class PostingChecks {
  failure: Error | null = null;
  private readonly queue: { block: object; p: Pending }[] = [];
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;
  private resolve: ((failure: Error | null) => void) | null = null;

  /**
   * Defers `groups` group checks of `block` (`group(g)`: why group g is bad, or null) and then `whole()`;
   * `fail(problem)` makes the error to throw.
   */
  defer(block: object, groups: number, group: (g: number) => string | null, whole: () => string | null, fail: (problem: string) => Error): void {
    const p: Pending = { checks: this, done: new Uint8Array(groups), left: groups, next: 0, group, whole, fail };
    pending.set(block, p);
    this.queue.push({ block, p });
  }

  /** Groups not checked yet, over every block. */
  get left(): number {
    let n = 0;
    for (const { p } of this.queue) n += p.left;
    return n;
  }

  /** Checks groups for about `ms` milliseconds; true when nothing is left. Throws what a failing group throws. */
  step(ms: number): boolean {
    const until = Date.now() + ms;
    while (this.queue.length) {
      const { block, p } = this.queue[0];
      while (p.left > 0) {
        while (p.done[p.next]) p.next++;
        checkGroup(block, p, p.next);
        if (Date.now() >= until && p.left > 0) return false;
      }
      this.queue.shift();
    }
    return true;
  }

  /** Every deferred group now (a compaction or an export reads them all anyway). */
  all(): void {
    this.step(Number.POSITIVE_INFINITY);
  }

  /**
   * Checks the rest in slices of `sliceMs` when the thread is idle; resolves when finished, with the failure found
   * (also kept in `failure` for the searches that follow) or null. Never rejects.
   */
  background(sliceMs = 4): Promise<Error | null> {
    return new Promise((done) => {
      if (this.stopped) return done(null);
      this.resolve = done;
      const run = () => {
        this.timer = null;
        if (this.stopped) return done(null);
        try {
          if (this.step(sliceMs)) return done(null);
        } catch (e) {
          return done(e as Error);
        }
        this.schedule(run);
      };
      this.schedule(run);
    });
  }

  /** Stops the background checks (the index closed, or its segments were replaced). */
  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.resolve?.(null);
  }

  private schedule(run: () => void): void {
    if (this.stopped) return;
    const t = setTimeout(run, 0);
    (t as { unref?: () => void }).unref?.(); // Node: pending checks never keep a process alive
    this.timer = t;
  }
}

function checkGroup(block: object, p: Pending, g: number): void {
  if (p.checks.failure) throw p.checks.failure;
  let problem = p.group(g);
  if (!problem) {
    p.done[g] = 1;
    if (--p.left === 0) {
      problem = p.whole();
      pending.delete(block);
    }
  }
  if (problem) {
    p.checks.failure = p.fail(problem);
    throw p.checks.failure;
  }
}

/** Before reading group g of `block`: checks it if an open deferred it (throws when it is bad). */
export function ensureGroupChecked(block: object, g: number): void {
  const p = pending.get(block);
  if (p === undefined) return;
  if (p.checks.failure) throw p.checks.failure;
  if (!p.done[g]) checkGroup(block, p, g);
}

/** Before reading every group of `block` (merges, exports, dictionary walks). */
export function ensureBlockChecked(block: object): void {
  const p = pending.get(block);
  if (p === undefined) return;
  for (let g = 0; g < p.done.length && pending.has(block); g++) if (!p.done[g]) checkGroup(block, p, g);
  if (p.checks.failure) throw p.checks.failure;
}
