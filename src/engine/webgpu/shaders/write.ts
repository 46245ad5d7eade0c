/**
 * WGSL: DRAW Eq 29, write with attention, forward and backward, as src/engine/fused/kernels/write.ts: adds
 * (1/γ)·F_Yᵀ·w·F_X to each canvas; w is [N, C, N] per image, canvases [B, C, A]. V = w·F_X is kept
 * in `mid` [n, N, C·A]; the backward pass's per-image scratch is ∂V, then ∂F_X [N, A], ∂F_Y [N, B].
 *
 * @module
 */
import { elementwise, type Shader } from "./prelude.ts";
import { ATTENTION, ATTENTION_WGSL, WINDOW_BACKWARD } from "./window.ts";

const SCRATCH = `
fn scratchOf(b: u32) -> u32 { return p.scratch + b * (p.N * p.C * p.A + p.N * (p.A + p.B)); }
`;

const PARAMS = [...ATTENTION, "w", "wStride"] as const;

export const write: Record<string, Shader> = {
  // V[b, jc, a] = Σ_i w[jc, i]·F_X[i, a]
  writeV: elementwise(
    PARAMS,
    `  let per = p.N * p.C * p.A; let b = id / per; let e = id % per; let jc = e / p.A; let a = e % p.A;
  let w = p.w + b * p.wStride + jc * p.N;
  var s = 0.0;
  for (var i = 0u; i < p.N; i++) { s += mem[w + i] * mem[bankOf(b) + i * p.A + a]; }
  mem[p.mid + id] = s;`,
    ATTENTION_WGSL,
  ),
  // canvas[b, r, ca] += (1/γ)·Σ_j F_Y[j, r]·V[j, ca]
  writeCanvas: elementwise(
    [...PARAMS, "canvas"],
    `  let CA = p.C * p.A; let D = p.B * CA; let b = id / D; let k = id % D; let r = k / CA; let ca = k % CA;
  let FY = bankOf(b) + p.N * p.A; let V = p.mid + b * p.N * CA;
  var s = 0.0;
  for (var j = 0u; j < p.N; j++) { s += mem[FY + j * p.B + r] * mem[V + j * CA + ca]; }
  mem[p.canvas + id] += s / mem[winOf(b) + 4u];`,
    ATTENTION_WGSL,
  ),
  // ∂V[j, ca] = (1/γ)·Σ_r F_Y[j, r]·∂I[r, ca]; ∂F_Y[j, r] = (1/γ)·Σ_ca V[j, ca]·∂I[r, ca]
  writeBackwardV: elementwise(
    [...PARAMS, "dCanvas"],
    `  let CA = p.C * p.A; let per = p.N * CA + p.N * p.B; let b = id / per; let e = id % per;
  let inv = 1.0 / mem[winOf(b) + 4u]; let dI = p.dCanvas + b * p.B * CA; let s0 = scratchOf(b);
  let FY = bankOf(b) + p.N * p.A;
  if (e < p.N * CA) {
    let j = e / CA; let ca = e % CA;
    var s = 0.0;
    for (var r = 0u; r < p.B; r++) { s += mem[FY + j * p.B + r] * mem[dI + r * CA + ca]; }
    mem[s0 + e] = s * inv;
  } else {
    let f = e - p.N * CA; let j = f / p.B; let r = f % p.B; let V = p.mid + b * p.N * CA + j * CA;
    var s = 0.0;
    for (var ca = 0u; ca < CA; ca++) { s += mem[V + ca] * mem[dI + r * CA + ca]; }
    mem[s0 + p.N * CA + p.N * p.A + f] = s * inv;
  }`,
    ATTENTION_WGSL + SCRATCH,
  ),
  // ∂w[jc, i] = Σ_a ∂V[jc, a]·F_X[i, a]; ∂F_X[i, a] = Σ_jc w[jc, i]·∂V[jc, a]
  writeBackwardW: elementwise(
    [...PARAMS, "dw", "dwStride"],
    `  let rows = p.N * p.C; let per = rows * p.N + p.N * p.A; let b = id / per; let e = id % per;
  let dV = scratchOf(b); let FX = bankOf(b);
  if (e < rows * p.N) {
    let jc = e / p.N; let i = e % p.N;
    var s = 0.0;
    for (var a = 0u; a < p.A; a++) { s += mem[dV + jc * p.A + a] * mem[FX + i * p.A + a]; }
    mem[p.dw + b * p.dwStride + e] = s;
  } else {
    let f = e - rows * p.N; let i = f / p.A; let a = f % p.A; let w = p.w + b * p.wStride;
    var s = 0.0;
    for (var jc = 0u; jc < rows; jc++) { s += mem[w + jc * p.N + i] * mem[dV + jc * p.A + a]; }
    mem[dV + rows * p.A + f] = s;
  }`,
    ATTENTION_WGSL + SCRATCH,
  ),
  // one thread per image: ∂γ = −(1/γ)·Σ V·∂V, then Eqs 19–26 backward into ∂raw
  writeBackwardWindow: elementwise(
    [...PARAMS, "dRaw", "dRawStride"],
    `  let b = id; let per = p.N * p.C * p.A; let s0 = scratchOf(b); let V = p.mid + b * per;
  var s = 0.0;
  for (var e = 0u; e < per; e++) { s += mem[V + e] * mem[s0 + e]; }
  let dFX = s0 + per;
  windowBackward(b, dFX, dFX + p.N * p.A, -s / mem[winOf(b) + 4u], p.dRaw + b * p.dRawStride);`,
    ATTENTION_WGSL + SCRATCH + WINDOW_BACKWARD,
  ),
};
