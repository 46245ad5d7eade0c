/**
 * Native BLAS for the wasm backend's matrix products, through Deno's FFI (opt-in: `--blas`).
 *
 * tfjs-wasm runs DRAW's LSTM-sized products at about 30 GFLOP/s on one core here; OpenBLAS's
 * sgemm, called from Deno, runs the same product at about 100. These kernels replace the wasm
 * backend's BatchMatMul and _FusedMatMul (plain float32 cases; anything else falls back to the
 * original kernels) and call sgemm directly on views of the wasm heap, without copies.
 *
 * @module
 */
import * as tf from "./tf.ts";
import { BLAS_CANDIDATES, openCblas } from "./engine/fused/cblas.ts";

export { BLAS_CANDIDATES };

let active: { path: string; restore: () => void } | undefined;

/** The library in use, or undefined when the wasm kernels are the originals. */
export function blasLibrary(): string | undefined {
  return active?.path;
}

type Info = tf.TensorInfo;
interface WasmBackend {
  makeOutput(shape: number[], dtype: tf.DataType): Info;
  typedArrayFromHeap(t: Info): Float32Array;
}

/**
 * Swaps in sgemm-backed matrix-product kernels for the wasm backend. Returns the library's path,
 * or undefined (with the originals kept) when no CBLAS library can be opened.
 *
 * @example
 * ```ts ignore
 * const lib = enableBlas();
 * console.log(lib ?? "no BLAS found; wasm keeps XNNPACK");
 * ```
 */
export function enableBlas(): string | undefined {
  if (active) return active.path;
  const cblas = openCblas();
  if (!cblas) return undefined;
  const { gemm, path } = cblas;
  const original = {
    BatchMatMul: tf.getKernel("BatchMatMul", "wasm"),
    _FusedMatMul: tf.getKernel("_FusedMatMul", "wasm"),
  };
  if (!original.BatchMatMul || !original._FusedMatMul) return undefined;
  const size = (s: number[]) => s.reduce((x, y) => x * y, 1);
  /** a·b (each possibly transposed) over matching batch dims, or a batch of 1 broadcast; else undefined. */
  const product = (backend: WasmBackend, a: Info, b: Info, tA: boolean, tB: boolean, bias?: Info): Info | undefined => {
    if (a.dtype !== "float32" || b.dtype !== "float32" || a.shape.length < 2 || b.shape.length < 2) return undefined;
    const [M, K] = tA ? [a.shape.at(-1)!, a.shape.at(-2)!] : [a.shape.at(-2)!, a.shape.at(-1)!];
    const [K2, N] = tB ? [b.shape.at(-1)!, b.shape.at(-2)!] : [b.shape.at(-2)!, b.shape.at(-1)!];
    const batchA = size(a.shape.slice(0, -2)), batchB = size(b.shape.slice(0, -2));
    const lead = batchA >= batchB ? a.shape.slice(0, -2) : b.shape.slice(0, -2);
    if (K !== K2 || (batchA !== batchB && batchA !== 1 && batchB !== 1)) return undefined;
    if (batchA === batchB && a.shape.slice(0, -2).join() !== b.shape.slice(0, -2).join()) return undefined;
    if (bias && (bias.dtype !== "float32" || bias.shape.length !== 1 || bias.shape[0] !== N)) return undefined;
    const out = backend.makeOutput([...lead, M, N], "float32"); // allocate before taking heap views
    const A = backend.typedArrayFromHeap(a), B = backend.typedArrayFromHeap(b), C = backend.typedArrayFromHeap(out);
    const biasV = bias ? backend.typedArrayFromHeap(bias) : undefined;
    for (let i = 0; i < Math.max(batchA, batchB); i++) {
      const ia = batchA > 1 ? i : 0, ib = batchB > 1 ? i : 0;
      const Ci = C.subarray(i * M * N, (i + 1) * M * N);
      if (biasV) { for (let r = 0; r < M; r++) Ci.set(biasV, r * N); }
      gemm(
        tA,
        tB,
        M,
        N,
        K,
        A.subarray(ia * M * K, (ia + 1) * M * K),
        tA ? M : K,
        B.subarray(ib * K * N, (ib + 1) * K * N),
        tB ? K : N,
        biasV ? 1 : 0,
        Ci,
        N,
      );
    }
    return out;
  };
  tf.unregisterKernel("BatchMatMul", "wasm");
  tf.unregisterKernel("_FusedMatMul", "wasm");
  tf.registerKernel({
    kernelName: "BatchMatMul",
    backendName: "wasm",
    // deno-lint-ignore no-explicit-any
    kernelFunc: (args: any) =>
      product(args.backend, args.inputs.a, args.inputs.b, args.attrs.transposeA, args.attrs.transposeB) ??
        original.BatchMatMul!.kernelFunc(args),
  });
  tf.registerKernel({
    kernelName: "_FusedMatMul",
    backendName: "wasm",
    // deno-lint-ignore no-explicit-any
    kernelFunc: (args: any) => {
      const { inputs, attrs } = args;
      const plain = (attrs.activation ?? "linear") === "linear" && !inputs.preluActivationWeights;
      return (plain && product(args.backend, inputs.a, inputs.b, attrs.transposeA, attrs.transposeB, inputs.bias)) ||
        original._FusedMatMul!.kernelFunc(args);
    },
  });
  active = {
    path,
    restore: () => {
      tf.unregisterKernel("BatchMatMul", "wasm");
      tf.unregisterKernel("_FusedMatMul", "wasm");
      tf.registerKernel(original.BatchMatMul!);
      tf.registerKernel(original._FusedMatMul!);
    },
  };
  return path;
}

/** Puts the wasm backend's own matrix-product kernels back. */
export function disableBlas(): void {
  active?.restore();
  active = undefined;
}
