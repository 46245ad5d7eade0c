/**
 * Single-precision matrix products on plain Float32Arrays: native CBLAS (OpenBLAS) through Deno's
 * FFI where a library can be opened, and a plain TypeScript loop everywhere else.
 *
 * Used by the fused engine (products.ts) and by the `--blas` kernels for tfjs-wasm (tfjs_wasm_blas.ts).
 *
 * @module
 */

/**
 * C = op(A)·op(B) + beta·C, row-major, where op transposes when its flag is set. A, B and C are
 * views starting at the matrix's first element; lda, ldb, ldc are row strides.
 */
export type Gemm = (
  transA: boolean,
  transB: boolean,
  M: number,
  N: number,
  K: number,
  A: Float32Array,
  lda: number,
  B: Float32Array,
  ldb: number,
  beta: 0 | 1,
  C: Float32Array,
  ldc: number,
) => void;

/** Where OpenBLAS (or another CBLAS) is looked for; $DRAW_BLAS_LIB comes first. */
export const BLAS_CANDIDATES: readonly string[] = [
  "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0",
  "/usr/lib/x86_64-linux-gnu/libopenblas.so.0",
  "/usr/lib/aarch64-linux-gnu/openblas-pthread/libopenblas.so.0",
  "/usr/lib/aarch64-linux-gnu/libopenblas.so.0",
  "libopenblas.so.0",
  "libopenblas.so",
  "libopenblas.dylib",
  "/opt/homebrew/opt/openblas/lib/libopenblas.dylib", // Homebrew's keg-only openblas
  "/usr/local/opt/openblas/lib/libopenblas.dylib",
];

const SYMBOLS = {
  cblas_sgemm: {
    parameters: [
      "i32",
      "i32",
      "i32",
      "i32",
      "i32",
      "i32",
      "f32",
      "buffer",
      "i32",
      "buffer",
      "i32",
      "f32",
      "buffer",
      "i32",
    ],
    result: "void",
  },
  openblas_set_num_threads: { parameters: ["i32"], result: "void", optional: true },
  openblas_get_num_threads: { parameters: [], result: "i32", optional: true },
} as const;

const ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112;

/** An opened CBLAS library. */
export interface Cblas {
  /** The path it was opened from. */
  path: string;
  /** Its sgemm, as a {@link Gemm}. */
  gemm: Gemm;
  /** The threads it uses per product, as OpenBLAS reports it (1 for other CBLAS libraries). */
  threads: number;
}

/**
 * Throws a RangeError when a product would read or write past the end of A, B or C (a plain
 * TypeScript loop would silently drop such writes; native code would corrupt memory).
 */
export function checkBounds(...[tA, tB, M, N, K, A, lda, B, ldb, , C, ldc]: Parameters<Gemm>): void {
  const need = (rows: number, cols: number, ld: number) => rows === 0 || cols === 0 ? 0 : (rows - 1) * ld + cols;
  const [ar, ac] = tA ? [K, M] : [M, K], [br, bc] = tB ? [N, K] : [K, N];
  const bad = (what: string, len: number, rows: number, cols: number, ld: number) =>
    ld < cols || len < need(rows, cols, ld)
      ? `${what} holds ${len} values with row stride ${ld}, but the product needs ${rows}×${cols}`
      : "";
  const why = bad("A", A.length, ar, ac, lda) || bad("B", B.length, br, bc, ldb) || bad("C", C.length, M, N, ldc);
  if (why) throw new RangeError(`Cannot multiply ${tA ? "Aᵀ" : "A"}·${tB ? "Bᵀ" : "B"} (${M}×${K}·${K}×${N}): ${why}`);
}

let opened: Cblas | null | undefined;

/**
 * Opens the first CBLAS library found ($DRAW_BLAS_LIB, then {@link BLAS_CANDIDATES}), once per
 * process; undefined when there is none or FFI is not permitted (run with -A or --allow-ffi).
 *
 * OpenBLAS is opened single-threaded (OPENBLAS_NUM_THREADS=1 before loading, and
 * openblas_set_num_threads(1) after): the fused engine splits a batch over its own worker threads
 * instead (fused_pool.ts). Besides, OpenBLAS 0.3.21's pthread build (Debian 12's) can corrupt the
 * heap while it joins its own server threads at process exit ("double free or corruption" after
 * a clean run, seen here in about half of the spec runs); with one thread it starts none.
 */
export function openCblas(): Cblas | undefined {
  if (opened !== undefined) return opened ?? undefined;
  opened = null;
  let env: string | undefined;
  try {
    env = Deno.env.get("DRAW_BLAS_LIB");
  } catch {
    env = undefined; // no --allow-env: use the standard places
  }
  if (env === "none") return undefined;
  try {
    // read by OpenBLAS when it loads; set once (the workers that open it again find it set: setenv
    // while other threads read the environment is not safe in C)
    if (Deno.env.get("OPENBLAS_NUM_THREADS") !== "1") Deno.env.set("OPENBLAS_NUM_THREADS", "1");
  } catch {
    // no --allow-env: openblas_set_num_threads(1) below still keeps products on the calling thread
  }
  for (const candidate of [env, ...BLAS_CANDIDATES].filter(Boolean) as string[]) {
    let lib: Deno.DynamicLibrary<typeof SYMBOLS>;
    try {
      lib = Deno.dlopen(candidate, SYMBOLS);
    } catch {
      continue; // not there, or no --allow-ffi
    }
    const sgemm = lib.symbols.cblas_sgemm;
    const gemm: Gemm = (tA, tB, M, N, K, A, lda, B, ldb, beta, C, ldc) => {
      if (M === 0 || N === 0) return;
      checkBounds(tA, tB, M, N, K, A, lda, B, ldb, beta, C, ldc); // native code must never write out of bounds
      if (K === 0) {
        if (beta === 0) { for (let i = 0; i < M; i++) C.fill(0, i * ldc, i * ldc + N); }
        return;
      }
      sgemm(ROW_MAJOR, tA ? TRANS : NO_TRANS, tB ? TRANS : NO_TRANS, M, N, K, 1, A, lda, B, ldb, beta, C, ldc);
    };
    lib.symbols.openblas_set_num_threads?.(1);
    opened = { path: candidate, gemm, threads: lib.symbols.openblas_get_num_threads?.() ?? 1 };
    return opened;
  }
  return undefined;
}

/**
 * The same product in plain TypeScript: exact to float32 rounding, about 1 GFLOP/s. The reference
 * for the native one in the spec, and the fallback where no CBLAS library exists.
 */
export const jsGemm: Gemm = (tA, tB, M, N, K, A, lda, B, ldb, beta, C, ldc) => {
  if (M > 0 && N > 0) checkBounds(tA, tB, M, N, K, A, lda, B, ldb, beta, C, ldc);
  for (let i = 0; i < M; i++) {
    const row = i * ldc;
    if (beta === 0) C.fill(0, row, row + N);
    for (let k = 0; k < K; k++) {
      const a = tA ? A[k * lda + i] : A[i * lda + k];
      if (a === 0) continue;
      if (tB) {
        for (let j = 0; j < N; j++) C[row + j] += a * B[j * ldb + k];
      } else {
        const bo = k * ldb;
        for (let j = 0; j < N; j++) C[row + j] += a * B[bo + j];
      }
    }
  }
};
