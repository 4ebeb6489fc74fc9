/**
 * A tiny WebAssembly assembler: enough of the binary format (types, one imported memory `env.mem`,
 * functions, exports, code) and of the instruction set (SIMD128 included) for the scan kernels
 * (dense-scan-wasm.ts) and the ColBERT kernels (colbert-wasm.ts). No toolchain, no dependency.
 */
export const I32 = 0x7f;
export const F32 = 0x7d;
export const V128 = 0x7b;

function uleb(n: number, out: number[]): void {
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
}

function sleb(n: number, out: number[]): void {
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return;
    }
    out.push(b | 0x80);
  }
}

function str(s: string, out: number[]): void {
  const bytes = new TextEncoder().encode(s);
  uleb(bytes.length, out);
  out.push(...bytes);
}

function section(id: number, body: number[], out: number[]): void {
  out.push(id);
  uleb(body.length, out);
  out.push(...body);
}

/** Instruction emitter for one function body. Locals are declared up front by type. */
export class Body {
  readonly code: number[] = [];
  private readonly locals: number[] = [];
  private nextLocal: number;

  constructor(readonly params: number[]) {
    this.nextLocal = params.length;
  }

  local(type: number): number {
    this.locals.push(type);
    return this.nextLocal++;
  }

  private op(...b: number[]): this {
    this.code.push(...b);
    return this;
  }
  get(i: number): this {
    this.op(0x20);
    uleb(i, this.code);
    return this;
  }
  set(i: number): this {
    this.op(0x21);
    uleb(i, this.code);
    return this;
  }
  i32(v: number): this {
    this.op(0x41);
    sleb(v | 0, this.code);
    return this;
  }
  add(): this {
    return this.op(0x6a);
  }
  mul(): this {
    return this.op(0x6c);
  }
  shl(): this {
    return this.op(0x74);
  }
  shrU(): this {
    return this.op(0x76);
  }
  and(): this {
    return this.op(0x71);
  }
  ltU(): this {
    return this.op(0x49);
  }
  geU(): this {
    return this.op(0x4f);
  }
  block(): this {
    return this.op(0x02, 0x40);
  }
  loop(): this {
    return this.op(0x03, 0x40);
  }
  end(): this {
    return this.op(0x0b);
  }
  br(depth: number): this {
    return this.op(0x0c, depth);
  }
  brIf(depth: number): this {
    return this.op(0x0d, depth);
  }
  private mem(opcode: number, align: number, offset: number): this {
    this.op(opcode, align);
    uleb(offset, this.code);
    return this;
  }
  i32load(offset = 0): this {
    return this.mem(0x28, 2, offset);
  }
  f32load(offset = 0): this {
    return this.mem(0x2a, 2, offset);
  }
  f32store(offset = 0): this {
    return this.mem(0x38, 2, offset);
  }
  i32store(offset = 0): this {
    return this.mem(0x36, 2, offset);
  }
  f32mul(): this {
    return this.op(0x94);
  }
  i32sub(): this {
    return this.op(0x6b);
  }
  f32fromI32(): this {
    return this.op(0xb2);
  }
  /** SIMD prefix 0xfd + LEB128 sub-opcode. */
  simd(sub: number): this {
    this.op(0xfd);
    uleb(sub, this.code);
    return this;
  }
  private simdMem(sub: number, align: number, offset: number): this {
    this.simd(sub);
    this.code.push(align);
    uleb(offset, this.code);
    return this;
  }
  v128load(offset = 0): this {
    return this.simdMem(0x00, 0, offset); // align hint 1: rows are 16-aligned but hints are free
  }
  /** v128.load8x8_s: 8 bytes → i16x8, sign-extended. */
  load8x8s(offset = 0): this {
    return this.simdMem(0x01, 0, offset);
  }
  v128zero(): this {
    this.simd(0x0c);
    for (let i = 0; i < 16; i++) this.code.push(0);
    return this;
  }
  i32x4extract(lane: number): this {
    this.simd(0x1b);
    this.code.push(lane);
    return this;
  }
  i32x4add(): this {
    return this.simd(0xae);
  }
  i32x4dotI16(): this {
    return this.simd(0xba);
  }
  relaxedDotAdd(): this {
    return this.simd(0x113);
  }
  v128store(offset = 0): this {
    return this.simdMem(0x0b, 0, offset);
  }
  i8x16splat(): this {
    return this.simd(0x0f);
  }
  i8x16swizzle(): this {
    return this.simd(0x0e);
  }
  v128and(): this {
    return this.simd(0x4e);
  }
  i8x16shrU(): this {
    return this.simd(0x6d);
  }
  i8x16add(): this {
    return this.simd(0x6e);
  }
  /** v128.load16_splat: 2 bytes repeated 8 times. */
  load16splat(offset = 0): this {
    return this.simdMem(0x08, 0, offset);
  }
  v128const(bytes: readonly number[]): this {
    this.simd(0x0c);
    for (let i = 0; i < 16; i++) this.code.push(bytes[i] & 0xff);
    return this;
  }
  i8x16eq(): this {
    return this.simd(0x23);
  }
  /** i8x16.shl by an i32 count. */
  i8x16shl(): this {
    return this.simd(0x6b);
  }
  i8x16sub(): this {
    return this.simd(0x71);
  }
  i16x8extendLowU8(): this {
    return this.simd(0x89);
  }
  i16x8extendHighU8(): this {
    return this.simd(0x8a);
  }
  i16x8add(): this {
    return this.simd(0x8e);
  }

  encode(): number[] {
    const out: number[] = [];
    // Run-length encode local declarations.
    const groups: Array<[number, number]> = [];
    for (const t of this.locals) {
      const last = groups[groups.length - 1];
      if (last && last[1] === t) last[0]++;
      else groups.push([1, t]);
    }
    const body: number[] = [];
    uleb(groups.length, body);
    for (const [n, t] of groups) {
      uleb(n, body);
      body.push(t);
    }
    body.push(...this.code, 0x0b);
    uleb(body.length, out);
    out.push(...body);
    return out;
  }
}

interface FuncDef {
  name: string;
  body: Body;
  results: number[];
}

export function assemble(funcs: FuncDef[]): Uint8Array<ArrayBuffer> {
  const out = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  // One type per function (simplest; duplicates are legal).
  const types: number[] = [];
  uleb(funcs.length, types);
  for (const f of funcs) {
    types.push(0x60);
    uleb(f.body.params.length, types);
    types.push(...f.body.params);
    uleb(f.results.length, types);
    types.push(...f.results);
  }
  section(1, types, out);
  // Import the memory: JS owns and grows it, the kernels read rows in place.
  const imports: number[] = [];
  uleb(1, imports);
  str('env', imports);
  str('mem', imports);
  imports.push(0x02, 0x00);
  uleb(1, imports); // min 1 page, no max
  section(2, imports, out);
  const fns: number[] = [];
  uleb(funcs.length, fns);
  funcs.forEach((_, i) => uleb(i, fns));
  section(3, fns, out);
  const exps: number[] = [];
  uleb(funcs.length, exps);
  funcs.forEach((f, i) => {
    str(f.name, exps);
    exps.push(0x00);
    uleb(i, exps);
  });
  section(7, exps, out);
  const code: number[] = [];
  uleb(funcs.length, code);
  for (const f of funcs) code.push(...f.body.encode());
  section(10, code, out);
  return new Uint8Array(out);
}
