import { M3Error, type M3ErrorCode } from '../errors.ts';
import type { ModelIdentity } from './types.ts';

/** The index was built with a different encoder than the one it is opened with. */
export class M3IndexMismatchError extends M3Error {
  override name = 'M3IndexMismatchError';

  /**
   * `subject` and `remedy` name what was built and what to do: an index (re-embed or reset) by default, a
   * static package (rebuild it) from src/static/manifest.ts.
   */
  constructor(
    readonly stored: ModelIdentity,
    readonly given: ModelIdentity,
    readonly fields: string[],
    subject = 'index',
    remedy = "open with { onMismatch: 're-embed' } to re-encode the stored texts, or { onMismatch: 'reset' } to start empty",
  ) {
    super(
      'MODEL_MISMATCH',
      `${subject} was built with ${describe(stored)} but opened with ${describe(given)} ` +
        `(differs in ${fields.join(', ')}); ${remedy}` +
        (fields.includes('dtype') ? ` (or load the encoder with { dtype: '${stored.dtype}' }, the dtype the ${subject} was built with)` : ''),
    );
  }
}

/**
 * Which parts of the model identity differ between what built an index (or package) and what opens it:
 * 'model id', 'dims', 'head hash', 'dtype'. fp32, fp16 and q8 graphs give different vectors, so the dtype
 * counts. An identity with neither head hash nor dtype recorded (an index migrated from schema 1) is
 * compared on model id and dims only.
 */
export function modelMismatch(built: ModelIdentity, given: ModelIdentity): string[] {
  const legacy = built.headHash === '' && built.dtype === '';
  const diff: string[] = [];
  if (built.modelId !== given.modelId) diff.push('model id');
  if (built.dims !== given.dims) diff.push('dims');
  if (!legacy && built.headHash !== given.headHash) diff.push('head hash');
  if (!legacy && built.dtype !== given.dtype) diff.push('dtype');
  return diff;
}

function describe(m: ModelIdentity): string {
  return `model "${m.modelId}" (dims ${m.dims}, head ${m.headHash}, dtype ${m.dtype})`;
}

/** Storage ran out mid-ingest. Everything before the failed batch is stored; that batch is not. */
export class M3QuotaError extends M3Error {
  override name = 'M3QuotaError';

  constructor(
    readonly docsStored: number,
    readonly bytesStored: number,
    override readonly cause?: unknown,
  ) {
    super(
      'QUOTA',
      `storage quota exceeded: ${docsStored} documents (${bytesStored} bytes) of this call were stored ` +
        `before the failing batch, which was rolled back; the index is consistent`,
    );
  }
}

/** The store is closed (closed by the caller, or by another tab upgrading/deleting the database). */
export class M3ClosedError extends M3Error {
  override name = 'M3ClosedError';

  constructor(message: string) {
    super('CLOSED', message);
  }
}

export function isQuotaError(e: unknown): boolean {
  const name = (e as { name?: string } | null)?.name;
  return name === 'QuotaExceededError' || (e as { code?: string } | null)?.code === 'ENOSPC';
}

export function abortError(reason?: unknown): Error {
  if (reason instanceof Error && reason.name === 'AbortError') return reason;
  const e = new Error('the operation was aborted');
  e.name = 'AbortError';
  return e;
}

export type StorageErrorCode = Extract<M3ErrorCode, 'CORRUPT' | 'NOT_AN_INDEX' | 'READ_ONLY' | 'LOCKED' | 'NEWER_SCHEMA'>;

/**
 * A stored index (a file of a FileStore folder, a record of an IdbStore) can't be used as it is. The message
 * names the file or record and says what to do; `code` says which case it is.
 */
export class M3StorageError extends M3Error {
  override name = 'M3StorageError';
  declare readonly code: StorageErrorCode;
  constructor(code: StorageErrorCode, message: string, cause?: unknown) {
    super(code, message, cause === undefined ? undefined : { cause });
  }
}
