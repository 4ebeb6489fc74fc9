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
  readonly group: (g: number) => string | null;
  /** Whole-block facts (totals), once every group passed. */
  readonly whole: () => string | null;
  readonly fail: (problem: string) => Error;
}

const pending = new WeakMap<object, Pending>();

/** The deferred checks of one open: what is left, and the first failure found. */
export class PostingChecks {
  failure: Error | null = null;
  /** Groups not checked yet, over every block. */
  left = 0;
  private readonly queue: [object, Pending][] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;
  private resolve?: (failure: Error | null) => void;

  /**
   * Defers `groups` group checks of `block` (`group(g)`: why group g is bad, or null) and then `whole()`;
   * `fail(problem)` makes the error to throw. Returns whole()'s problem at once when there is no group.
   */
  defer(block: object, groups: number, group: (g: number) => string | null, whole: () => string | null, fail: (problem: string) => Error): string | null {
    if (groups === 0) return whole();
    const p: Pending = { checks: this, done: new Uint8Array(groups), left: groups, group, whole, fail };
    pending.set(block, p);
    this.queue.push([block, p]);
    this.left += groups;
    return null;
  }

  /** Checks groups for about `ms` milliseconds; true when nothing is left. Throws what a failing group throws. */
  step(ms: number): boolean {
    const until = Date.now() + ms;
    for (; this.queue.length; this.queue.shift()) {
      const [block, p] = this.queue[0];
      for (let g = 0; p.left > 0; g++) {
        if (p.done[g]) continue;
        checkGroup(block, p, g);
        if (Date.now() >= until && this.left > 0) return false;
      }
    }
    return true;
  }

  /**
   * Checks the rest in slices of `sliceMs`, yielding to the event loop between them; resolves when finished, with
   * the failure found (also kept in `failure` for the searches that follow) or null. Never rejects.
   */
  background(sliceMs = 4): Promise<Error | null> {
    return new Promise((done) => {
      this.resolve = done;
      const run = () => {
        try {
          if (this.stopped || this.step(sliceMs)) return done(null);
        } catch (e) {
          return done(e as Error);
        }
        this.timer = setTimeout(run, 0);
        (this.timer as { unref?: () => void }).unref?.(); // Node: pending checks never keep a process alive
      };
      run();
    });
  }

  /** Stops the background checks (the index closed, or its segments were replaced). */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.resolve?.(null);
  }
}

function checkGroup(block: object, p: Pending, g: number): void {
  if (p.checks.failure) throw p.checks.failure;
  let problem = p.group(g);
  if (!problem) {
    p.done[g] = 1;
    p.checks.left--;
    if (--p.left === 0) {
      problem = p.whole();
      pending.delete(block);
    }
  }
  if (problem) throw (p.checks.failure = p.fail(problem));
}

/** Before reading group g of `block`: checks it if an open deferred it (throws when it is bad). */
export function ensureGroupChecked(block: object, g: number): void {
  const p = pending.get(block);
  if (p && (p.checks.failure || !p.done[g])) checkGroup(block, p, g);
}

/** Before reading every group of `block` (merges, exports, dictionary walks). */
export function ensureBlockChecked(block: object): void {
  const p = pending.get(block);
  if (p) for (let g = 0; g < p.done.length; g++) ensureGroupChecked(block, g);
}
