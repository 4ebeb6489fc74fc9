/**
 * Metadata filters, compiled once per search into a predicate over a document's metadata.
 * Object form: { field: value } equality, { field: { $in: [..] } }, { field: { $nin: [..] } },
 * { field: { $ne: v } }, ranges { field: { $gt, $gte, $lt, $lte } }, several fields = AND.
 * Dotted field names reach into nested objects ("author.name").
 */
import type { SearchOptions } from './types.ts';

export type DocPredicate = (metadata: Record<string, unknown> | undefined, id: string) => boolean;

const OPS = new Set(['$in', '$nin', '$ne', '$eq', '$gt', '$gte', '$lt', '$lte']);

export function compileFilter(filter: SearchOptions['filter']): DocPredicate | null {
  if (filter == null) return null;
  if (typeof filter === 'function') return filter;
  if (typeof filter !== 'object') throw new TypeError('filter must be an object or a function');
  const tests: ((m: Record<string, unknown> | undefined) => boolean)[] = [];
  for (const [field, cond] of Object.entries(filter)) {
    const get = fieldGetter(field);
    if (cond !== null && typeof cond === 'object' && !Array.isArray(cond) && Object.keys(cond).some((k) => k.startsWith('$'))) {
      for (const [op, arg] of Object.entries(cond as Record<string, unknown>)) {
        if (!OPS.has(op)) throw new Error(`unknown filter operator ${op} on "${field}" (valid: ${[...OPS].join(', ')})`);
        tests.push(opTest(op, arg, get, field));
      }
    } else {
      tests.push((m) => same(get(m), cond));
    }
  }
  return (m) => {
    for (const t of tests) if (!t(m)) return false;
    return true;
  };
}

function opTest(op: string, arg: unknown, get: (m: Record<string, unknown> | undefined) => unknown, field: string) {
  switch (op) {
    case '$in':
    case '$nin': {
      if (!Array.isArray(arg)) throw new TypeError(`${op} on "${field}" needs an array`);
      const want = op === '$in';
      // An array-valued field matches when any of its elements is in the list.
      return (m: Record<string, unknown> | undefined) => {
        const v = get(m);
        const hit = Array.isArray(v) ? v.some((x) => arg.some((a) => same(x, a))) : arg.some((a) => same(v, a));
        return hit === want;
      };
    }
    case '$eq':
      return (m: Record<string, unknown> | undefined) => same(get(m), arg);
    case '$ne':
      return (m: Record<string, unknown> | undefined) => !same(get(m), arg);
    default: {
      const cmp = op === '$gt' ? (c: number) => c > 0 : op === '$gte' ? (c: number) => c >= 0 : op === '$lt' ? (c: number) => c < 0 : (c: number) => c <= 0;
      return (m: Record<string, unknown> | undefined) => {
        const v = get(m);
        if (typeof v === 'number' && typeof arg === 'number') return cmp(v - arg);
        if (typeof v === 'string' && typeof arg === 'string') return cmp(v < arg ? -1 : v > arg ? 1 : 0);
        return false; // missing or mismatched types never satisfy a range
      };
    }
  }
}

function fieldGetter(field: string): (m: Record<string, unknown> | undefined) => unknown {
  if (!field.includes('.')) return (m) => m?.[field];
  const path = field.split('.');
  return (m) => {
    let v: unknown = m;
    for (const p of path) {
      if (v === null || typeof v !== 'object') return undefined;
      v = (v as Record<string, unknown>)[p];
    }
    return v;
  };
}

function same(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && !Array.isArray(b)) return a.some((x) => same(x, b)); // tags: ["x","y"] equals "x"
  return a === b || (a instanceof Date && b instanceof Date && a.getTime() === b.getTime());
}
