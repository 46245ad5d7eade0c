/**
 * One thread's {@link EngineContext}: its instance of the kernels on the arena's memory, and its
 * products (a CBLAS library's where one was opened, else the kernels').
 *
 * @module
 */
import type { Gemm } from "./cblas.ts";
import type { EngineContext } from "../program/kernels.ts";
import { type Arena, instantiate } from "./wasm.ts";
import { cblasProducts, wasmProducts } from "./products.ts";

/** An opened CBLAS sgemm and where it came from (the Deno adapter cblas.ts opens one). */
export interface Blas {
  gemm: Gemm;
  path: string;
}

/** The context of one thread on `arena`. */
export function engineContext(module: WebAssembly.Module, arena: Arena, blas?: Blas): EngineContext {
  const kernels = instantiate(module, arena.memory);
  return {
    arena,
    kernels,
    products: (work, floats) => blas ? cblasProducts(arena, blas.gemm, blas.path) : wasmProducts(kernels, work, floats),
  };
}
