/**
 * The fused engine's matrix products, on byte offsets into the engine's memory: the wasm SIMD
 * kernels everywhere, or a CBLAS library (OpenBLAS, opened by the Deno adapter cblas.ts) where one
 * is found, called on the same memory. Both compute C = op(A)·op(B) (+ C), row-major.
 *
 * @module
 */
import type { Arena, KernelExports } from "./wasm.ts";
import type { Gemm } from "./cblas.ts";

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

/**
 * The wasm kernels' products; `work` is a buffer of `workFloats` floats for packing op(B) of the
 * one-off products.
 */
export function wasmProducts(k: KernelExports, work: number, workFloats: number): Products {
  return {
    where: "wasm SIMD",
    gemm(tA, tB, M, N, K, a, lda, b, ldb, beta, c, ldc) {
      if (M <= 0 || N <= 0) return;
      if (k.packedSize(K, N) > workFloats) {
        throw new RangeError(`Cannot multiply as op(B) (${K}×${N}) is larger than the work buffer (${workFloats})`);
      }
      k.packB(+tB, K, N, b, ldb, work);
      k.gemmPacked(+tA, M, N, K, a, lda, work, beta, c, ldc);
    },
    pack(b) {
      k.packB(+b.trans, b.K, b.N, b.ptr, b.ld, b.packed);
    },
    gemmWith(tA, M, a, lda, b, beta, c, ldc) {
      if (M > 0 && b.N > 0) k.gemmPacked(+tA, M, b.N, b.K, a, lda, b.packed, beta, c, ldc);
    },
  };
}

/** A CBLAS sgemm's products on the arena's memory (views made per call; no copies). */
export function cblasProducts(arena: Arena, sgemm: Gemm, path: string): Products {
  const view = (ptr: number) => {
    const buffer = arena.memory.buffer;
    return new Float32Array(buffer, ptr, (buffer.byteLength - ptr) >> 2);
  };
  const gemm: Products["gemm"] = (tA, tB, M, N, K, a, lda, b, ldb, beta, c, ldc) =>
    sgemm(tA, tB, M, N, K, view(a), lda, view(b), ldb, beta, view(c), ldc);
  return {
    where: path,
    gemm,
    pack() {},
    gemmWith: (tA, M, a, lda, b, beta, c, ldc) => gemm(tA, b.trans, M, b.N, b.K, a, lda, b.ptr, b.ld, beta, c, ldc),
  };
}
