/**
 * The narrow door through which head tuning (src/tune) reaches an open index: not a member of M3Index, not
 * exported by the package. M3Index registers each instance here on open.
 */
import type { MetaRecord, SegmentRecord, SparseBlock, Store } from '../store/types.ts';
import type { EncoderLike } from './types.ts';

export interface TuningAccess {
  readonly store: Store;
  /** The encoder in use (a tuned head's view once one is active). */
  readonly encoder: EncoderLike | undefined;
  /** The encoder the index was opened with (the base head). */
  readonly baseEncoder: EncoderLike | undefined;
  readonly meta: Readonly<MetaRecord>;
  /** Sparse postings stored over every segment (dead rows included until compaction). */
  sparsePostings(): number;
  /**
   * Rewrites every segment's sparse postings with `sparseOf`, records which head made them (`head`;
   * undefined = the base head) and encodes with `encoder` from then on. One transaction: when `sparseOf`
   * throws (an abort), nothing changes.
   */
  rewriteSparse(encoder: EncoderLike, head: MetaRecord['sparseHead'], sparseOf: (seg: SegmentRecord) => Promise<SparseBlock | null>): Promise<void>;
}

const doors = new WeakMap<object, TuningAccess>();

export function registerTuning(index: object, access: TuningAccess): void {
  doors.set(index, access);
}

/** The tuning door of an index opened by M3Index.open (an error for anything else). */
export function tuningAccess(index: object): TuningAccess {
  const door = doors.get(index);
  if (!door) throw new Error('not an open M3Index');
  return door;
}
