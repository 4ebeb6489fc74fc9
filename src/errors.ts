/**
 * The one base class of m3-search's own errors. `code` is stable across versions (messages are not), so callers
 * can branch on it:
 *
 *   try { await index.add(docs) } catch (e) { if (e instanceof M3Error && e.code === 'QUOTA') … }
 */
export type M3ErrorCode =
  /** The index or store was closed (by the caller, or by another tab upgrading or deleting it). */
  | 'CLOSED'
  /** The index was built with another model, dims, head or dtype than the encoder it is opened with. */
  | 'MODEL_MISMATCH'
  /** Storage ran out; the failing batch was rolled back. */
  | 'QUOTA'
  /** A static index package (manifest, files) was refused. */
  | 'PACKAGE_REFUSED'
  /** An exported index file was refused on import. */
  | 'IMPORT_REFUSED'
  /** An argument was malformed (documents, ids, search options). */
  | 'BAD_INPUT'
  /** A query string or structured query broke the query syntax (QuerySyntaxError, with a position). */
  | 'QUERY_SYNTAX'
  /** A file read from outside was refused: an input line, safetensors, a torch .pt (zip, pickle). */
  | 'FILE_REFUSED'
  /** Stored index data failed its checks (checksum, structure, a missing file); the message says what to do. */
  | 'CORRUPT'
  /** A folder given as an index is not one (FileStore refuses it and changes nothing). */
  | 'NOT_AN_INDEX'
  /** A write to a store opened read-only. */
  | 'READ_ONLY'
  /** The index's write lock stayed held by a live process past the timeout. */
  | 'LOCKED'
  /** The index was written by a newer m3-search (a schema this version cannot read). */
  | 'NEWER_SCHEMA';

export class M3Error extends Error {
  // Each class names itself with a literal: a minifier renames classes, so `new.target.name` would not survive.
  override name = 'M3Error';

  constructor(
    readonly code: M3ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A malformed argument: says which one and what was expected. */
export class M3InputError extends M3Error {
  override name = 'M3InputError';

  constructor(message: string) {
    super('BAD_INPUT', message);
  }
}
