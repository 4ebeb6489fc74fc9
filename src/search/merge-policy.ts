/**
 * The tiered merge policy's options and their check: what an open needs (OpenOptions.merge is checked before
 * anything is written), apart from the planner (compaction-plan.ts), which loads with the writer.
 */

/** Live documents per segment written by compaction or a merge at most. */
export const MAX_SEGMENT_DOCS = 16384;

/** Segments of one size tier that merge into one (the tiered merge policy's fan-in). */
export const MERGE_FAN_IN = 10;

/** The tiered merge policy: which neighbours merge into one segment, and up to what size. */
export interface MergePolicy {
  /** F: a merge's output must reach a higher tier than every input (tiers grow by a factor F). Default 10. */
  fanIn?: number;
  /** Documents per merged segment at most (default MAX_SEGMENT_DOCS). */
  maxDocs?: number;
}

/** Throws a RangeError naming the bad option. */
export function checkMergePolicy(policy: MergePolicy): void {
  const F = policy.fanIn ?? MERGE_FAN_IN;
  const max = policy.maxDocs ?? MAX_SEGMENT_DOCS;
  if (!(Number.isInteger(F) && F >= 2)) throw new RangeError(`merge fanIn must be an integer ≥ 2, got ${F}`);
  if (!(Number.isInteger(max) && max >= 1)) throw new RangeError(`merge maxDocs must be a positive integer, got ${max}`);
}
