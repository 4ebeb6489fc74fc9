/**
 * A restricted unpickler: only the opcodes torch.save emits for a state dict, and only globals the caller
 * allows. A pickle is a program (GLOBAL + REDUCE calls any importable function), so a checkpoint downloaded
 * from the internet is untrusted input: every other opcode and every global outside the allow-list is an
 * error that names it, raised before anything is called.
 */
import { M3Error } from '../errors.ts';

/** A global the caller allows: either a value (e.g. a storage type tag) or a function REDUCE may call. */
export type AllowedGlobal = { value: unknown } | { call: (args: readonly unknown[]) => unknown };

export interface UnpickleOptions {
  /** Allowed globals, keyed `module.name`. */
  globals: ReadonlyMap<string, AllowedGlobal>;
  /** BINPERSID handler (torch uses it for tensor storages). Absent → BINPERSID is refused. */
  persistentLoad?: (pid: unknown) => unknown;
  /** Names the pickle in errors. */
  label: string;
}

export class UnpickleError extends M3Error {
  override name = 'UnpickleError';
  constructor(message: string) {
    super('FILE_REFUSED', message);
  }
}

/** A resolved callable global on the stack; REDUCE calls only these. */
class GlobalRef {
  constructor(
    readonly qualname: string,
    readonly allowed: AllowedGlobal,
  ) {}
}

const MARK = Symbol('mark');

// Names for error messages, so a refused pickle says which opcode it used.
const OPCODE_NAMES: Record<number, string> = {
  0x28: 'MARK',
  0x2e: 'STOP',
  0x30: 'POP',
  0x31: 'POP_MARK',
  0x32: 'DUP',
  0x46: 'FLOAT',
  0x49: 'INT',
  0x4a: 'BININT',
  0x4b: 'BININT1',
  0x4c: 'LONG',
  0x4d: 'BININT2',
  0x4e: 'NONE',
  0x50: 'PERSID',
  0x51: 'BINPERSID',
  0x52: 'REDUCE',
  0x53: 'STRING',
  0x54: 'BINSTRING',
  0x55: 'SHORT_BINSTRING',
  0x56: 'UNICODE',
  0x58: 'BINUNICODE',
  0x61: 'APPEND',
  0x62: 'BUILD',
  0x63: 'GLOBAL',
  0x64: 'DICT',
  0x7d: 'EMPTY_DICT',
  0x65: 'APPENDS',
  0x67: 'GET',
  0x68: 'BINGET',
  0x69: 'INST',
  0x6a: 'LONG_BINGET',
  0x6c: 'LIST',
  0x5d: 'EMPTY_LIST',
  0x6f: 'OBJ',
  0x70: 'PUT',
  0x71: 'BINPUT',
  0x72: 'LONG_BINPUT',
  0x73: 'SETITEM',
  0x74: 'TUPLE',
  0x29: 'EMPTY_TUPLE',
  0x75: 'SETITEMS',
  0x47: 'BINFLOAT',
  0x80: 'PROTO',
  0x81: 'NEWOBJ',
  0x82: 'EXT1',
  0x83: 'EXT2',
  0x84: 'EXT4',
  0x85: 'TUPLE1',
  0x86: 'TUPLE2',
  0x87: 'TUPLE3',
  0x88: 'NEWTRUE',
  0x89: 'NEWFALSE',
  0x8a: 'LONG1',
  0x8b: 'LONG4',
  0x8c: 'SHORT_BINUNICODE',
  0x8d: 'BINUNICODE8',
  0x8e: 'BINBYTES8',
  0x8f: 'EMPTY_SET',
  0x90: 'ADDITEMS',
  0x91: 'FROZENSET',
  0x92: 'NEWOBJ_EX',
  0x93: 'STACK_GLOBAL',
  0x94: 'MEMOIZE',
  0x95: 'FRAME',
  0x42: 'BINBYTES',
  0x43: 'SHORT_BINBYTES',
  0x96: 'BYTEARRAY8',
  0x97: 'NEXT_BUFFER',
  0x98: 'READONLY_BUFFER',
};

/**
 * Runs a pickle under the allow-list and returns its result. Lists come back as arrays, tuples as frozen
 * arrays, dicts as Maps (pickle keys need not be strings), ints as numbers (beyond 2^53 → error).
 */
export function unpickle(bytes: Uint8Array, opts: UnpickleOptions): unknown {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const stack: unknown[] = [];
  const memo = new Map<number, unknown>();
  let pos = 0;
  let at = 0; // offset of the current opcode, for errors

  const fail = (why: string): never => {
    throw new UnpickleError(`${opts.label}: ${why} (at byte ${at})`);
  };
  const need = (n: number) => {
    if (n < 0 || pos + n > bytes.length) fail('pickle truncated');
  };
  const u8 = () => (need(1), bytes[pos++]);
  const u16 = () => (need(2), (pos += 2), view.getUint16(pos - 2, true));
  const u32 = () => (need(4), (pos += 4), view.getUint32(pos - 4, true));
  const u64 = () => {
    need(8);
    const v = view.getBigUint64(pos, true);
    pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail('length too large');
    return Number(v);
  };
  const str = (n: number) => {
    need(n);
    try {
      return utf8.decode(bytes.subarray(pos, (pos += n)));
    } catch {
      return fail('invalid UTF-8 in string');
    }
  };
  const line = () => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) fail('pickle truncated in GLOBAL');
    const s = str(end - pos);
    pos++;
    return s;
  };
  const pop = () => {
    if (stack.length === 0) fail('stack underflow');
    const v = stack.pop();
    if (v === MARK) fail('unexpected MARK');
    return v;
  };
  const top = () => {
    if (stack.length === 0 || stack[stack.length - 1] === MARK) fail('stack underflow');
    return stack[stack.length - 1];
  };
  const popMark = () => {
    const i = stack.lastIndexOf(MARK);
    if (i < 0) fail('no MARK on the stack');
    const items = stack.splice(i);
    items.shift();
    return items;
  };
  const resolve = (module: string, name: string) => {
    const qualname = `${module}.${name}`;
    const allowed = opts.globals.get(qualname);
    if (!allowed) fail(`refusing global ${qualname}: not in the allow-list (a pickle can run arbitrary code; only torch state-dict types are accepted)`);
    // Value globals (storage type tags) go on the stack as their value; only callables stay GlobalRefs.
    return 'value' in allowed! ? allowed.value : new GlobalRef(qualname, allowed!);
  };
  const dictOf = (v: unknown, op: string) => {
    if (!(v instanceof Map)) fail(`${op} on a non-dict`);
    return v as Map<unknown, unknown>;
  };
  const listOf = (v: unknown, op: string) => {
    if (!Array.isArray(v) || Object.isFrozen(v)) fail(`${op} on a non-list`);
    return v as unknown[];
  };
  const memoGet = (i: number) => {
    if (!memo.has(i)) fail(`memo key ${i} is not set`);
    return memo.get(i);
  };

  for (;;) {
    at = pos;
    const op = u8();
    switch (op) {
      case 0x80: // PROTO
        if (u8() > 5) fail('unsupported pickle protocol');
        break;
      case 0x95: // FRAME: a length hint only
        u64();
        break;
      case 0x63: {
        // GLOBAL "module\nname\n"
        const module = line();
        stack.push(resolve(module, line()));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings');
        stack.push(resolve(module as string, name as string));
        break;
      }
      case 0x51: {
        // BINPERSID
        if (!opts.persistentLoad) fail('refusing BINPERSID: no persistent loader');
        stack.push(opts.persistentLoad!(pop()));
        break;
      }
      case 0x28: // MARK
        stack.push(MARK);
        break;
      case 0x74: // TUPLE
        stack.push(Object.freeze(popMark()));
        break;
      case 0x85: // TUPLE1
        stack.push(Object.freeze([pop()]));
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        stack.push(Object.freeze([pop(), b]));
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        stack.push(Object.freeze([pop(), b, c]));
        break;
      }
      case 0x29: // EMPTY_TUPLE
        stack.push(Object.freeze([]));
        break;
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        dictOf(top(), 'SETITEM').set(k, v);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        if (items.length % 2) fail('SETITEMS with an odd number of items');
        const d = dictOf(top(), 'SETITEMS');
        for (let i = 0; i < items.length; i += 2) d.set(items[i], items[i + 1]);
        break;
      }
      case 0x61: {
        // APPEND
        const v = pop();
        listOf(top(), 'APPEND').push(v);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        const list = listOf(top(), 'APPENDS');
        for (const v of items) list.push(v); // not push(...items): a long run would overflow the stack
        break;
      }
      case 0x4a: // BININT (signed 32)
        need(4);
        stack.push(view.getInt32(pos, true));
        pos += 4;
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x8a: {
        // LONG1: little-endian two's complement
        const n = u8();
        need(n);
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[pos + i]);
        if (n > 0 && bytes[pos + n - 1] & 0x80) v -= 1n << BigInt(8 * n);
        pos += n;
        if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < -BigInt(Number.MAX_SAFE_INTEGER)) fail('integer too large');
        stack.push(Number(v));
        break;
      }
      case 0x58: // BINUNICODE
        stack.push(str(u32()));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(str(u8()));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(str(u64()));
        break;
      case 0x47: // BINFLOAT (big-endian double)
        need(8);
        stack.push(view.getFloat64(pos, false));
        pos += 8;
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x52: {
        // REDUCE
        const args = pop();
        const fn = pop();
        if (!(fn instanceof GlobalRef)) fail('REDUCE on something that is not an allowed callable global');
        const g = fn as GlobalRef;
        if (!Array.isArray(args)) fail(`REDUCE ${g.qualname} without an argument tuple`);
        try {
          stack.push((g.allowed as { call: (a: readonly unknown[]) => unknown }).call(args as unknown[]));
        } catch (e) {
          if (e instanceof UnpickleError) throw e;
          fail(`${g.qualname}: ${(e as Error).message}`);
        }
        break;
      }
      case 0x62: {
        // BUILD: torch sets OrderedDict attributes (state_dict._metadata); dicts keep only their items
        const state = pop();
        const obj = top();
        if (!(obj instanceof Map)) fail('BUILD is only accepted on a dict');
        if (state !== null && !(state instanceof Map)) fail('BUILD with a state that is not a dict');
        break;
      }
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x68: // BINGET
        stack.push(memoGet(u8()));
        break;
      case 0x6a: // LONG_BINGET
        stack.push(memoGet(u32()));
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x2e: // STOP
        if (stack.length !== 1) fail(`STOP with ${stack.length} items on the stack`);
        return pop();
      default: {
        const name = OPCODE_NAMES[op];
        fail(`refusing opcode 0x${op.toString(16).padStart(2, '0')}${name ? ` (${name})` : ''}: not used by torch state dicts`);
      }
    }
  }
}
