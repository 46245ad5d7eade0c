/**
 * WGSL: DRAW Eq 27, read with attention (and Eq 17 without), forward and backward, as
 * src/engine/fused/kernels/read.ts: the patch γ·F_Y·img·F_Xᵀ of x and x̂ = x − σ(c_{t−1}) as P = 2 images of C
 * channels (P = 1: x alone, the classifier). Images are [B, C, A]; U = F_Y·img is kept in `mid`
 * [n, N, P·C·A] for the backward pass, whose per-image scratch is ∂U, then ∂F_X [N, A], ∂F_Y [N, B].
 *
 * @module
 */
import { elementwise, type Shader } from "./prelude.ts";
import { ATTENTION, ATTENTION_WGSL, WINDOW_BACKWARD } from "./window.ts";

/** Image b's x or x̂ at pixel row r, column ca (x̂ = x − sig). */
const IMAGE = `
fn imageAt(P: u32, b: u32, q: u32, k: u32) -> f32 {
  let x = mem[p.x + b * p.B * p.C * p.A + k];
  if (q == 0u) { return x; }
  return x - mem[p.sig + b * p.B * p.C * p.A + k];
}
fn scratchOf(b: u32) -> u32 { return p.scratch + b * (p.N * p.P * p.C * p.A + p.N * (p.A + p.B)); }
`;

const PARAMS = [...ATTENTION, "P", "x", "sig"] as const;

export const read: Record<string, Shader> = {
  // U[b, j, q, ca] = Σ_r F_Y[j, r]·img_q[r, ca]
  readU: elementwise(
    PARAMS,
    `  let CA = p.C * p.A; let per = p.N * p.P * CA;
  let b = id / per; let e = id % per; let j = e / (p.P * CA); let q = (e / CA) % p.P; let ca = e % CA;
  let FY = bankOf(b) + p.N * p.A + j * p.B;
  var s = 0.0;
  for (var r = 0u; r < p.B; r++) { s += mem[FY + r] * imageAt(p.P, b, q, r * CA + ca); }
  mem[p.mid + id] = s;`,
    ATTENTION_WGSL + IMAGE,
  ),
  // patch[b, jqc, i] = γ·Σ_a U[jqc, a]·F_X[i, a], at out + b·outStride
  readPatch: elementwise(
    [...PARAMS, "out", "outStride"],
    `  let rows = p.N * p.P * p.C; let per = rows * p.N;
  let b = id / per; let e = id % per; let jqc = e / p.N; let i = e % p.N;
  let U = p.mid + b * rows * p.A + jqc * p.A; let FX = bankOf(b) + i * p.A;
  var s = 0.0;
  for (var a = 0u; a < p.A; a++) { s += mem[U + a] * mem[FX + a]; }
  mem[p.out + b * p.outStride + e] = mem[winOf(b) + 4u] * s;`,
    ATTENTION_WGSL + IMAGE,
  ),
  // ∂U[jqc, a] = γ·Σ_i ∂patch[jqc, i]·F_X[i, a]
  readBackwardU: elementwise(
    [...PARAMS, "dPatch", "patchStride"],
    `  let rows = p.N * p.P * p.C; let per = rows * p.A;
  let b = id / per; let e = id % per; let jqc = e / p.A; let a = e % p.A;
  let dP = p.dPatch + b * p.patchStride + jqc * p.N;
  var s = 0.0;
  for (var i = 0u; i < p.N; i++) { s += mem[dP + i] * mem[bankOf(b) + i * p.A + a]; }
  mem[scratchOf(b) + e] = mem[winOf(b) + 4u] * s;`,
    ATTENTION_WGSL + IMAGE,
  ),
  // ∂F_X[i, a] = γ·Σ_jqc ∂patch[jqc, i]·U[jqc, a]; ∂F_Y[j, r] = Σ_{q, ca} ∂U[j, q, ca]·img_q[r, ca]
  readBackwardBanks: elementwise(
    [...PARAMS, "dPatch", "patchStride"],
    `  let CA = p.C * p.A; let rows = p.N * p.P * p.C; let per = p.N * (p.A + p.B);
  let b = id / per; let e = id % per; let s0 = scratchOf(b); let dFX = s0 + rows * p.A;
  if (e < p.N * p.A) {
    let i = e / p.A; let a = e % p.A;
    let dP = p.dPatch + b * p.patchStride; let U = p.mid + b * rows * p.A;
    var s = 0.0;
    for (var jqc = 0u; jqc < rows; jqc++) { s += mem[dP + jqc * p.N + i] * mem[U + jqc * p.A + a]; }
    mem[dFX + e] = mem[winOf(b) + 4u] * s;
  } else {
    let f = e - p.N * p.A; let j = f / p.B; let r = f % p.B;
    var s = 0.0;
    for (var q = 0u; q < p.P; q++) {
      let dU = s0 + (j * p.P + q) * CA;
      for (var ca = 0u; ca < CA; ca++) { s += mem[dU + ca] * imageAt(p.P, b, q, r * CA + ca); }
    }
    mem[dFX + p.N * p.A + f] = s;
  }`,
    ATTENTION_WGSL + IMAGE,
  ),
  // x̂ = x − σ(c): ∂c[r, ca] −= (Σ_j F_Y[j, r]·∂U[j, x̂, ca])·σ(c)·(1 − σ(c))
  readBackwardCanvas: elementwise(
    [...PARAMS, "dc"],
    `  let CA = p.C * p.A; let D = p.B * CA;
  let b = id / D; let k = id % D; let r = k / CA; let ca = k % CA;
  let FY = bankOf(b) + p.N * p.A; let s0 = scratchOf(b);
  var s = 0.0;
  for (var j = 0u; j < p.N; j++) { s += mem[FY + j * p.B + r] * mem[s0 + (j * 2u + 1u) * CA + ca]; }
  let sg = mem[p.sig + id];
  mem[p.dc + id] -= s * sg * (1.0 - sg);`,
    ATTENTION_WGSL + IMAGE,
  ),
  // one thread per image: ∂γ = Σ ∂patch·patch / γ (the patch at p.values), then Eqs 19–26 backward into ∂raw
  readBackwardWindow: elementwise(
    [...PARAMS, "values", "dPatch", "patchStride", "dRaw", "dRawStride"],
    `  let b = id; let s0 = scratchOf(b); let rows = p.N * p.P * p.C;
  var dg = 0.0;
  for (var e = 0u; e < rows * p.N; e++) {
    dg += mem[p.dPatch + b * p.patchStride + e] * mem[p.values + b * p.patchStride + e];
  }
  let dFX = s0 + rows * p.A;
  windowBackward(b, dFX, dFX + p.N * p.A, dg / mem[winOf(b) + 4u], p.dRaw + b * p.dRawStride);`,
    ATTENTION_WGSL + IMAGE + WINDOW_BACKWARD,
  ),
  // Eq 17: [x, x − sig] into out + b·outStride
  readWholeForward: elementwise(
    ["D", "x", "sig", "out", "outStride"],
    `  let b = id / p.D; let k = id % p.D;
  let x = mem[p.x + id];
  mem[p.out + b * p.outStride + k] = x;
  mem[p.out + b * p.outStride + p.D + k] = x - mem[p.sig + id];`,
  ),
  readWholeBackward: elementwise(
    ["D", "sig", "dOut", "outStride", "dc"],
    `  let b = id / p.D; let k = id % p.D; let s = mem[p.sig + id];
  mem[p.dc + id] -= mem[p.dOut + b * p.outStride + p.D + k] * s * (1.0 - s);`,
  ),
};
