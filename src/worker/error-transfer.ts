/**
 * Errors across the worker boundary. Comlink's own 'throw' handler sends only name, message and stack, so an
 * m3-search error reached the page as a plain Error: no `code`, no QuerySyntaxError `position`, no
 * M3QuotaError `docsStored`, and `instanceof` failed. This handler sends an M3Error's own fields too and
 * rebuilds it on the page as the same class. Both sides call `useErrorTransfer()` (client.ts, m3.worker.ts): a
 * call, not a side-effect import, which bundlers honouring package.json `sideEffects` would drop.
 */
import * as Comlink from 'comlink';
import { M3Error, M3InputError } from '../errors.ts';
import { QuerySyntaxError } from '../query/parse.ts';
import { PortableImportError } from '../search/portable.ts';
import { StaticPackageError } from '../static/manifest.ts';
import { M3ClosedError, M3IndexMismatchError, M3QuotaError, M3StorageError } from '../store/errors.ts';

/** The classes the worker can throw, by their literal `name` (classes are renamed by minifiers; names are not). */
const CLASSES: Record<string, { prototype: M3Error }> = {
  M3Error,
  M3InputError,
  QuerySyntaxError,
  PortableImportError,
  StaticPackageError,
  M3ClosedError,
  M3IndexMismatchError,
  M3QuotaError,
  M3StorageError,
};

interface SentM3Error {
  m3: true;
  name: string;
  message: string;
  stack?: string;
  fields: Record<string, unknown>;
}

/** The error's own data fields that survive structured cloning (a `cause` that cannot is left behind). */
function cloneableFields(e: M3Error): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(e)) {
    if (key === 'stack' || key === 'message' || typeof value === 'function') continue;
    try {
      out[key] = structuredClone(value);
    } catch {
      // not cloneable: stays in the worker
    }
  }
  return out;
}

/** Rebuilds a sent error as a real Error object whose prototype is its class (its constructor is not rerun). */
function reviveError(s: SentM3Error): M3Error {
  const cls = CLASSES[s.name] ?? M3Error;
  const e = Reflect.construct(Error, [s.message], cls as unknown as new () => M3Error) as M3Error;
  Object.assign(e, s.fields);
  if (s.stack !== undefined) e.stack = s.stack;
  return e;
}

/** The wire form of an m3-search error. */
function sendError(e: M3Error): SentM3Error {
  return { m3: true, name: e.name, message: e.message, stack: e.stack, fields: cloneableFields(e) };
}

let installed = false;

/** Installs the handler in this realm's Comlink (idempotent). */
export function useErrorTransfer(): void {
  if (installed) return;
  installed = true;
  const fallback = Comlink.transferHandlers.get('throw')!;
  Comlink.transferHandlers.set('throw', {
    canHandle: fallback.canHandle,
    serialize(thrown: unknown) {
      const value = (thrown as { value: unknown }).value;
      if (value instanceof M3Error) return [{ isError: true, value: sendError(value) }, []];
      return fallback.serialize(thrown);
    },
    deserialize(serialized: unknown) {
      const s = serialized as { isError: boolean; value: SentM3Error | unknown };
      if (s.isError && (s.value as SentM3Error | null)?.m3 === true) throw reviveError(s.value as SentM3Error);
      return fallback.deserialize(serialized);
    },
  });
}
