// AssemblyScript. DRAW Eq 27, read with attention, forward and backward, for a batch: the patch
// γ·F_Y·img·F_Xᵀ of x and x̂ = x − σ(c_{t−1}) (Eq 4's error image), as 2C channels, or of x alone
// (C channels) for the classifier of Section 4.1. Images are [B, C, A] (rows of C·A floats).
import { Attention, bankSize, GAMMA, WINDOW, windowBackward } from "./window";
import { axpy, dot } from "./vector";

/** Eq 4's error image x̂ = x − sig, len floats, into out. */
function errorImage(x: usize, sig: usize, out: usize, len: i32): void {
  let k = 0;
  for (; k + 4 <= len; k += 4) {
    const o = <usize> k << 2;
    v128.store(out + o, f32x4.sub(v128.load(x + o), v128.load(sig + o)));
  }
  for (; k < len; k++) {
    const o = <usize> k << 2;
    store<f32>(out + o, load<f32>(x + o) - load<f32>(sig + o));
  }
}

/** Backward of x̂ = x − σ(c) into ∂c: dc[k] −= ∂x̂[k]·σ(c)[k]·(1 − σ(c)[k]), len floats. */
function sigmoidBackward(dXhat: usize, sig: usize, dc: usize, len: i32): void {
  let k = 0;
  const one = f32x4.splat(1);
  for (; k + 4 <= len; k += 4) {
    const o = <usize> k << 2, s = v128.load(sig + o);
    const d = f32x4.mul(v128.load(dXhat + o), f32x4.mul(s, f32x4.sub(one, s)));
    v128.store(dc + o, f32x4.sub(v128.load(dc + o), d));
  }
  for (; k < len; k++) {
    const o = <usize> k << 2, s = load<f32>(sig + o);
    store<f32>(dc + o, load<f32>(dc + o) - load<f32>(dXhat + o) * (s * (1 - s)));
  }
}

/** The scratch layout of one image: x̂ [D], ∂U [N·2·C·A], ∂img [D], ∂F_X [N·A], ∂F_Y [N·B]. */
function scratchAt(att: Attention, part: i32): usize {
  const D = att.B * att.C * att.A, U = att.N * 2 * att.C * att.A;
  let at = 0;
  if (part > 0) at += D;
  if (part > 1) at += U;
  if (part > 2) at += D;
  if (part > 3) at += att.N * att.A;
  return att.scratch + (<usize> at << 2);
}

/**
 * Patches of every image into out + b·outStride: [N, P·C, N] with P = 2 (x, then x̂ = x − sig)
 * or P = 1 when sig = 0. Needs windowForward first; keeps U = F_Y·[x | x̂] in att.mid.
 */
export function readForward(att: Attention, x: usize, sig: usize, out: usize, outStride: i32): void {
  const N = att.N, A = att.A, B = att.B, CA = att.C * att.A, D = B * CA, P = sig ? 2 : 1;
  const xhat = att.scratch;
  for (let b = 0; b < att.n; b++) {
    const img = x + (<usize> (b * D) << 2);
    const U = att.mid + (<usize> (b * N * P * CA) << 2);
    const F = att.F + (<usize> (b * bankSize(att)) << 2), FY = F + (<usize> (N * A) << 2);
    const gamma = load<f32>(att.win + (<usize> (b * WINDOW + GAMMA) << 2));
    if (sig) errorImage(img, sig + (<usize> (b * D) << 2), xhat, D);
    // U[j] = Σ_r F_Y[j, r]·img[r]
    memory.fill(U, 0, <usize> (N * P * CA) << 2);
    for (let j = 0; j < N; j++) {
      const u = U + (<usize> (j * P * CA) << 2);
      for (let r = 0; r < B; r++) {
        const fy = load<f32>(FY + (<usize> (j * B + r) << 2));
        if (fy < 1e-30) continue; // far from the window: nothing to add
        axpy(fy, img + (<usize> (r * CA) << 2), u, CA);
        if (sig) axpy(fy, xhat + (<usize> (r * CA) << 2), u + (<usize> CA << 2), CA);
      }
    }
    // patch[j, p, c, i] = γ·U[j, p, c]·F_X[i]
    const o = out + (<usize> (b * outStride) << 2);
    for (let jc = 0; jc < N * P * att.C; jc++) {
      const u = U + (<usize> (jc * A) << 2);
      for (let i = 0; i < N; i++) {
        store<f32>(o + (<usize> (jc * N + i) << 2), gamma * dot(u, F + (<usize> (i * A) << 2), A));
      }
    }
  }
}

/**
 * Backward of {@link readForward} (the latest on att's buffers), from ∂patch at dPatch (patch
 * values at patch, both with row stride patchStride): ∂raw (5 floats at dRaw + b·dRawStride)
 * and, when sig ≠ 0, ∂c_{t−1} −= ∂x̂·σ'(c) into dc [n, D].
 */
export function readBackward(
  att: Attention,
  x: usize,
  sig: usize,
  patch: usize,
  dPatch: usize,
  patchStride: i32,
  dc: usize,
  dRaw: usize,
  dRawStride: i32,
): void {
  const N = att.N, A = att.A, B = att.B, CA = att.C * att.A, D = B * CA, P = sig ? 2 : 1;
  const xhat = scratchAt(att, 0), dU = scratchAt(att, 1), dImg = scratchAt(att, 2);
  const dFX = scratchAt(att, 3), dFY = scratchAt(att, 4);
  for (let b = 0; b < att.n; b++) {
    const img = x + (<usize> (b * D) << 2);
    const U = att.mid + (<usize> (b * N * P * CA) << 2);
    const F = att.F + (<usize> (b * bankSize(att)) << 2), FY = F + (<usize> (N * A) << 2);
    const gamma = load<f32>(att.win + (<usize> (b * WINDOW + GAMMA) << 2));
    const pr = patch + (<usize> (b * patchStride) << 2), dpr = dPatch + (<usize> (b * patchStride) << 2);
    // ∂γ = Σ ∂P·P/γ; ∂U = γ·∂P·F_X; ∂F_X[i] = γ·Σ_{j,p,c} ∂P[j, p, c, i]·U[j, p, c]
    let dg: f32 = 0;
    memory.fill(dU, 0, <usize> (N * P * CA) << 2);
    memory.fill(dFX, 0, <usize> (N * A) << 2);
    for (let jc = 0; jc < N * P * att.C; jc++) {
      const u = U + (<usize> (jc * A) << 2), du = dU + (<usize> (jc * A) << 2);
      for (let i = 0; i < N; i++) {
        const dp = load<f32>(dpr + (<usize> (jc * N + i) << 2));
        dg += dp * load<f32>(pr + (<usize> (jc * N + i) << 2));
        axpy(gamma * dp, F + (<usize> (i * A) << 2), du, A);
        axpy(gamma * dp, u, dFX + (<usize> (i * A) << 2), A);
      }
    }
    // ∂F_Y[j, r] = Σ_p ∂U[j, p]·img_p[r]; ∂x̂[r] = Σ_j F_Y[j, r]·∂U[j, x̂]
    if (sig) {
      errorImage(img, sig + (<usize> (b * D) << 2), xhat, D);
      memory.fill(dImg, 0, <usize> D << 2);
    }
    for (let j = 0; j < N; j++) {
      const d1 = dU + (<usize> (j * P * CA) << 2), d2 = d1 + (<usize> CA << 2);
      for (let r = 0; r < B; r++) {
        let v = dot(d1, img + (<usize> (r * CA) << 2), CA);
        if (sig) {
          v += dot(d2, xhat + (<usize> (r * CA) << 2), CA);
          axpy(load<f32>(FY + (<usize> (j * B + r) << 2)), d2, dImg + (<usize> (r * CA) << 2), CA);
        }
        store<f32>(dFY + (<usize> (j * B + r) << 2), v);
      }
    }
    if (sig) sigmoidBackward(dImg, sig + (<usize> (b * D) << 2), dc + (<usize> (b * D) << 2), D);
    windowBackward(att, b, dFX, dFY, dg / gamma, dRaw + (<usize> (b * dRawStride) << 2));
  }
}

/** Eq 17, read without attention: [x, x̂ = x − sig] into out + b·outStride (2·D floats per image). */
export function readWholeForward(n: i32, D: i32, x: usize, sig: usize, out: usize, outStride: i32): void {
  for (let b = 0; b < n; b++) {
    const o = out + (<usize> (b * outStride) << 2), xb = x + (<usize> (b * D) << 2), sb = sig + (<usize> (b * D) << 2);
    memory.copy(o, xb, <usize> D << 2);
    errorImage(xb, sb, o + (<usize> D << 2), D);
  }
}

/** Backward of Eq 17 into ∂c_{t−1}: dc[b] −= ∂x̂·σ(c)·(1 − σ(c)), ∂x̂ at dOut + b·outStride + D. */
export function readWholeBackward(n: i32, D: i32, sig: usize, dOut: usize, outStride: i32, dc: usize): void {
  for (let b = 0; b < n; b++) {
    const d = dOut + (<usize> (b * outStride + D) << 2),
      sb = sig + (<usize> (b * D) << 2),
      cb = dc + (<usize> (b * D) << 2);
    sigmoidBackward(d, sb, cb, D);
  }
}
