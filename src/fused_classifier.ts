/**
 * The classifier of Section 4.1 on the fused engine's kernels: glimpses through Eqs 19–27 (image
 * only), an LSTM, and a linear layer to class scores, forward and backward by hand on
 * Float32Arrays with native products. classifierForward uses it when the fused engine is on; the
 * spec checks it against the tfjs composition.
 *
 * @module
 */
import type { ClassifierConfig } from "./config.ts";
import {
  addColumnSums,
  bankForward,
  type FusedWeights,
  lstmBackward,
  lstmForward,
  readBackward,
  readForward,
  windowBackward,
  windowParams,
} from "./fused.ts";
import { type Gemm, jsGemm, openCblas } from "./gemm.ts";

/** Buffers and code for one classifier configuration and batch size. */
export class FusedClassifier {
  /** The configuration. */
  readonly config: ClassifierConfig;
  /** The batch size the buffers are sized for. */
  readonly batch: number;
  private readonly gemm: Gemm;
  private readonly R: number; // glimpse length N·N·C
  private readonly sIn: Float32Array; // [glimpses, n, R + H]: glimpse, h_{t−1}
  private readonly sG: Float32Array; // gates
  private readonly sC: Float32Array;
  private readonly sH: Float32Array;
  private readonly sRaw: Float32Array; // [glimpses, n, 5]
  private readonly sWin: Float32Array;
  private readonly sF: Float32Array; // [glimpses, n, N(A + B)]
  private readonly sU: Float32Array; // [glimpses, n, N·C·A]
  private readonly h0: Float32Array;
  private x: Float32Array = new Float32Array(0);
  private weights: FusedWeights = {};
  private forwards = 0;

  /** Sizes the buffers; `gemm` defaults to native BLAS or TypeScript. */
  constructor(config: ClassifierConfig, batch: number, gemm?: Gemm) {
    this.config = config;
    this.batch = batch;
    this.gemm = gemm ?? openCblas()?.gemm ?? jsGemm;
    const { glimpses: T, hidden: H, readN: N, channels: C, width: A, height: B } = config;
    this.R = N * N * C;
    const f = (k: number) => new Float32Array(T * batch * k);
    this.sIn = f(this.R + H);
    this.sG = f(4 * H);
    this.sC = f(H);
    this.sH = f(H);
    this.sRaw = f(5);
    this.sWin = f(5);
    this.sF = f(N * (A + B));
    this.sU = f(N * C * A);
    this.h0 = new Float32Array(batch * H);
  }

  /** Nothing to free: the buffers are garbage-collected. */
  dispose(): void {}

  /** Forward passes so far (a backward pass refers to the latest). */
  get passes(): number {
    return this.forwards;
  }

  /** Class scores [batch, classes] for images x [batch, B, C, A] (internal layout). */
  forward(weights: FusedWeights, x: Float32Array): Float32Array {
    const { glimpses: T, hidden: H, readN: N, channels: C, width: A, height: B, classes: K } = this.config;
    const n = this.batch, R = this.R, E = R + H, D = B * C * A, G = 4 * H;
    if (x.length !== n * D) {
      throw new RangeError(`Cannot classify as x must hold ${n * D} values: it holds ${x.length}`);
    }
    this.forwards++;
    this.weights = weights;
    this.x = x;
    const gemm = this.gemm, slice = (s: Float32Array, k: number, t: number) => s.subarray(t * n * k, (t + 1) * n * k);
    for (let b = 0; b < n; b++) this.h0.set(weights["h0"], b * H);
    for (let t = 0; t < T; t++) {
      const hPrev = t === 0 ? this.h0 : slice(this.sH, H, t - 1);
      const raw = slice(this.sRaw, 5, t), inp = slice(this.sIn, E, t);
      for (let b = 0; b < n; b++) raw.set(weights["read.bias"], b * 5);
      gemm(false, false, n, 5, H, hPrev, H, weights["read.kernel"], 5, 1, raw, 5); // Eq 21
      for (let b = 0; b < n; b++) {
        const wo = (t * n + b) * 5, win = this.sWin, fo = (t * n + b) * N * (A + B);
        windowParams(raw, b * 5, N, A, B, win, wo);
        bankForward(this.sF, fo, N, A, win[wo], win[wo + 3], win[wo + 2]);
        bankForward(this.sF, fo + N * A, N, B, win[wo + 1], win[wo + 3], win[wo + 2]);
        readForward(
          x,
          b * D,
          null,
          x,
          this.sF,
          fo,
          this.sU,
          (t * n + b) * N * C * A,
          inp,
          b * E,
          N,
          A,
          B,
          C,
          win[wo + 4],
          this.gemm,
        );
        inp.set(hPrev.subarray(b * H, (b + 1) * H), b * E + R);
      }
      lstmForward(
        gemm,
        n,
        H,
        inp,
        E,
        weights["lstm.kernel"],
        weights["lstm.bias"],
        t === 0 ? null : slice(this.sC, H, t - 1),
        slice(this.sG, G, t),
        slice(this.sC, H, t),
        slice(this.sH, H, t),
      );
    }
    const logits = new Float32Array(n * K);
    for (let b = 0; b < n; b++) logits.set(weights["out.bias"], b * K);
    gemm(false, false, n, K, H, slice(this.sH, H, T - 1), H, weights["out.kernel"], K, 1, logits, K);
    return logits;
  }

  /** Gradient of Σ dLogits ⊙ logits for the latest forward pass, by weight name. */
  backward(dLogits: Float32Array): FusedWeights {
    const { glimpses: T, hidden: H, readN: N, channels: C, width: A, height: B, classes: K } = this.config;
    const n = this.batch, R = this.R, E = R + H, D = B * C * A, G = 4 * H;
    const w = this.weights, x = this.x, gemm = this.gemm;
    const slice = (s: Float32Array, k: number, t: number) => s.subarray(t * n * k, (t + 1) * n * k);
    const colSum = (m: Float32Array, cols: number, into: Float32Array) => addColumnSums(m, n, cols, into);
    const g: FusedWeights = {
      "h0": new Float32Array(H),
      "lstm.kernel": new Float32Array(E * G),
      "lstm.bias": new Float32Array(G),
      "read.kernel": new Float32Array(H * 5),
      "read.bias": new Float32Array(5),
      "out.kernel": new Float32Array(H * K),
      "out.bias": new Float32Array(K),
    };
    const hLast = slice(this.sH, H, T - 1);
    const dh = new Float32Array(n * H), dc = new Float32Array(n * H);
    gemm(false, true, n, H, K, dLogits, K, w["out.kernel"], K, 0, dh, H);
    gemm(true, false, H, K, n, hLast, H, dLogits, K, 0, g["out.kernel"], K);
    colSum(dLogits, K, g["out.bias"]);
    const dG = new Float32Array(n * G), dIn = new Float32Array(n * E), dRaw = new Float32Array(n * 5);
    const dU = new Float32Array(N * C * A), dFX = new Float32Array(N * A), dFY = new Float32Array(N * B);
    for (let t = T - 1; t >= 0; t--) {
      const hPrev = t === 0 ? this.h0 : slice(this.sH, H, t - 1);
      lstmBackward(
        n,
        H,
        slice(this.sG, G, t),
        slice(this.sC, H, t),
        t === 0 ? null : slice(this.sC, H, t - 1),
        dh,
        dc,
        dG,
      );
      gemm(false, true, n, E, G, dG, G, w["lstm.kernel"], G, 0, dIn, E);
      gemm(true, false, E, G, n, slice(this.sIn, E, t), E, dG, G, 1, g["lstm.kernel"], G);
      colSum(dG, G, g["lstm.bias"]);
      const inp = slice(this.sIn, E, t);
      for (let b = 0; b < n; b++) {
        const wo = (t * n + b) * 5, fo = (t * n + b) * N * (A + B);
        const dGamma = readBackward(
          dIn,
          inp,
          b * E,
          x,
          b * D,
          null,
          x,
          x,
          this.sF,
          fo,
          this.sU,
          (t * n + b) * N * C * A,
          dU,
          dU,
          dFX,
          dFY,
          N,
          A,
          B,
          C,
          this.sWin[wo + 4],
          this.gemm,
        );
        windowBackward(this.sF, fo, dFX, dFY, N, this.sWin, wo, dGamma, dRaw, b * 5, A, B);
        for (let k = 0; k < H; k++) dh[b * H + k] = dIn[b * E + R + k];
      }
      gemm(false, true, n, H, 5, dRaw, 5, w["read.kernel"], 5, 1, dh, H); // ∂h_{t−1} through Eq 21
      gemm(true, false, H, 5, n, hPrev, H, dRaw, 5, 1, g["read.kernel"], 5);
      colSum(dRaw, 5, g["read.bias"]);
    }
    colSum(dh, H, g["h0"]);
    return g;
  }
}
