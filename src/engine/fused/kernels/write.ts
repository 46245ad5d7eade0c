// AssemblyScript. DRAW Eq 29, write with attention, forward and backward, for a batch: adds
// (1/γ)·F_Yᵀ·w·F_X to each canvas. w is [N, C, N] per image; canvases are [B, C, A].
import { Attention, bankSize, GAMMA, WINDOW, windowBackward } from "./window";
import { axpy, dot } from "./vector";

/** Adds every image's write (w at w + b·wStride) to canvas [n, D]; keeps V = w·F_X in att.mid. */
export function writeForward(att: Attention, w: usize, wStride: i32, canvas: usize): void {
  const N = att.N, A = att.A, B = att.B, CA = att.C * att.A, D = B * CA;
  for (let b = 0; b < att.n; b++) {
    const V = att.mid + (<usize> (b * N * CA) << 2), wb = w + (<usize> (b * wStride) << 2);
    const F = att.F + (<usize> (b * bankSize(att)) << 2), FY = F + (<usize> (N * A) << 2);
    const invGamma: f32 = 1.0 / load<f32>(att.win + (<usize> (b * WINDOW + GAMMA) << 2));
    // V[j, c] = Σ_i w[j, c, i]·F_X[i]
    memory.fill(V, 0, <usize> (N * CA) << 2);
    for (let jc = 0; jc < N * att.C; jc++) {
      const v = V + (<usize> (jc * A) << 2);
      for (let i = 0; i < N; i++) axpy(load<f32>(wb + (<usize> (jc * N + i) << 2)), F + (<usize> (i * A) << 2), v, A);
    }
    // canvas[r] += (1/γ)·Σ_j F_Y[j, r]·V[j]
    const cb = canvas + (<usize> (b * D) << 2);
    for (let j = 0; j < N; j++) {
      const v = V + (<usize> (j * CA) << 2);
      for (let r = 0; r < B; r++) {
        const fy = load<f32>(FY + (<usize> (j * B + r) << 2)) * invGamma;
        if (fy < 1e-30) continue;
        axpy(fy, v, cb + (<usize> (r * CA) << 2), CA);
      }
    }
  }
}

/**
 * Backward of {@link writeForward} (the latest on att's buffers), from ∂canvas [n, D]: ∂w into
 * dw + b·dwStride and ∂raw (5 floats) into dRaw + b·dRawStride.
 */
export function writeBackward(
  att: Attention,
  w: usize,
  wStride: i32,
  dCanvas: usize,
  dw: usize,
  dwStride: i32,
  dRaw: usize,
  dRawStride: i32,
): void {
  const N = att.N, A = att.A, B = att.B, CA = att.C * att.A, D = B * CA;
  const dV = att.scratch, dFX = dV + (<usize> (N * CA) << 2), dFY = dFX + (<usize> (N * A) << 2);
  for (let b = 0; b < att.n; b++) {
    const V = att.mid + (<usize> (b * N * CA) << 2), wb = w + (<usize> (b * wStride) << 2);
    const dwb = dw + (<usize> (b * dwStride) << 2), dI = dCanvas + (<usize> (b * D) << 2);
    const F = att.F + (<usize> (b * bankSize(att)) << 2), FY = F + (<usize> (N * A) << 2);
    const inv: f32 = 1.0 / load<f32>(att.win + (<usize> (b * WINDOW + GAMMA) << 2));
    // ∂V[j] = (1/γ)·Σ_r F_Y[j, r]·∂I[r]; ∂F_Y[j, r] = (1/γ)·V[j]·∂I[r]
    memory.fill(dV, 0, <usize> (N * CA) << 2);
    for (let j = 0; j < N; j++) {
      const v = V + (<usize> (j * CA) << 2), dv = dV + (<usize> (j * CA) << 2);
      for (let r = 0; r < B; r++) {
        const di = dI + (<usize> (r * CA) << 2);
        axpy(load<f32>(FY + (<usize> (j * B + r) << 2)) * inv, di, dv, CA);
        store<f32>(dFY + (<usize> (j * B + r) << 2), dot(v, di, CA) * inv);
      }
    }
    const vdv = dot(V, dV, N * CA); // ∂γ = −(1/γ)·Σ V·∂V
    // ∂w[j, c, i] = ∂V[j, c]·F_X[i]; ∂F_X[i] = Σ_{j,c} w[j, c, i]·∂V[j, c]
    memory.fill(dFX, 0, <usize> (N * A) << 2);
    for (let jc = 0; jc < N * att.C; jc++) {
      const dv = dV + (<usize> (jc * A) << 2);
      for (let i = 0; i < N; i++) {
        const fx = F + (<usize> (i * A) << 2);
        store<f32>(dwb + (<usize> (jc * N + i) << 2), dot(dv, fx, A));
        axpy(load<f32>(wb + (<usize> (jc * N + i) << 2)), dv, dFX + (<usize> (i * A) << 2), A);
      }
    }
    windowBackward(att, b, dFX, dFY, -vdv * inv, dRaw + (<usize> (b * dRawStride) << 2));
  }
}
