// AssemblyScript. Single-precision matrix products, C = op(A)·op(B) + beta·C, row-major, every
// transpose case. op(B) is packed into panels of 8 columns (K × 8, zero-padded), once per matrix
// when it is a weight used for T steps; a 4×8 register tile then walks op(A) by strides, so op(A)
// needs no packing in either orientation. Relaxed SIMD multiply-adds (FMA where the CPU has it).

/** Floats a packed op(B) of K rows and N columns takes: K·⌈N/8⌉·8. */
export function packedSize(K: i32, N: i32): i32 {
  return K * (((N + 7) >> 3) << 3);
}

/**
 * Packs op(B) [K, N] (B itself [K, N] with row stride ldb, or [N, K] when trans) into dst:
 * dst[(p·K + k)·8 + j] = op(B)[k, 8p + j], zero past N.
 */
export function packB(trans: bool, K: i32, N: i32, b: usize, ldb: i32, dst: usize): void {
  for (let p = 0; p < N; p += 8) {
    const cols = min(8, N - p);
    const panel = dst + (<usize> (p * K) << 2); // p·K·8/8 floats before panel p/8
    for (let k = 0; k < K; k++) {
      const row = panel + (<usize> k << 5);
      if (!trans && cols == 8) {
        const src = b + (<usize> (k * ldb + p) << 2);
        v128.store(row, v128.load(src));
        v128.store(row, v128.load(src, 16), 16);
        continue;
      }
      for (let j = 0; j < 8; j++) {
        const v: f32 = j < cols ? load<f32>(b + (<usize> (trans ? (p + j) * ldb + k : k * ldb + p + j) << 2)) : 0;
        store<f32>(row + (<usize> j << 2), v);
      }
    }
  }
}

/** Writes (or adds, when beta) lanes [0, cols) of the 8 values lo|hi to c. */
function storeRow(c: usize, lo: v128, hi: v128, cols: i32, beta: bool): void {
  if (cols == 8) {
    if (beta) {
      lo = f32x4.add(lo, v128.load(c));
      hi = f32x4.add(hi, v128.load(c, 16));
    }
    v128.store(c, lo);
    v128.store(c, hi, 16);
    return;
  }
  // a partial panel: lane by lane (lane indices must be constants; no scratch memory, which
  // every thread's instance would share)
  storeLane(c, f32x4.extract_lane(lo, 0), beta);
  if (cols > 1) storeLane(c + 4, f32x4.extract_lane(lo, 1), beta);
  if (cols > 2) storeLane(c + 8, f32x4.extract_lane(lo, 2), beta);
  if (cols > 3) storeLane(c + 12, f32x4.extract_lane(lo, 3), beta);
  if (cols > 4) storeLane(c + 16, f32x4.extract_lane(hi, 0), beta);
  if (cols > 5) storeLane(c + 20, f32x4.extract_lane(hi, 1), beta);
  if (cols > 6) storeLane(c + 24, f32x4.extract_lane(hi, 2), beta);
}

function storeLane(c: usize, v: f32, beta: bool): void {
  store<f32>(c, beta ? load<f32>(c) + v : v);
}

/**
 * C [M, N] (row stride ldc) = op(A)·op(B) (+ C when beta), op(B) packed by {@link packB}; op(A)
 * is A [M, K] with row stride lda, or A [K, M] when transA.
 */
export function gemmPacked(
  transA: bool,
  M: i32,
  N: i32,
  K: i32,
  a: usize,
  lda: i32,
  packed: usize,
  beta: bool,
  c: usize,
  ldc: i32,
): void {
  // bytes between op(A)[i, k] and op(A)[i + 1, k], and op(A)[i, k + 1]
  const rowStep: usize = transA ? 4 : <usize> lda << 2;
  const kStep: usize = transA ? <usize> lda << 2 : 4;
  for (let p = 0; p < N; p += 8) {
    const cols = min(8, N - p);
    const panel = packed + (<usize> (p * K) << 2);
    let i = 0;
    for (; i + 4 <= M; i += 4) {
      let a0 = a + <usize> i * rowStep;
      let a1 = a0 + rowStep, a2 = a1 + rowStep, a3 = a2 + rowStep;
      let pb = panel;
      let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
      let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
      for (let k = 0; k < K; k++) {
        const b0 = v128.load(pb), b1 = v128.load(pb, 16);
        const x0 = v128.load32_splat(a0), x1 = v128.load32_splat(a1);
        const x2 = v128.load32_splat(a2), x3 = v128.load32_splat(a3);
        c00 = f32x4.relaxed_madd(x0, b0, c00);
        c01 = f32x4.relaxed_madd(x0, b1, c01);
        c10 = f32x4.relaxed_madd(x1, b0, c10);
        c11 = f32x4.relaxed_madd(x1, b1, c11);
        c20 = f32x4.relaxed_madd(x2, b0, c20);
        c21 = f32x4.relaxed_madd(x2, b1, c21);
        c30 = f32x4.relaxed_madd(x3, b0, c30);
        c31 = f32x4.relaxed_madd(x3, b1, c31);
        a0 += kStep;
        a1 += kStep;
        a2 += kStep;
        a3 += kStep;
        pb += 32;
      }
      const cp = c + (<usize> (i * ldc + p) << 2), ld = <usize> ldc << 2;
      storeRow(cp, c00, c01, cols, beta);
      storeRow(cp + ld, c10, c11, cols, beta);
      storeRow(cp + 2 * ld, c20, c21, cols, beta);
      storeRow(cp + 3 * ld, c30, c31, cols, beta);
    }
    for (; i < M; i++) {
      let a0 = a + <usize> i * rowStep;
      let pb = panel;
      let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
      for (let k = 0; k < K; k++) {
        const x0 = v128.load32_splat(a0);
        c00 = f32x4.relaxed_madd(x0, v128.load(pb), c00);
        c01 = f32x4.relaxed_madd(x0, v128.load(pb, 16), c01);
        a0 += kStep;
        pb += 32;
      }
      storeRow(c + (<usize> (i * ldc + p) << 2), c00, c01, cols, beta);
    }
  }
}

/** C = op(A)·op(B) (+ C when beta), packing op(B) into `work` (packedSize(K, N) floats) first. */
export function gemm(
  transA: bool,
  transB: bool,
  M: i32,
  N: i32,
  K: i32,
  a: usize,
  lda: i32,
  b: usize,
  ldb: i32,
  beta: bool,
  c: usize,
  ldc: i32,
  work: usize,
): void {
  if (M <= 0 || N <= 0) return;
  packB(transB, K, N, b, ldb, work);
  gemmPacked(transA, M, N, K, a, lda, work, beta, c, ldc);
}
