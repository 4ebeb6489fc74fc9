/**
 * The WebAssembly SIMD128 kernels behind `dense-scan.ts`, emitted as binary bytes by a tiny
 * in-repo assembler (no toolchain, no dependency; the module is a few hundred bytes and is
 * built once per process).
 *
 * Why int8 documents × int16 query with `i32x4.dot_i16x8_s`: WASM SIMD has no plain i8×i8
 * dot product, but `v128.load8x8_s` sign-extends 8 document bytes to i16 straight from memory
 * (one pmovsxbw on x64), and `i32x4.dot_i16x8_s` (one pmaddwd) then multiplies by the query
 * and sums adjacent pairs into i32 lanes. That is 3 instructions per 8 dimensions per row,
 * and since the query is widened anyway it can carry 14 bits instead of 8 for free.
 *
 * Why 4 rows per inner iteration: each query vector is loaded once and used 4 times, and the
 * 4 accumulators are independent dependency chains.
 *
 * Why one call per query: the whole scan (all rows, or a candidate list) is one call that writes
 * every score, scaled to float32, into an output buffer; JS only picks the top-k.
 *
 * The relaxed-SIMD variant (`i32x4.relaxed_dot_i8x16_i7x16_add_s`) multiplies 16 bytes at once
 * but needs one operand in [0, 127]: the query is quantised to [-63, 63] and offset by +64, and
 * 64·Σcodes (stored per row) is subtracted afterwards. It is a separate module so that engines
 * without relaxed SIMD still validate the main one.
 */

// ---------- tiny assembler ----------

const I32 = 0x7f;
const F32 = 0x7d;
const V128 = 0x7b;

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
class Body {
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

function assemble(funcs: FuncDef[]): Uint8Array<ArrayBuffer> {
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

// ---------- kernels ----------

/** Row stride (bytes) must be a multiple of this: the inner loop handles 64 dimensions per step. */
export const STRIDE_ALIGN = 64;

/**
 * Rows are stored in blocks of 4, interleaved by 64-byte chunk: [r0 c0][r1 c0][r2 c0][r3 c0]
 * [r0 c1]… The kernel scores 4 rows at once, so a scan then reads one sequential stream
 * instead of 4 streams a stride apart; at 100k × 1024 (beyond L3) that measured 4.1 vs
 * 6.1 ms per query on the target EPYC (the hardware prefetcher likes one stream).
 */
export const ROW_BLOCK = 4;
export const CHUNK = 64;

type Mode = 'scan' | 'gather';

/**
 * Emits `scan(q, codes, stride, count, scales, out, qs)` or
 * `gather(q, codes, stride, idx, count, scales, out, qs)` (relaxed: an extra `sums` pointer).
 *
 * scan:   out[j] = f32(dot(q, row j)) · scales[j] · qs         for j < count, rows from `codes`
 * gather: out[j] = f32(dot(q, row idx[j])) · scales[idx[j]] · qs
 * `count` must be a multiple of 4 (the caller pads), `stride` a multiple of 64.
 * The relaxed form subtracts 64·sums[row] first (see module comment).
 */
function kernel(mode: Mode, relaxed: boolean): Body {
  // scan:   (q, codes, stride,      count, scales, [sums,] out, qs)
  // gather: (q, codes, stride, idx, count, scales, [sums,] out, qs)
  const params = [I32, I32, I32];
  const P_Q = 0;
  const P_CODES = 1;
  const P_STRIDE = 2;
  const P_IDX = mode === 'gather' ? params.push(I32) - 1 : -1;
  const P_COUNT = params.push(I32) - 1;
  const P_SCALES = params.push(I32) - 1;
  const P_SUMS = relaxed ? params.push(I32) - 1 : -1;
  const P_OUT = params.push(I32) - 1;
  const P_QS = params.push(F32) - 1;
  const f = new Body(params);

  const j = f.local(I32); // row slot 0..count
  const qp = f.local(I32);
  const qEnd = f.local(I32);
  const p = [f.local(I32), f.local(I32), f.local(I32), f.local(I32)];
  const row = [f.local(I32), f.local(I32), f.local(I32), f.local(I32)];
  const acc = [f.local(V128), f.local(V128), f.local(V128), f.local(V128)];
  const qv = relaxed ? [f.local(V128), f.local(V128), f.local(V128), f.local(V128)] : [
    f.local(V128), f.local(V128), f.local(V128), f.local(V128),
    f.local(V128), f.local(V128), f.local(V128), f.local(V128),
  ];
  const qBytesPerDim = relaxed ? 1 : 2;

  // qEnd = q + stride * qBytesPerDim
  f.get(P_Q).get(P_STRIDE);
  if (!relaxed) f.i32(1).shl();
  f.add().set(qEnd);

  f.i32(0).set(j);
  f.block().loop();
  {
    f.get(j).get(P_COUNT).geU().brIf(1);
    // Row numbers and row pointers for this group of 4.
    for (let r = 0; r < 4; r++) {
      if (mode === 'scan') {
        f.get(j).i32(r).add().set(row[r]);
      } else {
        f.get(P_IDX).get(j).i32(4).mul().add().i32load(4 * r).set(row[r]);
      }
      // Blocked layout (see ROW_BLOCK): row r's 64-byte chunk c sits at
      // codes + (r>>2)·4·stride + c·256 + (r&3)·64.
      if (mode === 'scan') {
        f.get(P_CODES).get(j).get(P_STRIDE).mul().add().i32(64 * r).add().set(p[r]);
      } else {
        f.get(P_CODES).get(row[r]).i32(2).shrU().get(P_STRIDE).mul().i32(2).shl().add();
        f.get(row[r]).i32(3).and().i32(6).shl().add().set(p[r]);
      }
      f.v128zero().set(acc[r]);
    }
    f.get(P_Q).set(qp);
    f.loop();
    {
      if (relaxed) {
        for (let u = 0; u < 4; u++) f.get(qp).v128load(16 * u).set(qv[u]);
        for (let u = 0; u < 4; u++) {
          for (let r = 0; r < 4; r++) {
            // acc += Σ4 doc_i8 · (q+64)_u7
            f.get(p[r]).v128load(16 * u).get(qv[u]).get(acc[r]).relaxedDotAdd().set(acc[r]);
          }
        }
      } else {
        for (let u = 0; u < 8; u++) f.get(qp).v128load(16 * u).set(qv[u]);
        for (let u = 0; u < 8; u++) {
          for (let r = 0; r < 4; r++) {
            // acc += pairwise(doc_i16 · q_i16), 8 dims
            f.get(acc[r]).get(p[r]).load8x8s(8 * u).get(qv[u]).i32x4dotI16().i32x4add().set(acc[r]);
          }
        }
      }
      for (let r = 0; r < 4; r++) f.get(p[r]).i32(256).add().set(p[r]);
      f.get(qp).i32(64 * qBytesPerDim).add().set(qp);
      f.get(qp).get(qEnd).ltU().brIf(0);
    }
    f.end();
    for (let r = 0; r < 4; r++) {
      // out[j + r] = f32(hsum(acc) [- 64·sums[row]]) · scales[row] · qs
      f.get(P_OUT).get(j).i32(4).mul().add();
      f.get(acc[r]).i32x4extract(0).get(acc[r]).i32x4extract(1).add();
      f.get(acc[r]).i32x4extract(2).add().get(acc[r]).i32x4extract(3).add();
      if (relaxed) f.get(P_SUMS).get(row[r]).i32(4).mul().add().i32load().i32(6).shl().i32sub();
      f.f32fromI32();
      f.get(P_SCALES).get(row[r]).i32(4).mul().add().f32load().f32mul();
      f.get(P_QS).f32mul();
      f.f32store(4 * r);
    }
    f.get(j).i32(4).add().set(j);
    f.br(0);
  }
  f.end().end();
  return f;
}


/**
 * `dots(q, nq, dims, codes, count, out)`: the integer dot product of every one of `count` int8
 * rows (row-major, `dims` bytes apart, from `codes`) with every one of `nq` int16 query rows
 * (row-major, from `q`), written as i32 to out[row·nq + i]. `nq` must be a multiple of 4 (pad with
 * zero rows) and `dims` a multiple of 8. Each document load feeds 4 query rows (ColBERT MaxSim:
 * 8–32 query vectors against a document's 16–512 vectors).
 */
function dotsKernel(): Body {
  const P_Q = 0, P_NQ = 1, P_DIMS = 2, P_CODES = 3, P_COUNT = 4, P_OUT = 5;
  const f = new Body([I32, I32, I32, I32, I32, I32]);
  const j = f.local(I32);
  const g = f.local(I32);
  const d = f.local(I32);
  const rowP = f.local(I32);
  const qg = f.local(I32); // first query row of this group of 4
  const qs = f.local(I32); // bytes per query row
  const qp = f.local(I32); // qg + 2d
  const o = f.local(I32);
  const dv = f.local(V128);
  const acc = [f.local(V128), f.local(V128), f.local(V128), f.local(V128)];

  f.get(P_DIMS).i32(1).shl().set(qs);
  f.get(P_OUT).set(o);
  f.get(P_CODES).set(rowP);
  f.i32(0).set(j);
  f.block().loop();
  {
    f.get(j).get(P_COUNT).geU().brIf(1);
    f.i32(0).set(g);
    f.get(P_Q).set(qg);
    f.block().loop();
    {
      f.get(g).get(P_NQ).geU().brIf(1);
      for (let r = 0; r < 4; r++) f.v128zero().set(acc[r]);
      f.i32(0).set(d);
      f.loop();
      {
        f.get(rowP).get(d).add().load8x8s().set(dv);
        f.get(qg).get(d).i32(1).shl().add().set(qp);
        for (let r = 0; r < 4; r++) {
          f.get(acc[r]).get(dv).get(qp).v128load().i32x4dotI16().i32x4add().set(acc[r]);
          if (r < 3) f.get(qp).get(qs).add().set(qp);
        }
        f.get(d).i32(8).add().set(d);
        f.get(d).get(P_DIMS).ltU().brIf(0);
      }
      f.end();
      for (let r = 0; r < 4; r++) {
        f.get(o);
        f.get(acc[r]).i32x4extract(0).get(acc[r]).i32x4extract(1).add();
        f.get(acc[r]).i32x4extract(2).add().get(acc[r]).i32x4extract(3).add();
        f.i32store(4 * r);
      }
      f.get(o).i32(16).add().set(o);
      f.get(qg).get(qs).i32(2).shl().add().set(qg);
      f.get(g).i32(4).add().set(g);
      f.br(0);
    }
    f.end().end();
    f.get(rowP).get(P_DIMS).add().set(rowP);
    f.get(j).i32(1).add().set(j);
    f.br(0);
  }
  f.end().end();
  return f;
}

/**
 * Sign-bit first stage (see DenseMatrix.search, firstStage 'binary'): documents are kept as 1 bit per
 * dimension (the sign of their int8 code, 128 B at d = 1024) and scored *asymmetrically* against the
 * full-precision query: Σ_{i: d_i < 0} −q_i, which ranks like q · sign(d). On m3-bench-v1 (20k docs,
 * exact top-10 in the first C candidates) that needs 1,000 candidates for recall 0.99 where Hamming
 * distance between sign vectors needs over 4,000 (0.98): the query keeps its magnitudes.
 *
 * `signScan(lut, bits, bytes, blocks, out)`: the "fast scan" layout and kernel. Rows are stored in
 * blocks of 16, transposed by byte: block b's byte j is 16 consecutive bytes (rows 16b..16b+15), so
 * one v128 holds the same byte of 16 rows. Each byte is two nibbles (dims 8j..8j+3 and 8j+4..8j+7);
 * the query becomes one 16-entry table per nibble (lut + 32j: low nibble, + 32j + 16: high nibble) of
 * its partial sums quantised to 0..127, and `i8x16.swizzle` looks up 16 rows' nibbles at once. Per
 * block the u8 sums (≤ 254) widen into two i16x8 accumulators that wrap mod 2^16, so out gets one u16
 * per row exactly when 2 · bytes · max(lut) ≤ 65,535 (the caller scales the tables to fit).
 * `bytes` must be a multiple of 4. No popcount: on x64 `i8x16.popcnt` is itself a pshufb sequence.
 */
function signScanKernel(): Body {
  const P_LUT = 0, P_BITS = 1, P_BYTES = 2, P_BLOCKS = 3, P_OUT = 4;
  const f = new Body([I32, I32, I32, I32, I32]);
  const bp = f.local(I32);
  const end = f.local(I32);
  const p = f.local(I32);
  const je = f.local(I32);
  const lp = f.local(I32);
  const op = f.local(I32);
  const mask = f.local(V128);
  const accLo = f.local(V128);
  const accHi = f.local(V128);
  const v = f.local(V128);
  const r = f.local(V128);

  f.i32(0x0f).i8x16splat().set(mask);
  f.get(P_BITS).set(bp);
  f.get(P_OUT).set(op);
  f.get(P_BITS).get(P_BLOCKS).get(P_BYTES).mul().i32(4).shl().add().set(end);
  f.block().loop();
  {
    f.get(bp).get(end).geU().brIf(1);
    f.v128zero().set(accLo);
    f.v128zero().set(accHi);
    f.get(bp).set(p);
    f.get(P_LUT).set(lp);
    f.get(bp).get(P_BYTES).i32(4).shl().add().set(je);
    f.loop();
    {
      for (let u = 0; u < 4; u++) {
        f.get(p).v128load(16 * u).set(v);
        f.get(lp).v128load(32 * u).get(v).get(mask).v128and().i8x16swizzle();
        f.get(lp).v128load(32 * u + 16).get(v).i32(4).i8x16shrU().i8x16swizzle();
        f.i8x16add().set(r);
        f.get(accLo).get(r).i16x8extendLowU8().i16x8add().set(accLo);
        f.get(accHi).get(r).i16x8extendHighU8().i16x8add().set(accHi);
      }
      f.get(p).i32(64).add().set(p);
      f.get(lp).i32(128).add().set(lp);
      f.get(p).get(je).ltU().brIf(0);
    }
    f.end();
    f.get(op).get(accLo).v128store();
    f.get(op).get(accHi).v128store(16);
    f.get(op).i32(32).add().set(op);
    f.get(je).set(bp);
    f.br(0);
  }
  f.end().end();
  return f;
}

let signBytes: Uint8Array<ArrayBuffer> | null = null;
let signModule: WebAssembly.Module | null = null;
let signOk: boolean | undefined;

/** The module behind `instantiateSignScan` (imports `env.mem`, exports `signScan`). */
export function signScanModuleBytes(): Uint8Array<ArrayBuffer> {
  signBytes ??= assemble([{ name: 'signScan', body: signScanKernel(), results: [] }]);
  return signBytes;
}

export interface SignScanKernel {
  /** (lut, bits, bytes, blocks, out): see signScanKernel. */
  signScan: (lut: number, bits: number, bytes: number, blocks: number, out: number) => void;
}

export function instantiateSignScan(memory: WebAssembly.Memory): SignScanKernel {
  signModule ??= new WebAssembly.Module(signScanModuleBytes());
  return new WebAssembly.Instance(signModule, { env: { mem: memory } }).exports as unknown as SignScanKernel;
}

/** Whether the sign-scan kernel validates and gives a known answer here (cached). */
export function signScanSupported(): boolean {
  if (signOk === undefined) {
    try {
      signOk = typeof WebAssembly === 'object' && WebAssembly.validate(signScanModuleBytes()) && signScanKnownAnswer();
    } catch {
      signOk = false;
    }
  }
  return signOk;
}

/** The kernel's sum for one row, in plain JS (the reference and the fallback). */
export function signScanRow(lut: Uint8Array, lutOff: number, bits: Uint8Array, blockOff: number, lane: number, bytes: number): number {
  let s = 0;
  for (let j = 0, l = lutOff, b = blockOff + lane; j < bytes; j++, l += 32, b += 16) {
    const x = bits[b];
    s += lut[l + (x & 15)] + lut[l + 16 + (x >> 4)];
  }
  return s;
}

function signScanKnownAnswer(): boolean {
  const memory = new WebAssembly.Memory({ initial: 1 });
  const k = instantiateSignScan(memory);
  const bytes = 8, blocks = 2;
  const LUT = 0, BITS = 1024, OUT = 2048;
  const u8 = new Uint8Array(memory.buffer);
  const u16 = new Uint16Array(memory.buffer);
  for (let i = 0; i < 32 * bytes; i++) u8[LUT + i] = (i * 37 + 11) % 128;
  for (let i = 0; i < blocks * 16 * bytes; i++) u8[BITS + i] = (i * 101 + 7) % 256;
  k.signScan(LUT, BITS, bytes, blocks, OUT);
  for (let b = 0; b < blocks; b++) {
    for (let lane = 0; lane < 16; lane++) {
      if (u16[OUT / 2 + b * 16 + lane] !== signScanRow(u8, LUT, u8, BITS + b * 16 * bytes, lane, bytes)) return false;
    }
  }
  return true;
}

let dotsBytes: Uint8Array<ArrayBuffer> | null = null;
let dotsModule: WebAssembly.Module | null = null;
let dotsOk: boolean | undefined;

/** The module behind `instantiateDots` (imports `env.mem`, exports `dots`). */
export function dotsModuleBytes(): Uint8Array<ArrayBuffer> {
  dotsBytes ??= assemble([{ name: 'dots', body: dotsKernel(), results: [] }]);
  return dotsBytes;
}

export interface DotsKernel {
  /** (q, nq, dims, codes, count, out): see dotsKernel. */
  dots: (q: number, nq: number, dims: number, codes: number, count: number, out: number) => void;
}

/** Whether the dots kernel validates and gives a known answer here (cached). */
export function dotsKernelSupported(): boolean {
  if (dotsOk === undefined) {
    try {
      dotsOk = typeof WebAssembly === 'object' && WebAssembly.validate(dotsModuleBytes()) && dotsKnownAnswer();
    } catch {
      dotsOk = false;
    }
  }
  return dotsOk;
}

export function instantiateDots(memory: WebAssembly.Memory): DotsKernel {
  dotsModule ??= new WebAssembly.Module(dotsModuleBytes());
  return new WebAssembly.Instance(dotsModule, { env: { mem: memory } }).exports as unknown as DotsKernel;
}

function dotsKnownAnswer(): boolean {
  const memory = new WebAssembly.Memory({ initial: 1 });
  const k = instantiateDots(memory);
  const dims = 24, nq = 4, rows = 3;
  const Q = 0, CODES = 512, OUT = 1024;
  const i8 = new Int8Array(memory.buffer);
  const i16 = new Int16Array(memory.buffer);
  const i32 = new Int32Array(memory.buffer);
  for (let i = 0; i < nq * dims; i++) i16[Q / 2 + i] = ((i * 7919) % 32767) - 16383;
  for (let i = 0; i < rows * dims; i++) i8[CODES + i] = ((i * 31) % 256) - 128;
  k.dots(Q, nq, dims, CODES, rows, OUT);
  for (let r = 0; r < rows; r++) {
    for (let q = 0; q < nq; q++) {
      let dot = 0;
      for (let x = 0; x < dims; x++) dot += i8[CODES + r * dims + x] * i16[Q / 2 + q * dims + x];
      if (i32[OUT / 4 + r * nq + q] !== dot) return false;
    }
  }
  return true;
}

// ---------- module building / feature detection ----------

const cache = new Map<boolean, Uint8Array<ArrayBuffer>>();

/** The module bytes: exports `scan` and `gather` (relaxed: the i7 forms), imports `env.mem`. */
export function kernelModuleBytes(relaxed: boolean): Uint8Array<ArrayBuffer> {
  let bytes = cache.get(relaxed);
  if (!bytes) {
    bytes = assemble([
      { name: 'scan', body: kernel('scan', relaxed), results: [] },
      { name: 'gather', body: kernel('gather', relaxed), results: [] },
    ]);
    cache.set(relaxed, bytes);
  }
  return bytes;
}

const support = new Map<boolean, boolean>();

/**
 * Whether this engine validates the (relaxed) SIMD kernel module *and* it computes a known
 * answer (4 rows × 64 dims, both signs). The run matters for relaxed SIMD: V8 11.3 (Node 20)
 * behind --experimental-wasm-relaxed-simd validates the opcode but returns 2× the dot product.
 * Cached.
 */
export function wasmKernelSupported(relaxed = false): boolean {
  let ok = support.get(relaxed);
  if (ok === undefined) {
    try {
      ok = typeof WebAssembly === 'object' && WebAssembly.validate(kernelModuleBytes(relaxed)) && knownAnswer(relaxed);
    } catch {
      ok = false;
    }
    support.set(relaxed, ok);
  }
  return ok;
}

function knownAnswer(relaxed: boolean): boolean {
  const memory = new WebAssembly.Memory({ initial: 1 });
  const k = instantiateKernels(memory, relaxed);
  const dim = 64;
  const Q = 0, CODES = 256, SCALES = 1024, SUMS = 1040, OUT = 1056, IDX = 1088;
  const i8 = new Int8Array(memory.buffer);
  const u8 = new Uint8Array(memory.buffer);
  const i16 = new Int16Array(memory.buffer);
  const i32 = new Int32Array(memory.buffer);
  const f32 = new Float32Array(memory.buffer);
  const q: number[] = [];
  for (let i = 0; i < dim; i++) q.push(relaxed ? ((i * 37) % 127) - 63 : ((i * 9973) % 32767) - 16383);
  for (let i = 0; i < dim; i++) {
    if (relaxed) u8[Q + i] = q[i] + 64;
    else i16[Q / 2 + i] = q[i];
  }
  const want: number[] = [];
  for (let r = 0; r < 4; r++) {
    let dot = 0;
    let sum = 0;
    for (let i = 0; i < dim; i++) {
      const c = (((i + 1) * (r + 3) * 29) % 255) - 127;
      i8[CODES + ((i >> 6) << 8) + r * 64 + (i & 63)] = c; // blocked layout, dim = one chunk
      dot += c * q[i];
      sum += c;
    }
    f32[SCALES / 4 + r] = 1;
    i32[SUMS / 4 + r] = sum;
    i32[IDX / 4 + r] = 3 - r;
    want.push(Math.fround(dot));
  }
  if (relaxed) k.scan(Q, CODES, dim, 4, SCALES, SUMS, OUT, 1);
  else k.scan(Q, CODES, dim, 4, SCALES, OUT, 1);
  for (let r = 0; r < 4; r++) if (f32[OUT / 4 + r] !== want[r]) return false;
  if (relaxed) k.gather(Q, CODES, dim, IDX, 4, SCALES, SUMS, OUT, 1);
  else k.gather(Q, CODES, dim, IDX, 4, SCALES, OUT, 1);
  for (let r = 0; r < 4; r++) if (f32[OUT / 4 + r] !== want[3 - r]) return false;
  return true;
}

export interface WasmKernels {
  /** Non-relaxed: (q, codes, stride, count, scales, out, qs). Relaxed: (q, codes, stride, count, scales, sums, out, qs). */
  scan: (...args: number[]) => void;
  /** Non-relaxed: (q, codes, stride, idx, count, scales, out, qs). Relaxed: (q, codes, stride, idx, count, scales, sums, out, qs). */
  gather: (...args: number[]) => void;
}

const modules = new Map<boolean, WebAssembly.Module>();

/**
 * Synchronous instantiation is fine: the module is far below Chromium's 4 KiB limit for
 * main-thread synchronous compiles (checked in the tests).
 */
export function instantiateKernels(memory: WebAssembly.Memory, relaxed = false): WasmKernels {
  let mod = modules.get(relaxed);
  if (!mod) {
    mod = new WebAssembly.Module(kernelModuleBytes(relaxed));
    modules.set(relaxed, mod);
  }
  const inst = new WebAssembly.Instance(mod, { env: { mem: memory } });
  return inst.exports as unknown as WasmKernels;
}
