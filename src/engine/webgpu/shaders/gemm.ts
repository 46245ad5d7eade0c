/**
 * WGSL: the matrix product C [M, N] = op(A)·op(B) (+ C when beta = 1), row-major with row strides
 * lda, ldb, ldc and either operand transposed, as src/engine/fused/kernels/gemm.ts. A workgroup of 16×16
 * threads computes a 64×64 tile of C, 4×4 per thread, from 16-deep slices of A and B staged in
 * workgroup memory (loaded along the operand's contiguous axis).
 *
 * @module
 */
import { bindings, type Shader } from "./prelude.ts";

/** Rows and columns of C per workgroup. */
export const TILE = 32;

const PARAMS = ["M", "N", "K", "a", "lda", "tA", "b", "ldb", "tB", "beta", "c", "ldc"] as const;

export const gemm: Record<string, Shader> = {
  gemm: {
    params: PARAMS,
    perGroup: 64,
    code: `${bindings(PARAMS)}
@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let i0 = g.y * 4u; let j0 = g.x * 4u;
  if (i0 >= p.M || j0 >= p.N) { return; }
  // a 4×4 block of C per thread, as four row vectors, straight from memory (no barriers)
  var c0 = vec4<f32>(0.0); var c1 = vec4<f32>(0.0); var c2 = vec4<f32>(0.0); var c3 = vec4<f32>(0.0);
  for (var k = 0u; k < p.K; k++) {
    let a = vec4<f32>(aAt(i0, k), aAt(i0 + 1u, k), aAt(i0 + 2u, k), aAt(i0 + 3u, k));
    let b = vec4<f32>(bAt(k, j0), bAt(k, j0 + 1u), bAt(k, j0 + 2u), bAt(k, j0 + 3u));
    c0 += a.x * b; c1 += a.y * b; c2 += a.z * b; c3 += a.w * b;
  }
  storeRow(i0, j0, c0); storeRow(i0 + 1u, j0, c1); storeRow(i0 + 2u, j0, c2); storeRow(i0 + 3u, j0, c3);
}

fn aAt(i: u32, k: u32) -> f32 {
  if (i >= p.M) { return 0.0; }
  return mem[p.a + select(i * p.lda + k, k * p.lda + i, p.tA == 1u)];
}

fn bAt(k: u32, j: u32) -> f32 {
  if (j >= p.N) { return 0.0; }
  return mem[p.b + select(k * p.ldb + j, j * p.ldb + k, p.tB == 1u)];
}

fn storeRow(i: u32, j0: u32, v: vec4<f32>) {
  if (i >= p.M) { return; }
  for (var y = 0u; y < 4u; y++) {
    let j = j0 + y;
    if (j < p.N) {
      let o = p.c + i * p.ldc + j;
      var r = v[y];
      if (p.beta == 1u) { r += mem[o]; }
      mem[o] = r;
    }
  }
}
`,
  },
};
