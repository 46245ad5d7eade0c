/**
 * The fused engine's matrix products, on byte offsets into the engine's memory: the wasm SIMD
 * kernels everywhere, or a CBLAS library (OpenBLAS, opened by the Deno adapter cblas.ts) where one
 * is found, called on the same memory. Both compute C = op(A)·op(B) (+ C), row-major.
 *
 * @module
 */
import type { Arena, KernelExports } from "./wasm.ts";
import type { Operand, Products } from "../program/kernels.ts";

export type { Operand, Products };
import type { Gemm } from "./cblas.ts";

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
