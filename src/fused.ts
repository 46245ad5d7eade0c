/**
 * The fused DRAW engine: Eqs 1–29 and their exact gradient, unrolled over T steps by hand, on
 * plain Float32Arrays with every large product done by one {@link Gemm} call.
 *
 * Why: a DRAW training step through tfjs is tens of thousands of tiny ops, and per-op overhead,
 * not arithmetic, sets its speed. Here one step forward is a handful of products per time step
 * (the LSTM gates, the posterior, the decoder head) plus tight loops for the attention windows;
 * the backward pass is written out (backpropagation through time), and the weight gradients of
 * all T steps are each one large product at the end. With native BLAS this runs several times
 * faster than the tfjs graph on the same CPU; drawLoss and drawGenerate use it when it is on
 * (see {@link useFusedEngine}), and the spec checks it against the tfjs composition, values and
 * gradients.
 *
 * The layout is draw.ts's: images are [batch, B, C, A] flattened; the decoder head is
 * [write window (5) | write (N·N·C or D) | next read window (5)], as in draw.ts.
 *
 * @module
 */
import { type DrawConfig, imageSize, validateConfig } from "./config.ts";
import { type Gemm, jsGemm, openCblas } from "./gemm.ts";

/** Weights by parameter name, as plain arrays (the names and shapes of paramSpecs). */
export type FusedWeights = Record<string, Float32Array>;

/** Per-image results of a forward pass. */
export interface FusedLoss {
  /** Eq 9 per image, nats. */
  lx: Float32Array;
  /** Eqs 10–11 per image, nats. */
  lz: Float32Array;
  /** log p(z) − log q(z | x) of the sample drawn, per image. */
  logRatio: Float32Array;
}

/** One attention axis's filterbank F [N, size] of Eqs 25–26, rows normalised (a softmax). */
export function bankForward(
  F: Float32Array,
  fo: number,
  N: number,
  size: number,
  g: number,
  delta: number,
  sigma2: number,
) {
  const inv = -0.5 / sigma2;
  for (let n = 0; n < N; n++) {
    const mu = g + (n + 1 - N / 2 - 0.5) * delta; // Eqs 19–20, grid counted from 1
    const row = fo + n * size;
    let max = -Infinity;
    for (let a = 0; a < size; a++) {
      const d = a + 1 - mu;
      const l = d * d * inv;
      F[row + a] = l;
      if (l > max) max = l;
    }
    let sum = 0;
    for (let a = 0; a < size; a++) {
      const e = fastExp(F[row + a] - max);
      F[row + a] = e;
      sum += e;
    }
    const s = 1 / sum;
    for (let a = 0; a < size; a++) F[row + a] *= s;
  }
}

/**
 * Backward through one filterbank: given ∂F [N, size], returns (∂g, ∂δ, ∂σ²) into out[0..2]
 * (added to what is there).
 */
function bankBackward(
  F: Float32Array,
  fo: number,
  dF: Float32Array,
  N: number,
  size: number,
  g: number,
  delta: number,
  sigma2: number,
  out: Float64Array,
) {
  const inv = 1 / sigma2;
  for (let n = 0; n < N; n++) {
    const off = n + 1 - N / 2 - 0.5;
    const mu = g + off * delta;
    const row = fo + n * size, drow = n * size;
    let s = 0;
    for (let a = 0; a < size; a++) s += dF[drow + a] * F[row + a];
    let dMu = 0, dS2 = 0;
    for (let a = 0; a < size; a++) {
      const dl = F[row + a] * (dF[drow + a] - s); // softmax backward
      const d = a + 1 - mu;
      dMu += dl * d * inv;
      dS2 += dl * d * d;
    }
    out[0] += dMu;
    out[1] += dMu * off;
    out[2] += 0.5 * dS2 * inv * inv;
  }
}

/** 2^k for k = −1024..1024, at index k + 1024. */
const POW2 = Float64Array.from({ length: 2049 }, (_, i) => 2 ** (i - 1024));
/** 1.5·2^52: adding and subtracting it rounds a double to the nearest integer. */
const ROUND = 6755399441055744;

/**
 * e^x within 3e-10 relative error (clamped to |x| ≤ 700), about twice as fast as Math.exp in V8:
 * e^x = 2^m·e^f with m = round(x·log₂e) and |f| ≤ ln2/2, e^f by its Taylor series to degree 8
 * (remainder below 0.347⁹/9! ≈ 2·10⁻¹⁰), 2^m from a table. NaN stays NaN.
 */
export function fastExp(x: number): number {
  if (x > 700) x = 700;
  else if (x < -700) x = -700;
  const y = x * Math.LOG2E;
  const m = (y + ROUND) - ROUND;
  const f = (y - m) * Math.LN2;
  const p = 1 +
    f * (1 + f * (1 / 2 + f * (1 / 6 + f * (1 / 24 + f * (1 / 120 + f * (1 / 720 + f * (1 / 5040 + f / 40320)))))));
  return p * POW2[(m + 1024) | 0];
}

const sigmoid = (v: number) => 1 / (1 + fastExp(-v));
/** tanh through e^{2v}: 1 − 2/(1 + e^{2v}), exact to double rounding at both ends. */
const tanh = (v: number) => 1 - 2 / (1 + fastExp(2 * v));

/** Per-image attention products at least this large (N·B·C·A) go through gemm, smaller ones through loops. */
const GEMM_MIN = 20_000;

/** dst[k] = σ(src[k]) for k < len. */
function sigmoidInto(src: Float32Array, dst: Float32Array, len: number) {
  for (let k = 0; k < len; k++) dst[k] = sigmoid(src[k]);
}

/**
 * Eq 27 for one image, on x and x̂ = x − σ(c) as 2C channels (or on x alone, C channels, when
 * `sig` is null, as the classifier of Section 4.1 reads): U = F_Y·img (kept for the backward
 * pass, [N, 2C, A]) and the patch γ·U·F_Xᵀ ([N, 2C, N]) into out[oo..].
 */
export function readForward(
  x: Float32Array,
  xo: number,
  sig: Float32Array | null,
  xhat: Float32Array,
  F: Float32Array,
  fo: number,
  U: Float32Array,
  uo: number,
  out: Float32Array,
  oo: number,
  N: number,
  A: number,
  B: number,
  C: number,
  gamma: number,
  gemm?: Gemm,
) {
  const CA = C * A, P = sig ? 2 : 1; // images read: x, or x and x̂
  if (sig) { for (let k = 0; k < B * CA; k++) xhat[k] = x[xo + k] - sig[xo + k]; }
  const fyo = fo + N * A;
  if (gemm && N * B * CA >= GEMM_MIN) {
    // U[j, image, ·] = F_Y[j, ·]·image as products (row stride P·CA interleaves x and x̂)
    gemm(false, false, N, CA, B, F.subarray(fyo), B, x.subarray(xo), CA, 0, U.subarray(uo), P * CA);
    if (sig) gemm(false, false, N, CA, B, F.subarray(fyo), B, xhat, CA, 0, U.subarray(uo + CA), P * CA);
  } else {
    U.fill(0, uo, uo + N * P * CA);
  }
  for (let j = 0; j < N && !(gemm && N * B * CA >= GEMM_MIN); j++) {
    const u1 = uo + j * P * CA, u2 = u1 + CA;
    for (let r = 0; r < B; r++) {
      const fy = F[fyo + j * B + r];
      if (fy < 1e-30) continue;
      const io = r * CA;
      for (let k = 0; k < CA; k++) U[u1 + k] += fy * x[xo + io + k];
      if (sig) { for (let k = 0; k < CA; k++) U[u2 + k] += fy * xhat[io + k]; }
    }
  }
  for (let jc = 0; jc < N * P * C; jc++) {
    const u = uo + jc * A;
    for (let i = 0; i < N; i++) {
      const fx = fo + i * A;
      let s = 0;
      for (let a = 0; a < A; a++) s += U[u + a] * F[fx + a];
      out[oo + jc * N + i] = gamma * s;
    }
  }
}

/** Eq 29 for one image: V = w·F_X ([N, C, A], kept) and canvas += (1/γ)·F_Yᵀ·V. */
function writeForward(
  w: Float32Array,
  wo: number,
  F: Float32Array,
  fo: number,
  V: Float32Array,
  vo: number,
  canvas: Float32Array,
  co: number,
  N: number,
  A: number,
  B: number,
  C: number,
  invGamma: number,
) {
  const CA = C * A;
  V.fill(0, vo, vo + N * CA);
  for (let jc = 0; jc < N * C; jc++) {
    const v = vo + jc * A;
    for (let i = 0; i < N; i++) {
      const wv = w[wo + jc * N + i], fx = fo + i * A;
      for (let a = 0; a < A; a++) V[v + a] += wv * F[fx + a];
    }
  }
  const fyo = fo + N * A;
  for (let j = 0; j < N; j++) {
    const v = vo + j * CA;
    for (let r = 0; r < B; r++) {
      const fy = F[fyo + j * B + r] * invGamma;
      if (fy < 1e-30) continue;
      const cr = co + r * CA;
      for (let k = 0; k < CA; k++) canvas[cr + k] += fy * V[v + k];
    }
  }
}

/**
 * Backward of {@link writeForward} for one image, given ∂I = dc[co..]: writes ∂w into dw[dwo..],
 * ∂F_X and ∂F_Y into dFX, dFY, and returns ∂γ.
 */
function writeBackward(
  dc: Float32Array,
  co: number,
  w: Float32Array,
  wo: number,
  dw: Float32Array,
  dwo: number,
  F: Float32Array,
  fo: number,
  V: Float32Array,
  vo: number,
  dV: Float32Array,
  dFX: Float32Array,
  dFY: Float32Array,
  N: number,
  A: number,
  B: number,
  C: number,
  gamma: number,
): number {
  const CA = C * A, inv = 1 / gamma, fyo = fo + N * A;
  // ∂V[j, ·] = (1/γ) Σ_r F_Y[j, r]·∂I[r, ·]; ∂F_Y[j, r] = (1/γ) V[j, ·]·∂I[r, ·]
  dV.fill(0, 0, N * CA);
  for (let j = 0; j < N; j++) {
    const v = vo + j * CA, dv = j * CA;
    for (let r = 0; r < B; r++) {
      const fy = F[fyo + j * B + r] * inv;
      const cr = co + r * CA;
      let s = 0;
      for (let k = 0; k < CA; k++) {
        const g = dc[cr + k];
        dV[dv + k] += fy * g;
        s += V[v + k] * g;
      }
      dFY[j * B + r] = s * inv;
    }
  }
  let vdv = 0;
  for (let k = 0; k < N * CA; k++) vdv += V[vo + k] * dV[k];
  // ∂w[j, ch, i] = ∂V[j, ch, ·]·F_X[i, ·]; ∂F_X[i, ·] = Σ_{j,ch} w[j, ch, i]·∂V[j, ch, ·]
  dFX.fill(0, 0, N * A);
  for (let jc = 0; jc < N * C; jc++) {
    const dv = jc * A;
    for (let i = 0; i < N; i++) {
      const wv = w[wo + jc * N + i], fx = fo + i * A, dfx = i * A;
      let s = 0;
      for (let a = 0; a < A; a++) {
        const d = dV[dv + a];
        s += d * F[fx + a];
        dFX[dfx + a] += wv * d;
      }
      dw[dwo + jc * N + i] = s;
    }
  }
  return -vdv * inv;
}

/**
 * Backward of {@link readForward} for one image, given ∂patch = dP[po..]: subtracts
 * ∂x̂·σ'(c) from dc[xo..] (x̂ = x − σ(c); nothing when `sig` is null), writes ∂F_X, ∂F_Y, and
 * returns ∂γ.
 */
export function readBackward(
  dP: Float32Array,
  P: Float32Array,
  po: number,
  x: Float32Array,
  xo: number,
  sig: Float32Array | null,
  xhat: Float32Array,
  dc: Float32Array,
  F: Float32Array,
  fo: number,
  U: Float32Array,
  uo: number,
  dU: Float32Array,
  dImg: Float32Array,
  dFX: Float32Array,
  dFY: Float32Array,
  N: number,
  A: number,
  B: number,
  C: number,
  gamma: number,
  gemm?: Gemm,
): number {
  const CA = C * A, fyo = fo + N * A, P2 = sig ? 2 : 1;
  const big = gemm !== undefined && N * B * CA >= GEMM_MIN;
  // ∂γ = Σ ∂P·P/γ; ∂U = γ·∂P·F_X; ∂F_X[i, ·] = γ Σ_{j,ch} ∂P[j, ch, i]·U[j, ch, ·]
  let dg = 0;
  dU.fill(0, 0, N * P2 * CA);
  dFX.fill(0, 0, N * A);
  for (let jc = 0; jc < N * P2 * C; jc++) {
    const u = uo + jc * A, du = jc * A;
    for (let i = 0; i < N; i++) {
      const dp = dP[po + jc * N + i];
      dg += dp * P[po + jc * N + i];
      const gp = gamma * dp, fx = fo + i * A, dfx = i * A;
      for (let a = 0; a < A; a++) {
        dU[du + a] += gp * F[fx + a];
        dFX[dfx + a] += gp * U[u + a];
      }
    }
  }
  // ∂F_Y[j, r] = Σ ∂U[j, ·, ·]·img[r, ·, ·]; ∂x̂[r, ·] = Σ_j F_Y[j, r]·∂U[j, x̂ channels]
  if (!sig) {
    if (big) gemm!(false, true, N, B, CA, dU, CA, x.subarray(xo), CA, 0, dFY, B); // ∂F_Y = ∂U·xᵀ
    else {
      for (let j = 0; j < N; j++) {
        for (let r = 0; r < B; r++) {
          let s = 0;
          for (let k = 0; k < CA; k++) s += dU[j * CA + k] * x[xo + r * CA + k];
          dFY[j * B + r] = s;
        }
      }
    }
    return dg / gamma;
  }
  for (let k = 0; k < B * CA; k++) xhat[k] = x[xo + k] - sig[xo + k];
  if (big) {
    // ∂F_Y = ∂U_x·xᵀ + ∂U_x̂·x̂ᵀ; ∂x̂ = F_Yᵀ·∂U_x̂ (rows of ∂U interleave x and x̂: stride 2·CA)
    gemm!(false, true, N, B, CA, dU, 2 * CA, x.subarray(xo), CA, 0, dFY, B);
    gemm!(false, true, N, B, CA, dU.subarray(CA), 2 * CA, xhat, CA, 1, dFY, B);
    gemm!(true, false, B, CA, N, F.subarray(fyo), B, dU.subarray(CA), 2 * CA, 0, dImg, CA);
    for (let k = 0; k < B * CA; k++) {
      const s = sig[xo + k];
      dc[xo + k] -= dImg[k] * s * (1 - s);
    }
    return dg / gamma;
  }
  dImg.fill(0, 0, B * CA);
  for (let j = 0; j < N; j++) {
    const d1 = j * 2 * CA, d2 = d1 + CA;
    for (let r = 0; r < B; r++) {
      const fy = F[fyo + j * B + r], io = r * CA;
      let s = 0;
      for (let k = 0; k < CA; k++) {
        const g2 = dU[d2 + k];
        s += dU[d1 + k] * x[xo + io + k] + g2 * xhat[io + k];
        dImg[io + k] += fy * g2;
      }
      dFY[j * B + r] = s;
    }
  }
  for (let k = 0; k < B * CA; k++) {
    const s = sig[xo + k];
    dc[xo + k] -= dImg[k] * s * (1 - s);
  }
  return dg / gamma;
}

/** Eqs 21–24: the window (g_X, g_Y, σ², δ, γ) of raw[ro..ro+5] for an A×B image, into win[wo..]. */
export function windowParams(
  raw: Float32Array,
  ro: number,
  N: number,
  A: number,
  B: number,
  win: Float32Array,
  wo: number,
) {
  win[wo] = (raw[ro] + 1) * (A + 1) / 2; // Eq 22
  win[wo + 1] = (raw[ro + 1] + 1) * (B + 1) / 2; // Eq 23
  win[wo + 2] = Math.exp(raw[ro + 2]); // σ², Eq 21
  win[wo + 3] = Math.exp(raw[ro + 3]) * (Math.max(A, B) - 1) / (N - 1); // Eq 24
  win[wo + 4] = Math.exp(raw[ro + 4]); // γ
}

/**
 * ∂raw (5 values at dRaw[o..]) of one window, from ∂F_X, ∂F_Y and ∂γ, through Eqs 19–26 and
 * Eqs 21–24.
 */
export function windowBackward(
  F: Float32Array,
  fo: number,
  dFX: Float32Array,
  dFY: Float32Array,
  N: number,
  win: Float32Array,
  wo: number,
  dGamma: number,
  dRaw: Float32Array,
  o: number,
  A: number,
  B: number,
) {
  const gx = new Float64Array(3), gy = new Float64Array(3);
  bankBackward(F, fo, dFX, N, A, win[wo], win[wo + 3], win[wo + 2], gx);
  bankBackward(F, fo + N * A, dFY, N, B, win[wo + 1], win[wo + 3], win[wo + 2], gy);
  dRaw[o] = gx[0] * (A + 1) / 2; // Eq 22
  dRaw[o + 1] = gy[0] * (B + 1) / 2; // Eq 23
  dRaw[o + 2] = (gx[2] + gy[2]) * win[wo + 2]; // σ² = exp(raw)
  dRaw[o + 3] = (gx[1] + gy[1]) * win[wo + 3]; // δ = exp(raw)·(max(A,B) − 1)/(N − 1)
  dRaw[o + 4] = dGamma * win[wo + 4]; // γ = exp(raw)
}

/** One LSTM step for a batch of n: gates = inputs·kernel + bias (gate order i, f, o, g), then c and h. */
export function lstmForward(
  gemm: Gemm,
  n: number,
  H: number,
  inputs: Float32Array,
  inSize: number,
  kernel: Float32Array,
  bias: Float32Array,
  cPrev: Float32Array | null,
  gates: Float32Array,
  cOut: Float32Array,
  hOut: Float32Array,
): void {
  const G = 4 * H;
  for (let b = 0; b < n; b++) gates.set(bias, b * G);
  gemm(false, false, n, G, inSize, inputs, inSize, kernel, G, 1, gates, G);
  for (let b = 0; b < n; b++) {
    const go = b * G, ho = b * H;
    for (let k = 0; k < 3 * H; k++) gates[go + k] = sigmoid(gates[go + k]);
    for (let k = 3 * H; k < G; k++) gates[go + k] = tanh(gates[go + k]);
    for (let k = 0; k < H; k++) {
      const c = gates[go + H + k] * (cPrev ? cPrev[ho + k] : 0) + gates[go + k] * gates[go + 3 * H + k];
      cOut[ho + k] = c;
      hOut[ho + k] = gates[go + 2 * H + k] * tanh(c);
    }
  }
}

/** Adds the column sums of the `rows` × `cols` matrix m to `into` (bias gradients). */
export function addColumnSums(m: Float32Array, rows: number, cols: number, into: Float32Array): Float32Array {
  for (let r = 0; r < rows; r++) for (let k = 0; k < cols; k++) into[k] += m[r * cols + k];
  return into;
}

/**
 * Backward through one LSTM step. dh is ∂h_t (read), dc carries ∂c_t in and ∂c_{t−1} out.
 * Writes the pre-activation gate gradients over `gates`' slot in `dGates`.
 */
export function lstmBackward(
  n: number,
  H: number,
  gates: Float32Array,
  cNow: Float32Array,
  cPrev: Float32Array | null,
  dh: Float32Array,
  dc: Float32Array,
  dGates: Float32Array,
): void {
  const G = 4 * H;
  for (let b = 0; b < n; b++) {
    const go = b * G, ho = b * H;
    for (let k = 0; k < H; k++) {
      const i = gates[go + k], f = gates[go + H + k], o = gates[go + 2 * H + k], g = gates[go + 3 * H + k];
      const tc = tanh(cNow[ho + k]);
      const dhk = dh[ho + k];
      const dck = dc[ho + k] + dhk * o * (1 - tc * tc);
      const cp = cPrev ? cPrev[ho + k] : 0;
      dGates[go + k] = dck * g * i * (1 - i);
      dGates[go + H + k] = dck * cp * f * (1 - f);
      dGates[go + 2 * H + k] = dhk * tc * o * (1 - o);
      dGates[go + 3 * H + k] = dck * i * (1 - g * g);
      dc[ho + k] = dck * f;
    }
  }
}

/**
 * Buffers and code for one configuration and batch size. {@link forward} keeps what
 * {@link backward} needs; a backward pass always refers to the latest forward pass.
 */
export class FusedDraw {
  /** The configuration. */
  readonly config: DrawConfig;
  /** The batch size the buffers are sized for. */
  readonly batch: number;
  private readonly gemm: Gemm;
  // sizes
  private readonly D: number;
  private readonly R: number; // read vector length
  private readonly W: number; // write output length
  private readonly S: number; // head size
  private readonly wOff: number; // offset of the write output in the head
  private readonly rOff: number; // offset of the next read window in the head (−1: none)
  private readonly encIn: number; // R + 2H
  private readonly decIn: number; // z + H
  // per-step stores, [T, batch, ·]
  private readonly sEncIn: Float32Array;
  private readonly sEncG: Float32Array;
  private readonly sEncC: Float32Array;
  private readonly sEncH: Float32Array;
  private readonly sQ: Float32Array;
  private readonly sDecIn: Float32Array;
  private readonly sDecG: Float32Array;
  private readonly sDecC: Float32Array;
  private readonly sDecH: Float32Array;
  private readonly sHead: Float32Array;
  private readonly sSig: Float32Array; // σ(c_{t−1}), [T, batch, D]
  private readonly sReadF: Float32Array; // [T, batch, N(A+B)]
  private readonly sReadU: Float32Array; // F_Y·[x, x̂], [T, batch, N·2C·A]
  private readonly sWriteF: Float32Array;
  private readonly sWriteV: Float32Array; // w·F_X, [T, batch, N·C·A]
  private readonly sReadWin: Float32Array; // [T, batch, 5]: gX, gY, σ², δ, γ
  private readonly sWriteWin: Float32Array;
  private readonly canvas: Float32Array; // c_T, [batch, D]
  private readonly head0: Float32Array; // the read window raw of step 1, [batch, 5]
  private readonly h0dec: Float32Array; // [batch, H]
  private x: Float32Array = new Float32Array(0);
  private eps: Float32Array = new Float32Array(0);
  private weights: FusedWeights = {};
  private headKernel: Float32Array;
  private headBias: Float32Array;
  private forwards = 0;
  private grad?: { encG: Float32Array; decG: Float32Array; q: Float32Array; head: Float32Array };
  private scratch: Float32Array;

  /** Sizes every buffer for `config` and `batch` images; `gemm` defaults to native BLAS or TS. */
  constructor(config: DrawConfig, batch: number, gemm?: Gemm) {
    this.config = validateConfig(config);
    if (!Number.isInteger(batch) || batch < 1) {
      throw new RangeError(`Cannot build fused engine as batch must be an integer >= 1: current value is ${batch}`);
    }
    this.batch = batch;
    this.gemm = gemm ?? openCblas()?.gemm ?? jsGemm;
    const { T, hidden: H, z, readN, writeN, channels: C, width: A, height: B } = config;
    const D = imageSize(config);
    this.D = D;
    this.R = readN > 0 ? 2 * readN * readN * C : 2 * D;
    this.W = writeN > 0 ? writeN * writeN * C : D;
    this.wOff = writeN > 0 ? 5 : 0;
    this.rOff = readN > 0 ? this.wOff + this.W : -1;
    this.S = this.wOff + this.W + (readN > 0 ? 5 : 0);
    this.encIn = this.R + 2 * H;
    this.decIn = z + H;
    const n = batch;
    const f = (k: number) => new Float32Array(T * n * k);
    this.sEncIn = f(this.encIn);
    this.sEncG = f(4 * H);
    this.sEncC = f(H);
    this.sEncH = f(H);
    this.sQ = f(2 * z);
    this.sDecIn = f(this.decIn);
    this.sDecG = f(4 * H);
    this.sDecC = f(H);
    this.sDecH = f(H);
    this.sHead = f(this.S);
    this.sSig = f(D);
    this.sReadF = f(readN * (A + B));
    this.sReadU = f(readN * 2 * C * A);
    this.sWriteF = f(writeN * (A + B));
    this.sWriteV = f(writeN * C * A);
    this.sReadWin = f(readN > 0 ? 5 : 0);
    this.sWriteWin = f(writeN > 0 ? 5 : 0);
    this.canvas = new Float32Array(n * D);
    this.head0 = new Float32Array(n * 5);
    this.h0dec = new Float32Array(n * H);
    this.headKernel = new Float32Array(H * this.S);
    this.headBias = new Float32Array(this.S);
    this.scratch = new Float32Array(Math.max(D * 2, 1));
  }

  /**
   * Eq 5 (the encoder) or Eq 7 (the decoder) forward over the batch at step t: one LSTM cell,
   * its stores found by `at(store, width, index)`, the previous cell state at index `prev`.
   */
  private cell(
    w: FusedWeights,
    name: "encoder" | "decoder",
    input: Float32Array,
    width: number,
    t: number,
    prev: number,
    at: (store: Float32Array, k: number, i: number) => Float32Array,
  ) {
    const H = this.config.hidden, G = 4 * H;
    const [g, c, h] = name === "encoder" ? [this.sEncG, this.sEncC, this.sEncH] : [this.sDecG, this.sDecC, this.sDecH];
    const cPrev = t === 0 ? null : at(c, H, prev);
    const [kernel, bias] = [w[`${name}.kernel`], w[`${name}.bias`]];
    lstmForward(this.gemm, this.batch, H, input, width, kernel, bias, cPrev, at(g, G, t), at(c, H, t), at(h, H, t));
  }

  /**
   * Eq 5 or 7 backward at step t from the stores in `s`: ∂gates into dG, ∂input = ∂gates·Kᵀ into
   * dIn, and the step's share of the kernel and bias gradients added to gK and gB.
   */
  private cellBackward(
    t: number,
    s: { inp: Float32Array; g: Float32Array; c: Float32Array; width: number; kernel: Float32Array },
    dh: Float32Array,
    dc: Float32Array,
    dG: Float32Array,
    dIn: Float32Array,
    gK: Float32Array,
    gB: Float32Array,
  ) {
    const n = this.batch, H = this.config.hidden, G = 4 * H, I = s.width;
    const at = (store: Float32Array, k: number, tt: number) => store.subarray(tt * n * k, (tt + 1) * n * k);
    lstmBackward(n, H, at(s.g, G, t), at(s.c, H, t), t === 0 ? null : at(s.c, H, t - 1), dh, dc, dG);
    this.gemm(false, true, n, I, G, dG, G, s.kernel, G, 0, dIn, I);
    this.gemm(true, false, I, G, n, at(s.inp, I, t), I, dG, G, 1, gK, G);
    addColumnSums(dG, n, G, gB);
  }

  /** The concatenated decoder head (kernel [H, S], bias [S]) from the named weights. */
  private buildHead(w: FusedWeights, withRead = true) {
    const { hidden: H, readN, writeN } = this.config;
    const parts: [string, number][] = [];
    if (writeN > 0) parts.push(["write.window", 5]);
    parts.push(["write", this.W]);
    if (readN > 0) parts.push(["read", 5]);
    let col = 0;
    for (const [name, width] of parts) {
      if (name === "read" && !withRead) {
        for (let i = 0; i < H; i++) this.headKernel.fill(0, i * this.S + col, i * this.S + col + width);
        this.headBias.fill(0, col, col + width);
        continue;
      }
      const k = w[`${name}.kernel`], b = w[`${name}.bias`];
      for (let i = 0; i < H; i++) this.headKernel.set(k.subarray(i * width, (i + 1) * width), i * this.S + col);
      this.headBias.set(b, col);
      col += width;
    }
  }

  /** Eq 8 with Eq 18 or Eq 29: adds the write of every image to the canvas; windows go to step t's store. */
  private writeStep(head: Float32Array, t: number, canvas: Float32Array) {
    const { writeN: Nw, channels: C, width: A, height: B } = this.config;
    const n = this.batch, D = this.D, S = this.S;
    for (let b = 0; b < n; b++) {
      const co = b * D, ho = b * S;
      if (Nw === 0) {
        for (let k = 0; k < D; k++) canvas[co + k] += head[ho + k];
        continue;
      }
      const wo = (t * n + b) * 5, win = this.sWriteWin;
      windowParams(head, ho, Nw, A, B, win, wo);
      const fo = (t * n + b) * Nw * (A + B), F = this.sWriteF;
      bankForward(F, fo, Nw, A, win[wo], win[wo + 3], win[wo + 2]);
      bankForward(F, fo + Nw * A, Nw, B, win[wo + 1], win[wo + 3], win[wo + 2]);
      writeForward(
        head,
        ho + this.wOff,
        F,
        fo,
        this.sWriteV,
        (t * n + b) * Nw * C * A,
        canvas,
        co,
        Nw,
        A,
        B,
        C,
        1 / win[wo + 4],
      );
    }
  }

  /**
   * Eqs 13–16: the final canvas (logits, [batch, D], a view of an internal buffer) generated
   * from prior noise `eps` [T, batch, z]. Needs only the decoder's weights.
   */
  generate(weights: FusedWeights, eps: Float32Array): Float32Array {
    const { T, hidden: H, z } = this.config;
    const n = this.batch, D = this.D, Q = this.decIn, S = this.S;
    if (eps.length !== T * n * z) {
      throw new RangeError(`Cannot generate as eps must hold ${T * n * z} values: it holds ${eps.length}`);
    }
    this.forwards++; // the stores no longer hold a forward pass
    this.buildHead(weights, false);
    const canvas = this.canvas, gemm = this.gemm;
    for (let b = 0; b < n; b++) canvas.set(weights["canvas0"], b * D);
    // two alternating slots of the step stores are enough without a backward pass
    const slot = (s: Float32Array, k: number, i: number) => s.subarray((i % 2) * n * k, (i % 2 + 1) * n * k);
    for (let b = 0; b < n; b++) slot(this.sDecH, H, 1).set(weights["decoder.h0"], b * H);
    for (let t = 0; t < T; t++) {
      const decIn = slot(this.sDecIn, Q, t), hPrev = slot(this.sDecH, H, t + 1);
      for (let b = 0; b < n; b++) {
        decIn.set(eps.subarray((t * n + b) * z, (t * n + b + 1) * z), b * Q);
        decIn.set(hPrev.subarray(b * H, (b + 1) * H), b * Q + z);
      }
      this.cell(weights, "decoder", decIn, Q, t, t + 1, slot); // the other slot holds step t − 1
      const head = slot(this.sHead, S, t);
      for (let b = 0; b < n; b++) head.set(this.headBias, b * S);
      gemm(false, false, n, S, H, slot(this.sDecH, H, t), H, this.headKernel, S, 1, head, S);
      this.writeStep(head, 0, canvas);
    }
    return canvas;
  }

  /**
   * Eqs 1–12 on `x` [batch, D] (internal layout) with noise `eps` [T, batch, z]. Keeps what
   * {@link backward} needs.
   */
  forward(weights: FusedWeights, x: Float32Array, eps: Float32Array): FusedLoss {
    const { T, hidden: H, z, readN: Nr, channels: C, width: A, height: B } = this.config;
    const n = this.batch, D = this.D, R = this.R, E = this.encIn, Q = this.decIn, S = this.S;
    if (x.length !== n * D) {
      throw new RangeError(`Cannot run fused DRAW as x must hold ${n * D} values: it holds ${x.length}`);
    }
    if (eps.length !== T * n * z) {
      throw new RangeError(`Cannot run fused DRAW as eps must hold ${T * n * z} values: it holds ${eps.length}`);
    }
    this.forwards++;
    this.weights = weights;
    this.x = x;
    this.eps = eps;
    this.buildHead(weights);
    const gemm = this.gemm;
    const canvas = this.canvas;
    for (let b = 0; b < n; b++) {
      canvas.set(weights["canvas0"], b * D);
      this.h0dec.set(weights["decoder.h0"], b * H);
    }
    if (Nr > 0) {
      for (let b = 0; b < n; b++) this.head0.set(weights["read.bias"], b * 5);
      gemm(false, false, n, 5, H, this.h0dec, H, weights["read.kernel"], 5, 1, this.head0, 5);
    }
    const lz = new Float32Array(n), logRatio = new Float32Array(n);
    const xhat = this.scratch;
    for (let t = 0; t < T; t++) {
      const sig = this.sSig.subarray(t * n * D, (t + 1) * n * D);
      sigmoidInto(canvas, sig, n * D);
      const encIn = this.sEncIn.subarray(t * n * E, (t + 1) * n * E);
      const hDecPrev = t === 0 ? this.h0dec : this.sDecH.subarray((t - 1) * n * H, t * n * H);
      // Eqs 3–4 (17 or 27): the read vector
      for (let b = 0; b < n; b++) {
        const ro = b * E, xo = b * D;
        if (Nr === 0) {
          for (let k = 0; k < D; k++) {
            encIn[ro + k] = x[xo + k];
            encIn[ro + D + k] = x[xo + k] - sig[xo + k];
          }
        } else {
          const raw = t === 0 ? this.head0 : this.sHead;
          const rawOff = t === 0 ? b * 5 : ((t - 1) * n + b) * S + this.rOff;
          const wo = (t * n + b) * 5;
          windowParams(raw, rawOff, Nr, A, B, this.sReadWin, wo);
          const win = this.sReadWin;
          const fo = (t * n + b) * Nr * (A + B);
          const F = this.sReadF;
          bankForward(F, fo, Nr, A, win[wo], win[wo + 3], win[wo + 2]); // F_X
          bankForward(F, fo + Nr * A, Nr, B, win[wo + 1], win[wo + 3], win[wo + 2]); // F_Y
          readForward(
            x,
            xo,
            sig,
            xhat,
            F,
            fo,
            this.sReadU,
            (t * n + b) * Nr * 2 * C * A,
            encIn,
            ro,
            Nr,
            A,
            B,
            C,
            win[wo + 4],
            this.gemm,
          );
        }
        encIn.set(hDecPrev.subarray(b * H, (b + 1) * H), ro + R);
        if (t === 0) encIn.set(weights["encoder.h0"], ro + R + H);
        else encIn.set(this.sEncH.subarray(((t - 1) * n + b) * H, ((t - 1) * n + b + 1) * H), ro + R + H);
      }
      // Eq 5: the encoder
      const slice = (s: Float32Array, k: number, tt = t) => s.subarray(tt * n * k, (tt + 1) * n * k);
      this.cell(weights, "encoder", encIn, E, t, t - 1, slice);
      // Eqs 1–2, 6: the posterior and its sample
      const q = slice(this.sQ, 2 * z);
      for (let b = 0; b < n; b++) q.set(weights["posterior.bias"], b * 2 * z);
      gemm(false, false, n, 2 * z, H, slice(this.sEncH, H), H, weights["posterior.kernel"], 2 * z, 1, q, 2 * z);
      const decIn = slice(this.sDecIn, Q);
      for (let b = 0; b < n; b++) {
        let kl = 0, lr = 0;
        for (let k = 0; k < z; k++) {
          const mu = q[b * 2 * z + k], ls = q[b * 2 * z + z + k], e = eps[(t * n + b) * z + k];
          const sd = Math.exp(ls);
          const zz = mu + sd * e;
          decIn[b * Q + k] = zz;
          kl += mu * mu + sd * sd - 2 * ls - 1; // Eq 11
          lr += 0.5 * (e * e - zz * zz) + ls;
        }
        lz[b] += 0.5 * kl;
        logRatio[b] += lr;
        decIn.set(hDecPrev.subarray(b * H, (b + 1) * H), b * Q + z);
      }
      // Eq 7: the decoder
      this.cell(weights, "decoder", decIn, Q, t, t - 1, slice);
      // the head: write window, write output, next read window
      const head = slice(this.sHead, S);
      for (let b = 0; b < n; b++) head.set(this.headBias, b * S);
      gemm(false, false, n, S, H, slice(this.sDecH, H), H, this.headKernel, S, 1, head, S);
      this.writeStep(head, t, canvas); // Eq 8
    }
    // Eq 9
    const lx = new Float32Array(n);
    for (let b = 0; b < n; b++) {
      let s = 0;
      for (let k = b * D; k < (b + 1) * D; k++) {
        const c = canvas[k];
        s += Math.max(c, 0) + Math.log1p(Math.exp(-Math.abs(c))) - x[k] * c;
      }
      lx[b] = s;
    }
    return { lx, lz, logRatio };
  }

  /** The final canvas c_T of the latest forward pass, as logits, [batch, D] (a view). */
  get finalCanvas(): Float32Array {
    return this.canvas;
  }

  /**
   * The gradient of Σ_b (dlx[b]·Lx[b] + dlz[b]·Lz[b]) for the latest {@link forward}, with
   * respect to every weight, by name.
   */
  backward(dlx: Float32Array, dlz: Float32Array): FusedWeights {
    const { T, hidden: H, z, readN: Nr, writeN: Nw, channels: C, width: A, height: B } = this.config;
    const n = this.batch, D = this.D, R = this.R, E = this.encIn, Q = this.decIn, S = this.S, G = 4 * H;
    const w = this.weights, x = this.x, eps = this.eps, gemm = this.gemm;
    const slice = (s: Float32Array, k: number, tt: number) => s.subarray(tt * n * k, (tt + 1) * n * k);
    // the per-step gradient stores are reused from call to call (every slot is written before use)
    this.grad ??= {
      encG: new Float32Array(n * G), // one step at a time: the LSTM kernels' gradients accumulate per step
      decG: new Float32Array(n * G),
      q: new Float32Array(T * n * 2 * z),
      head: new Float32Array(T * n * S),
    };
    const { encG: dEg, decG: dDg, q: dQ, head: dHead } = this.grad;
    const E4 = this.encIn * G, Q4 = this.decIn * G;
    const gk = {
      enc: new Float32Array(E4),
      encB: new Float32Array(G),
      dec: new Float32Array(Q4),
      decB: new Float32Array(G),
    };
    const dc = new Float32Array(n * D); // ∂c_t
    for (let k = 0; k < n * D; k++) dc[k] = (sigmoid(this.canvas[k]) - x[k]) * dlx[Math.floor(k / D)];
    const dhDec = new Float32Array(n * H), dcDec = new Float32Array(n * H);
    const dhEnc = new Float32Array(n * H), dcEnc = new Float32Array(n * H);
    const dEncIn = new Float32Array(n * E), dDecIn = new Float32Array(n * Q);
    let dReadNext: Float32Array | null = null; // ∂ of the read window raw of step t+1, [n, 5]
    // step t's, written whole by windowBackward; two buffers taking turns with dReadNext
    let dRead: Float32Array | null = Nr > 0 ? new Float32Array(n * 5) : null;
    const dSpare: Float32Array | null = Nr > 0 ? new Float32Array(n * 5) : null;
    const maxN = Math.max(Nr, Nw, 1);
    const dFX = new Float32Array(maxN * A), dFY = new Float32Array(maxN * B);
    const dV = new Float32Array(maxN * 2 * C * A), xhat = this.scratch;
    const dImg = new Float32Array(B * C * A);
    for (let t = T - 1; t >= 0; t--) {
      const head = slice(this.sHead, S, t), dh = slice(dHead, S, t);
      // write backward: ∂image = ∂c_t
      for (let b = 0; b < n; b++) {
        const co = b * D, ho = b * S;
        if (Nw === 0) {
          dh.set(dc.subarray(co, co + D), ho);
        } else {
          const wo = (t * n + b) * 5, win = this.sWriteWin;
          const fo = (t * n + b) * Nw * (A + B), F = this.sWriteF;
          const dGamma = writeBackward(
            dc,
            co,
            head,
            ho + this.wOff,
            dh,
            ho + this.wOff,
            F,
            fo,
            this.sWriteV,
            (t * n + b) * Nw * C * A,
            dV,
            dFX,
            dFY,
            Nw,
            A,
            B,
            C,
            win[wo + 4],
          );
          windowBackward(F, fo, dFX, dFY, Nw, win, wo, dGamma, dh, ho, A, B);
        }
        if (dReadNext) dh.set(dReadNext.subarray(b * 5, b * 5 + 5), ho + this.rOff);
        else if (this.rOff >= 0) dh.fill(0, ho + this.rOff, ho + this.rOff + 5); // step T reads nothing after it
      }
      // the head: ∂h^dec_t += ∂head·Kᵀ
      gemm(false, true, n, H, S, dh, S, this.headKernel, S, 1, dhDec, H);
      // Eq 7 backward
      const dec = { inp: this.sDecIn, g: this.sDecG, c: this.sDecC, width: Q, kernel: w["decoder.kernel"] };
      this.cellBackward(t, dec, dhDec, dcDec, dDg, dDecIn, gk.dec, gk.decB);
      // Eqs 6, 10–11 backward
      const q = slice(this.sQ, 2 * z, t), dq = slice(dQ, 2 * z, t);
      for (let b = 0; b < n; b++) {
        for (let k = 0; k < z; k++) {
          const o = b * 2 * z + k;
          const mu = q[o], ls = q[o + z], sd = Math.exp(ls), dz = dDecIn[b * Q + k];
          dq[o] = dz + dlz[b] * mu;
          dq[o + z] = dz * eps[(t * n + b) * z + k] * sd + dlz[b] * (sd * sd - 1);
        }
      }
      gemm(false, true, n, H, 2 * z, dq, 2 * z, w["posterior.kernel"], 2 * z, 1, dhEnc, H);
      // Eq 5 backward
      const enc = { inp: this.sEncIn, g: this.sEncG, c: this.sEncC, width: E, kernel: w["encoder.kernel"] };
      this.cellBackward(t, enc, dhEnc, dcEnc, dEg, dEncIn, gk.enc, gk.encB);
      // ∂h^dec_{t−1} and ∂h^enc_{t−1}
      for (let b = 0; b < n; b++) {
        for (let k = 0; k < H; k++) {
          dhDec[b * H + k] = dDecIn[b * Q + z + k] + dEncIn[b * E + R + k];
          dhEnc[b * H + k] = dEncIn[b * E + R + H + k];
        }
      }
      // read backward, into ∂c_{t−1} through x̂ = x − σ(c_{t−1})
      const sig = slice(this.sSig, D, t);
      for (let b = 0; b < n; b++) {
        const ro = b * E, xo = b * D;
        if (Nr === 0) {
          for (let k = 0; k < D; k++) {
            const s = sig[xo + k];
            dc[xo + k] -= dEncIn[ro + D + k] * s * (1 - s);
          }
          continue;
        }
        const wo = (t * n + b) * 5, win = this.sReadWin;
        const fo = (t * n + b) * Nr * (A + B), F = this.sReadF;
        const dGamma = readBackward(
          dEncIn,
          slice(this.sEncIn, E, t),
          ro,
          x,
          xo,
          sig,
          xhat,
          dc,
          F,
          fo,
          this.sReadU,
          (t * n + b) * Nr * 2 * C * A,
          dV,
          dImg,
          dFX,
          dFY,
          Nr,
          A,
          B,
          C,
          win[wo + 4],
          this.gemm,
        );
        windowBackward(F, fo, dFX, dFY, Nr, win, wo, dGamma, dRead!, b * 5, A, B);
      }
      [dReadNext, dRead] = [dRead, dReadNext ?? dSpare];
    }
    // the other weight gradients: each one product over all T·batch rows
    const rows = T * n;
    const grads: FusedWeights = {};
    const colSum = (m: Float32Array, cols: number, count = rows) =>
      addColumnSums(m, count, cols, new Float32Array(cols));
    const product = (a: Float32Array, aCols: number, g: Float32Array, gCols: number) => {
      const out = new Float32Array(aCols * gCols);
      gemm(true, false, aCols, gCols, rows, a, aCols, g, gCols, 0, out, gCols);
      return out;
    };
    grads["encoder.kernel"] = gk.enc;
    grads["encoder.bias"] = gk.encB;
    grads["posterior.kernel"] = product(this.sEncH, H, dQ, 2 * z);
    grads["posterior.bias"] = colSum(dQ, 2 * z);
    grads["decoder.kernel"] = gk.dec;
    grads["decoder.bias"] = gk.decB;
    const headK = product(this.sDecH, H, dHead, S), headB = colSum(dHead, S);
    const parts: [string, number, number][] = [];
    if (Nw > 0) parts.push(["write.window", 0, 5]);
    parts.push(["write", this.wOff, this.W]);
    if (Nr > 0) parts.push(["read", this.rOff, 5]);
    for (const [name, off, width] of parts) {
      const k = new Float32Array(H * width);
      for (let i = 0; i < H; i++) k.set(headK.subarray(i * S + off, i * S + off + width), i * width);
      grads[`${name}.kernel`] = k;
      grads[`${name}.bias`] = headB.slice(off, off + width);
    }
    // step 1's read window came from h^dec_0 through the read weights directly
    const dh0 = colSum(dhDec, H, n);
    if (Nr > 0 && dReadNext) {
      const dr0 = colSum(dReadNext, 5, n);
      const kr = grads["read.kernel"], wr = w["read.kernel"], h0 = w["decoder.h0"];
      for (let i = 0; i < H; i++) for (let k = 0; k < 5; k++) kr[i * 5 + k] += h0[i] * dr0[k];
      for (let k = 0; k < 5; k++) grads["read.bias"][k] += dr0[k];
      // ∂h^dec_0 per image through the read window: Σ_b ∂raw_b·W_readᵀ
      for (let b = 0; b < n; b++) {
        for (let i = 0; i < H; i++) {
          let s = 0;
          for (let k = 0; k < 5; k++) s += dReadNext[b * 5 + k] * wr[i * 5 + k];
          dh0[i] += s;
        }
      }
    }
    grads["decoder.h0"] = dh0;
    grads["encoder.h0"] = colSum(dhEnc, H, n);
    grads["canvas0"] = colSum(dc, D, n);
    return grads;
  }

  /** Number of forward passes so far (a backward pass refers to the latest). */
  get passes(): number {
    return this.forwards;
  }

  /** Nothing to free: the buffers are garbage-collected. */
  dispose(): void {}
}

/**
 * Filterbank + read (Eq 27 on x and x̂ = x − s) and filterbank + write (Eq 29) for a batch of `n`
 * A×B images of C channels, on the fused engine's kernels, with their backward passes. For the
 * benches (bench/attention_bench.ts) and the spec, which compare them with the tfjs composition.
 */
export class AttentionKernels {
  private readonly F: Float32Array;
  private readonly U: Float32Array;
  private readonly win: Float32Array;
  private readonly scratch: Float32Array;
  private readonly dU: Float32Array;
  private readonly dImg: Float32Array;
  private readonly dFX: Float32Array;
  private readonly dFY: Float32Array;

  private readonly gemm?: Gemm;

  /** Buffers for `n` images; large per-image products go through native BLAS where it opens. */
  constructor(readonly N: number, readonly A: number, readonly B: number, readonly C: number, readonly n: number) {
    this.gemm = openCblas()?.gemm;
    this.F = new Float32Array(n * N * (A + B));
    this.U = new Float32Array(n * N * 2 * C * A);
    this.win = new Float32Array(n * 5);
    this.scratch = new Float32Array(B * C * A);
    this.dU = new Float32Array(N * 2 * C * A);
    this.dImg = new Float32Array(B * C * A);
    this.dFX = new Float32Array(N * A);
    this.dFY = new Float32Array(N * B);
  }

  /** The windows and filterbanks of every image from raw [n, 5]. */
  private banks(raw: Float32Array) {
    const { N, A, B, F, win } = this;
    for (let b = 0; b < this.n; b++) {
      windowParams(raw, b * 5, N, A, B, win, b * 5);
      const fo = b * N * (A + B);
      bankForward(F, fo, N, A, win[b * 5], win[b * 5 + 3], win[b * 5 + 2]);
      bankForward(F, fo + N * A, N, B, win[b * 5 + 1], win[b * 5 + 3], win[b * 5 + 2]);
    }
  }

  /**
   * Patches [n, N, 2C, N] read from images x [n, B, C, A] and x − s, or [n, N, C, N] from x alone
   * when s is null (the classifier's read of Section 4.1).
   */
  read(raw: Float32Array, x: Float32Array, s: Float32Array | null): Float32Array {
    const { N, A, B, C, n } = this, D = B * C * A, R = N * (s ? 2 : 1) * C * N;
    this.banks(raw);
    const out = new Float32Array(n * R);
    for (let b = 0; b < n; b++) {
      readForward(
        x,
        b * D,
        s,
        this.scratch,
        this.F,
        b * N * (A + B),
        this.U,
        b * N * 2 * C * A,
        out,
        b * R,
        N,
        A,
        B,
        C,
        this.win[b * 5 + 4],
        this.gemm,
      );
    }
    return out;
  }

  /**
   * Backward of {@link read} (after it): ∂raw [n, 5], and ∂c added into dS where s = σ(c) (the
   * canvas behind x̂ = x − σ(c)), from ∂patches.
   */
  readBackward(
    dP: Float32Array,
    P: Float32Array,
    x: Float32Array,
    s: Float32Array | null,
    dS: Float32Array,
  ): Float32Array {
    const { N, A, B, C, n, F, win } = this, D = B * C * A, R = N * (s ? 2 : 1) * C * N;
    const dRaw = new Float32Array(n * 5);
    for (let b = 0; b < n; b++) {
      const fo = b * N * (A + B);
      const dg = readBackward(
        dP.subarray(b * R),
        P.subarray(b * R),
        0,
        x,
        b * D,
        s,
        this.scratch,
        dS,
        F,
        fo,
        this.U,
        b * N * 2 * C * A,
        this.dU,
        this.dImg,
        this.dFX,
        this.dFY,
        N,
        A,
        B,
        C,
        win[b * 5 + 4],
        this.gemm,
      );
      windowBackward(F, fo, this.dFX, this.dFY, N, win, b * 5, dg, dRaw, b * 5, A, B);
    }
    return dRaw;
  }

  /** Canvases [n, B, C, A] written from patches w [n, N, C, N]; V is kept for the backward pass. */
  write(raw: Float32Array, w: Float32Array, V: Float32Array): Float32Array {
    const { N, A, B, C, n } = this, D = B * C * A;
    this.banks(raw);
    const canvas = new Float32Array(n * D);
    for (let b = 0; b < n; b++) {
      writeForward(
        w,
        b * N * C * N,
        this.F,
        b * N * (A + B),
        V,
        b * N * C * A,
        canvas,
        b * D,
        N,
        A,
        B,
        C,
        1 / this.win[b * 5 + 4],
      );
    }
    return canvas;
  }

  /** Backward of {@link write} (after it): ∂raw [n, 5], and ∂w into dw, from ∂canvas. */
  writeBackward(dc: Float32Array, w: Float32Array, V: Float32Array, dw: Float32Array): Float32Array {
    const { N, A, B, C, n, F, win } = this, D = B * C * A;
    const dRaw = new Float32Array(n * 5);
    for (let b = 0; b < n; b++) {
      const fo = b * N * (A + B);
      const dg = writeBackward(
        dc,
        b * D,
        w,
        b * N * C * N,
        dw,
        b * N * C * N,
        F,
        fo,
        V,
        b * N * C * A,
        this.dU,
        this.dFX,
        this.dFY,
        N,
        A,
        B,
        C,
        win[b * 5 + 4],
      );
      windowBackward(F, fo, this.dFX, this.dFY, N, win, b * 5, dg, dRaw, b * 5, A, B);
    }
    return dRaw;
  }
}
