/**
 * An independent float64 reference of DRAW, in plain loops, one image at a time, written from the
 * paper's equations without tfjs. The spec compares the tfjs model to it (values), and takes
 * central finite differences of it (gradients) where float32 differences would be too noisy.
 *
 * Layouts match docs/checkpoint.md: images flat in (row b, channel c, column a) order, weight
 * kernels [in, out] row-major.
 */
import type { DrawConfig } from "../src/config.ts";

export type RefWeights = Record<string, Float64Array>;

export interface RefWindow {
  gX: number;
  gY: number;
  sigma2: number;
  delta: number;
  gamma: number;
}

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));
const softplus = (v: number) => Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v)));

/** Eqs 21–24. */
export function refWindow(raw: ArrayLike<number>, N: number, A: number, B: number): RefWindow {
  return {
    gX: (A + 1) / 2 * (raw[0] + 1),
    gY: (B + 1) / 2 * (raw[1] + 1),
    sigma2: Math.exp(raw[2]),
    delta: (Math.max(A, B) - 1) / (N - 1) * Math.exp(raw[3]),
    gamma: Math.exp(raw[4]),
  };
}

/** Eqs 19–20 and 25–26 for one axis: a [N, size] matrix, pixels and filters counted from 1. */
export function refBank(g: number, delta: number, sigma2: number, N: number, size: number): Float64Array {
  const F = new Float64Array(N * size);
  for (let i = 1; i <= N; i++) {
    const mu = g + (i - N / 2 - 0.5) * delta;
    let max = -Infinity;
    for (let a = 1; a <= size; a++) max = Math.max(max, -((a - mu) ** 2) / (2 * sigma2));
    let Z = 0;
    for (let a = 1; a <= size; a++) Z += Math.exp(-((a - mu) ** 2) / (2 * sigma2) - max);
    for (let a = 1; a <= size; a++) {
      F[(i - 1) * size + (a - 1)] = Math.exp(-((a - mu) ** 2) / (2 * sigma2) - max) / Z;
    }
  }
  return F;
}

/** Eq 27 on one image of C channels: γ F_Y x F_Xᵀ → patch in (j, c, i) order. */
export function refRead(
  img: ArrayLike<number>,
  C: number,
  win: RefWindow,
  N: number,
  A: number,
  B: number,
): Float64Array {
  const FX = refBank(win.gX, win.delta, win.sigma2, N, A);
  const FY = refBank(win.gY, win.delta, win.sigma2, N, B);
  const out = new Float64Array(N * C * N);
  for (let j = 0; j < N; j++) {
    for (let c = 0; c < C; c++) {
      for (let i = 0; i < N; i++) {
        let s = 0;
        for (let b = 0; b < B; b++) {
          for (let a = 0; a < A; a++) s += FY[j * B + b] * img[(b * C + c) * A + a] * FX[i * A + a];
        }
        out[(j * C + c) * N + i] = win.gamma * s;
      }
    }
  }
  return out;
}

/** Eq 29 on one patch: (1/γ) F_Yᵀ w F_X → image in (b, c, a) order. */
export function refWrite(
  patch: ArrayLike<number>,
  C: number,
  win: RefWindow,
  N: number,
  A: number,
  B: number,
): Float64Array {
  const FX = refBank(win.gX, win.delta, win.sigma2, N, A);
  const FY = refBank(win.gY, win.delta, win.sigma2, N, B);
  const out = new Float64Array(B * C * A);
  for (let b = 0; b < B; b++) {
    for (let c = 0; c < C; c++) {
      for (let a = 0; a < A; a++) {
        let s = 0;
        for (let j = 0; j < N; j++) {
          for (let i = 0; i < N; i++) s += FY[j * B + b] * patch[(j * C + c) * N + i] * FX[i * A + a];
        }
        out[(b * C + c) * A + a] = s / win.gamma;
      }
    }
  }
  return out;
}

/** b = W(a): out[o] = bias[o] + Σ_i a[i] K[i, o]. */
export function refLinear(a: ArrayLike<number>, K: Float64Array, bias: Float64Array): Float64Array {
  const out = Float64Array.from(bias);
  const n = bias.length;
  for (let i = 0; i < a.length; i++) {
    for (let o = 0; o < n; o++) out[o] += a[i] * K[i * n + o];
  }
  return out;
}

/** LSTM with forget gates, gate order (i, f, o, g). */
export function refLstm(
  input: number[],
  h: Float64Array,
  c: Float64Array,
  K: Float64Array,
  bias: Float64Array,
): { h: Float64Array; c: Float64Array } {
  const H = h.length;
  const g = refLinear([...input, ...h], K, bias);
  const hn = new Float64Array(H);
  const cn = new Float64Array(H);
  for (let k = 0; k < H; k++) {
    const i = sigmoid(g[k]), f = sigmoid(g[H + k]), o = sigmoid(g[2 * H + k]), u = Math.tanh(g[3 * H + k]);
    cn[k] = f * c[k] + i * u;
    hn[k] = o * Math.tanh(cn[k]);
  }
  return { h: hn, c: cn };
}

/** Everything the reference computes for one image. */
export interface RefResult {
  lx: number;
  lz: number;
  /** log p(z) − log q(z|x) of the drawn z, summed over steps and units: the importance weight's log less −Lx. */
  logRatio: number;
  /** c_t for t = 0..T, logits in (b, c, a) order. */
  canvases: Float64Array[];
  /** write(h^dec_t) for t = 1..T. */
  writes: Float64Array[];
}

function decoderWrite(w: RefWeights, cfg: DrawConfig, h: Float64Array): Float64Array {
  const out = refLinear(h, w["write.kernel"], w["write.bias"]);
  if (cfg.writeN === 0) return out; // Eq 18
  const win = refWindow(
    refLinear(h, w["write.window.kernel"], w["write.window.bias"]),
    cfg.writeN,
    cfg.width,
    cfg.height,
  );
  return refWrite(out, cfg.channels, win, cfg.writeN, cfg.width, cfg.height); // Eq 29
}

/** Eqs 3–12 for one image x (flat, (b, c, a) order) with noise eps[t][k]. */
export function refDraw(w: RefWeights, cfg: DrawConfig, x: ArrayLike<number>, eps: number[][]): RefResult {
  const { hidden: H, z: Z, channels: C, width: A, height: B } = cfg;
  const D = x.length;
  let enc: { h: Float64Array; c: Float64Array } = { h: Float64Array.from(w["encoder.h0"]), c: new Float64Array(H) };
  let dec: { h: Float64Array; c: Float64Array } = { h: Float64Array.from(w["decoder.h0"]), c: new Float64Array(H) };
  let canvas = Float64Array.from(w["canvas0"]);
  const canvases = [canvas];
  const writes: Float64Array[] = [];
  let lz = 0, logRatio = 0;
  for (let t = 0; t < cfg.T; t++) {
    const xHat = Array.from({ length: D }, (_, k) => x[k] - sigmoid(canvas[k])); // Eq 3
    let r: number[];
    if (cfg.readN === 0) {
      r = [...Array.from(x), ...xHat]; // Eq 17
    } else {
      const win = refWindow(refLinear(dec.h, w["read.kernel"], w["read.bias"]), cfg.readN, A, B);
      const both = new Float64Array(D * 2); // x and x̂ as 2C channels
      for (let b = 0; b < B; b++) {
        for (let c = 0; c < C; c++) {
          for (let a = 0; a < A; a++) {
            both[(b * 2 * C + c) * A + a] = x[(b * C + c) * A + a];
            both[(b * 2 * C + C + c) * A + a] = xHat[(b * C + c) * A + a];
          }
        }
      }
      r = Array.from(refRead(both, 2 * C, win, cfg.readN, A, B)); // Eq 27
    }
    enc = refLstm([...r, ...dec.h], enc.h, enc.c, w["encoder.kernel"], w["encoder.bias"]); // Eq 5
    const q = refLinear(enc.h, w["posterior.kernel"], w["posterior.bias"]);
    const zt: number[] = [];
    for (let k = 0; k < Z; k++) {
      const mu = q[k], ls = q[Z + k]; // Eqs 1–2
      const z = mu + Math.exp(ls) * eps[t][k]; // Eq 6
      zt.push(z);
      lz += 0.5 * (mu * mu + Math.exp(2 * ls) - 2 * ls - 1); // Eq 11
      // log N(z; 0, 1) − log N(z; μ, σ²), where (z − μ)/σ = ε: the ½ log 2π of each cancels
      logRatio += -0.5 * z * z + 0.5 * eps[t][k] * eps[t][k] + ls;
    }
    dec = refLstm(zt, dec.h, dec.c, w["decoder.kernel"], w["decoder.bias"]); // Eq 7
    const wr = decoderWrite(w, cfg, dec.h);
    writes.push(wr);
    canvas = canvas.map((v, k) => v + wr[k]); // Eq 8
    canvases.push(canvas);
  }
  let lx = 0;
  for (let k = 0; k < D; k++) lx += softplus(canvas[k]) - x[k] * canvas[k]; // Eq 9
  return { lx, lz, logRatio, canvases, writes };
}

/** Eqs 13–15: generation from prior noise, decoder only. Returns c_T. */
export function refGenerate(w: RefWeights, cfg: DrawConfig, eps: number[][]): Float64Array {
  let dec: { h: Float64Array; c: Float64Array } = {
    h: Float64Array.from(w["decoder.h0"]),
    c: new Float64Array(cfg.hidden),
  };
  let canvas = Float64Array.from(w["canvas0"]);
  for (let t = 0; t < cfg.T; t++) {
    dec = refLstm(eps[t], dec.h, dec.c, w["decoder.kernel"], w["decoder.bias"]);
    const wr = decoderWrite(w, cfg, dec.h);
    canvas = canvas.map((v, k) => v + wr[k]);
  }
  return canvas;
}

/** Central finite differences of `lossAt()` with respect to each entry of `params` (changed in place, then restored). */
export function centralDifferences(params: Float64Array, lossAt: () => number, h = 1e-6): number[] {
  return Array.from(params, (_, k) => {
    const keep = params[k];
    params[k] = keep + h;
    const up = lossAt();
    params[k] = keep - h;
    const down = lossAt();
    params[k] = keep;
    return (up - down) / (2 * h);
  });
}
