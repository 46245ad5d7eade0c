// AssemblyScript. DRAW Eqs 21–26: an attention window from the 5 raw outputs of Eq 21, and its two
// filterbanks F_X [N, A] and F_Y [N, B], forward and backward. Pixels and filters are counted from
// 1, as in the paper: μ_X^i = g_X + (i − N/2 − 0.5)·δ (Eq 19) for i = 1..N, and pixel a = 1..A.
import { hsum, vexp } from "./fastmath";
import { st } from "./vector";

/** A window's fields, 5 floats per image, in this order everywhere (host included). */
export const GX = 0, GY = 1, SIGMA2 = 2, DELTA = 3, GAMMA = 4, WINDOW = 5;

/**
 * One attention (a read or a write) for a batch: its geometry and the buffers of the current
 * step, written by the host before each call (field order is the host's layout: nine 32-bit words).
 */
@unmanaged
export class Attention {
  /** Images. */
  n: i32;
  /** Filters per axis. */
  N: i32;
  /** Width, height, channels. */
  A: i32;
  B: i32;
  C: i32;
  /** [n, WINDOW] windows. */
  win: usize;
  /** [n, N·(A + B)] filterbanks: F_X [N, A], then F_Y [N, B]. */
  F: usize;
  /** Kept for the backward pass. Read: U = F_Y·[x | x̂], [n, N, P·C·A]; write: V = w·F_X, [n, N, C·A]. */
  mid: usize;
  /** Working memory of one image: 2·B·C·A + 2·N·2·C·A + N·(A + B) floats. */
  scratch: usize;
}

/** Floats of one image's filterbanks. */
export function bankSize(att: Attention): i32 {
  return att.N * (att.A + att.B);
}

/** Lanes [0, cols) of all-ones, the rest zero: masks a partial last block. */
function mask(cols: i32): v128 {
  return i32x4.lt_s(i32x4(0, 1, 2, 3), i32x4.splat(cols));
}

/** Eq 25 or 26 for one axis: N rows over `size` pixels, each a softmax of −(a − μ)²/(2σ²). */
function bankForward(F: usize, N: i32, size: i32, g: f32, delta: f32, sigma2: f32): void {
  const inv: f32 = -0.5 / sigma2;
  for (let i = 0; i < N; i++) {
    const mu: f32 = g + (<f32> (i + 1) - <f32> N / 2 - 0.5) * delta; // Eqs 19–20, counted from 1
    // the largest exponent is at the pixel nearest μ: subtract it, for a stable softmax
    const near = min(max(nearest(mu), 1), <f32> size);
    const top = (near - mu) * (near - mu) * inv;
    const row = F + (<usize> (i * size) << 2);
    let sum = f32x4.splat(0);
    for (let a = 0; a < size; a += 4) {
      const cols = min(4, size - a);
      const d = f32x4.sub(f32x4.add(f32x4.splat(<f32> (a + 1)), f32x4(0, 1, 2, 3)), f32x4.splat(mu));
      const e = v128.and(vexp(f32x4.relaxed_madd(f32x4.mul(d, d), f32x4.splat(inv), f32x4.splat(-top))), mask(cols));
      st(row + (<usize> a << 2), e, cols);
      sum = f32x4.add(sum, e);
    }
    const s = f32x4.splat(1 / hsum(sum));
    for (let a = 0; a < size; a += 4) {
      const cols = min(4, size - a), p = row + (<usize> a << 2);
      st(p, f32x4.mul(v128.load(p), s), cols); // reads past the row stay inside the bank or scratch
    }
  }
}

/** Eqs 21–26 for every image: windows from raw (5 floats at raw + b·rawStride), then the banks. */
export function windowForward(att: Attention, raw: usize, rawStride: i32): void {
  const N = att.N, A = att.A, B = att.B;
  for (let b = 0; b < att.n; b++) {
    const r = raw + (<usize> (b * rawStride) << 2), w = att.win + (<usize> (b * WINDOW) << 2);
    const gX: f32 = (load<f32>(r) + 1) * <f32> (A + 1) / 2; // Eq 22
    const gY: f32 = (load<f32>(r, 4) + 1) * <f32> (B + 1) / 2; // Eq 23
    const sigma2 = Mathf.exp(load<f32>(r, 8)); // Eq 21: log σ²
    const delta = Mathf.exp(load<f32>(r, 12)) * <f32> (max(A, B) - 1) / <f32> (N - 1); // Eq 24
    store<f32>(w, gX, GX << 2);
    store<f32>(w, gY, GY << 2);
    store<f32>(w, sigma2, SIGMA2 << 2);
    store<f32>(w, delta, DELTA << 2);
    store<f32>(w, Mathf.exp(load<f32>(r, 16)), GAMMA << 2); // Eq 21: log γ
    const F = att.F + (<usize> (b * bankSize(att)) << 2);
    bankForward(F, N, A, gX, delta, sigma2); // F_X, Eq 25
    bankForward(F + (<usize> (N * A) << 2), N, B, gY, delta, sigma2); // F_Y, Eq 26
  }
}

/**
 * Backward of {@link bankForward}: from ∂F [N, size], the lanes (∂g, ∂δ, ∂σ², 0).
 */
function bankBackward(F: usize, dF: usize, N: i32, size: i32, g: f32, delta: f32, sigma2: f32): v128 {
  const inv: f32 = 1 / sigma2;
  let dg: f32 = 0, dDelta: f32 = 0, dS2: f32 = 0;
  for (let i = 0; i < N; i++) {
    const off: f32 = <f32> (i + 1) - <f32> N / 2 - 0.5;
    const mu = g + off * delta;
    const row = F + (<usize> (i * size) << 2), drow = dF + (<usize> (i * size) << 2);
    let s4 = f32x4.splat(0);
    for (let a = 0; a < size; a += 4) {
      const m = mask(min(4, size - a));
      const f = v128.and(v128.load(row + (<usize> a << 2)), m), df = v128.and(v128.load(drow + (<usize> a << 2)), m);
      s4 = f32x4.relaxed_madd(f, df, s4); // lanes past the row are masked: they may hold anything
    }
    const s = f32x4.splat(hsum(s4));
    let mu4 = f32x4.splat(0), s24 = f32x4.splat(0);
    for (let a = 0; a < size; a += 4) {
      const m = mask(min(4, size - a));
      const f = v128.and(v128.load(row + (<usize> a << 2)), m);
      const df = v128.and(v128.load(drow + (<usize> a << 2)), m);
      const dl = f32x4.mul(f, f32x4.sub(df, s)); // softmax backward
      const d = f32x4.sub(f32x4.add(f32x4.splat(<f32> (a + 1)), f32x4(0, 1, 2, 3)), f32x4.splat(mu));
      const dld = f32x4.mul(dl, d);
      mu4 = f32x4.add(mu4, dld);
      s24 = f32x4.relaxed_madd(dld, d, s24);
    }
    const dMu = hsum(mu4) * inv;
    dg += dMu;
    dDelta += dMu * off;
    dS2 += 0.5 * hsum(s24) * inv * inv;
  }
  return f32x4(dg, dDelta, dS2, 0);
}

/**
 * ∂raw (5 floats at dRaw) of image b's window, from ∂F_X, ∂F_Y and ∂γ, through Eqs 19–26 and
 * Eqs 21–24.
 */
export function windowBackward(att: Attention, b: i32, dFX: usize, dFY: usize, dGamma: f32, dRaw: usize): void {
  const N = att.N, A = att.A, B = att.B;
  const w = att.win + (<usize> (b * WINDOW) << 2), F = att.F + (<usize> (b * bankSize(att)) << 2);
  const sigma2 = load<f32>(w, SIGMA2 << 2), delta = load<f32>(w, DELTA << 2);
  const gx = bankBackward(F, dFX, N, A, load<f32>(w, GX << 2), delta, sigma2);
  const gy = bankBackward(F + (<usize> (N * A) << 2), dFY, N, B, load<f32>(w, GY << 2), delta, sigma2);
  store<f32>(dRaw, f32x4.extract_lane(gx, 0) * <f32> (A + 1) / 2); // Eq 22
  store<f32>(dRaw, f32x4.extract_lane(gy, 0) * <f32> (B + 1) / 2, 4); // Eq 23
  store<f32>(dRaw, (f32x4.extract_lane(gx, 2) + f32x4.extract_lane(gy, 2)) * sigma2, 8); // σ² = e^raw
  store<f32>(dRaw, (f32x4.extract_lane(gx, 1) + f32x4.extract_lane(gy, 1)) * delta, 12); // δ ∝ e^raw
  store<f32>(dRaw, dGamma * load<f32>(w, GAMMA << 2), 16); // γ = e^raw
}
