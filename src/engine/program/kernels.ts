/**
 * The kernels' interface, as the T-step programs (draw.ts, classifier.ts) call it and both engines implement it:
 * the fused engine's WebAssembly SIMD kernels (src/engine/fused/kernels/, loaded by src/engine/fused/wasm.ts) and
 * the WebGPU engine's dispatch recorder (src/engine/webgpu/kernels.ts). Every pointer is a byte offset into the
 * memory the runner allocates from; the window's and the attention struct's layouts are the kernels' own.
 *
 * @module
 */
import { zigguratTables } from "../../random.ts";

/** The kernels' exports: every pointer is a byte offset into the shared memory. */
export interface KernelExports {
  heapBase(): number;
  expInto(src: number, dst: number, len: number): void;
  sigmoidInto(src: number, dst: number, len: number): void;
  tanhInto(src: number, dst: number, len: number): void;
  /** src/engine/fused/kernels/noise.ts (the wasm kernels only: the WebGPU engine is given its noise). */
  noiseTablesSize?(): number;
  noise?(seed: number, start: number, count: number, out: number, tables: number): void;
  packedSize(K: number, N: number): number;
  packB(trans: number, K: number, N: number, b: number, ldb: number, dst: number): void;
  gemmPacked(
    transA: number,
    M: number,
    N: number,
    K: number,
    a: number,
    lda: number,
    packed: number,
    beta: number,
    c: number,
    ldc: number,
  ): void;
  lstmForward(n: number, H: number, gates: number, bias: number, cPrev: number, c: number, h: number): void;
  lstmBackward(
    n: number,
    H: number,
    gates: number,
    c: number,
    cPrev: number,
    dh: number,
    dc: number,
    dGates: number,
  ): void;
  windowForward(att: number, raw: number, rawStride: number): void;
  readForward(att: number, x: number, sig: number, out: number, outStride: number): void;
  readBackward(
    att: number,
    x: number,
    sig: number,
    patch: number,
    dPatch: number,
    patchStride: number,
    dc: number,
    dRaw: number,
    dRawStride: number,
  ): void;
  writeForward(att: number, w: number, wStride: number, canvas: number): void;
  writeBackward(
    att: number,
    w: number,
    wStride: number,
    dCanvas: number,
    dw: number,
    dwStride: number,
    dRaw: number,
    dRawStride: number,
  ): void;
  bernoulliForward(n: number, D: number, canvas: number, x: number, lx: number): void;
  bernoulliBackward(n: number, D: number, canvas: number, x: number, dlx: number, dc: number): void;
  posteriorForward(
    n: number,
    Z: number,
    q: number,
    eps: number,
    zOut: number,
    zStride: number,
    lz: number,
    logRatio: number,
  ): void;
  posteriorBackward(
    n: number,
    Z: number,
    q: number,
    eps: number,
    dz: number,
    dzStride: number,
    dlz: number,
    dq: number,
  ): void;
  addColumnSums(m: number, rows: number, cols: number, into: number): void;
  addInto(x: number, y: number, len: number): void;
  copyRows(dst: number, dstStride: number, src: number, srcStride: number, rows: number, cols: number): void;
  addRows(dst: number, dstStride: number, src: number, srcStride: number, rows: number, cols: number): void;
  readWholeForward(n: number, D: number, x: number, sig: number, out: number, outStride: number): void;
  readWholeBackward(n: number, D: number, sig: number, dOut: number, outStride: number, dc: number): void;
  zero(x: number, len: number): void;
}

/** The window's fields, 5 floats per image, in the kernels' order (src/engine/fused/kernels/window.ts). */
export const WINDOW = { gX: 0, gY: 1, sigma2: 2, delta: 3, gamma: 4, size: 5 } as const;

/** What a runner works with on one thread: the arena, this thread's kernels, the products. */
export interface EngineContext {
  arena: Allocator;
  kernels: KernelExports;
  products: (work: number, workFloats: number) => Products;
  /** Whether the kernels run a batch's images in parallel (then each needs its own scratch). */
  parallelImages?: boolean;
}

/** What a runner allocates its buffers from: an {@link Arena} on wasm memory, or the WebGPU engine's heap. */
export interface Allocator {
  /** A new zeroed buffer of `floats` 32-bit values, as a byte offset (never 0). */
  alloc(floats: number): number;
  /** Bytes allocated so far. */
  readonly used: number;
  /** A Float32Array view at byte offset `ptr` (host memory only). */
  f32(ptr: number, floats: number): Float32Array;
  /** An Int32Array view at byte offset `ptr` (small structs the host writes for the kernels). */
  i32(ptr: number, words: number): Int32Array;
}

/**
 * Writes random.ts's ziggurat tables where the noise kernel reads them (KN as 32-bit integers,
 * then WN, FN and R as float64, at the byte offsets of src/engine/fused/kernels/noise.ts); returns their offset.
 */
export function noiseTables(arena: Allocator, k: KernelExports): number {
  const { KN, WN, FN, R } = zigguratTables();
  const ptr = arena.alloc(k.noiseTablesSize!());
  arena.i32(ptr, 128).set(KN);
  const f = arena.f32(ptr + 512, 2 * 257), f64 = new Float64Array(f.buffer, f.byteOffset, 257);
  f64.set(WN);
  f64.set(FN, 128);
  f64[256] = R;
  return ptr;
}

/** The geometry of one attention (a read or a write) for a batch: src/engine/fused/kernels/window.ts's struct. */
export interface AttentionShape {
  /** Images. */
  n: number;
  /** Filters per axis. */
  N: number;
  /** Width, height, channels. */
  A: number;
  B: number;
  C: number;
}

/** The struct's words, in the kernels' field order. */
export const ATT = { n: 0, N: 1, A: 2, B: 3, C: 4, win: 5, F: 6, mid: 7, scratch: 8, size: 9 } as const;

/**
 * The host's side of src/engine/fused/kernels/window.ts's `Attention`: the struct in memory, its scratch, and
 * per-step buffers set with {@link at}.
 */
export class AttentionStruct {
  /** The struct's byte offset, for the kernels. */
  readonly ptr: number;
  private readonly words: Int32Array;

  /**
   * Writes the struct for `shape` into `arena`, with scratch for `copies` images at once (1 where
   * one thread walks the images in turn; the batch where the WebGPU engine runs them in parallel).
   */
  constructor(arena: Allocator, readonly shape: AttentionShape, copies = 1) {
    const { N, A, B, C } = shape, D = A * B * C;
    this.ptr = arena.alloc(ATT.size);
    const scratch = arena.alloc(copies * (2 * D + 2 * N * 2 * C * A + N * (A + B)));
    this.words = arena.i32(this.ptr, ATT.size);
    for (const k of ["n", "N", "A", "B", "C"] as const) this.words[ATT[k]] = shape[k];
    this.words[ATT.scratch] = scratch;
  }

  /** Points the struct at one step's windows, filterbanks and kept products; returns its offset. */
  at(win: number, F: number, mid: number): number {
    this.words[ATT.win] = win;
    this.words[ATT.F] = F;
    this.words[ATT.mid] = mid;
    return this.ptr;
  }

  /** Floats per image of the filterbanks (F_X then F_Y). */
  get bank(): number {
    return this.shape.N * (this.shape.A + this.shape.B);
  }
}

/** A matrix used as op(B) in many products (a weight, for T steps): packed once per pass. */
export interface Operand {
  /** op(B) is K × N; B itself is [K, N], or [N, K] when trans; row stride ld. */
  K: number;
  N: number;
  trans: boolean;
  ptr: number;
  ld: number;
  /** Where the wasm kernels keep its packed panels (packedSize(K, N) floats). */
  packed: number;
}

/** Matrix products on an arena's memory. */
export interface Products {
  /** Where the products run, for the log: "wasm SIMD" or the CBLAS library's path. */
  readonly where: string;
  /** C [M, N] = op(A)·op(B) (+ C when beta): pointers into the arena's memory. */
  gemm(
    tA: boolean,
    tB: boolean,
    M: number,
    N: number,
    K: number,
    a: number,
    lda: number,
    b: number,
    ldb: number,
    beta: 0 | 1,
    c: number,
    ldc: number,
  ): void;
  /** Prepares an operand for {@link gemmWith} (after its values change). */
  pack(b: Operand): void;
  /** C [M, b.N] = op(A)·op(b) (+ C when beta). */
  gemmWith(tA: boolean, M: number, a: number, lda: number, b: Operand, beta: 0 | 1, c: number, ldc: number): void;
}

/** A matrix operand of a product: its first value's byte offset, its row stride in floats, and whether it is read transposed. */
export interface Matrix {
  /** Byte offset of element [0, 0]. */
  readonly ptr: number;
  /** Row stride, in floats (its width, unless it is a view into a wider matrix). */
  readonly ld: number;
  /** Whether the product reads it transposed (op(X) = Xᵀ). */
  readonly t: boolean;
}

/** `ptr` as a row-major matrix with row stride `ld`. */
export function mat(ptr: number, ld: number): Matrix {
  return { ptr, ld, t: false };
}

/** `ptr` as a row-major matrix with row stride `ld`, read transposed. */
export function matT(ptr: number, ld: number): Matrix {
  return { ptr, ld, t: true };
}

/**
 * C = op(A)·op(B), or C += op(A)·op(B) where `beta` is 1, with op(A) M × K, op(B) K × N and C M × N (`dims` is
 * [M, N, K]): {@link Products.gemm}'s twelve numbers as three operands, so that a call reads like its equation.
 */
export function product(
  p: Products,
  [M, N, K]: readonly [number, number, number],
  a: Matrix,
  b: Matrix,
  c: Matrix,
  beta: 0 | 1,
): void {
  p.gemm(a.t, b.t, M, N, K, a.ptr, a.ld, b.ptr, b.ld, beta, c.ptr, c.ld);
}

/**
 * C = op(A)·B, or C += op(A)·B where `beta` is 1, with B a weight prepared once per pass ({@link Operand}: op(B)
 * K × N, packed) and op(A) M × K: {@link Products.gemmWith} as operands, so that a call reads like its equation.
 */
export function productWith(p: Products, M: number, a: Matrix, b: Operand, c: Matrix, beta: 0 | 1): void {
  p.gemmWith(a.t, M, a.ptr, a.ld, b, beta, c.ptr, c.ld);
}
