/**
 * DRAW's selective attention (Section 3.2–3.3): the Gaussian filterbank and the read and write
 * operations built from it.
 *
 * Index convention, written down once: the paper counts from 1. Filter i runs over 1..N and image
 * column a over 1..A (row b over 1..B), so a window with g̃ = 0 is centred on (A+1)/2, the exact
 * middle of the image, and with δ̃ = 1 its outermost filters sit on the first and last pixels.
 *
 * Image layout inside draw.ts is [batch, B, C, A]: row, then channel, then column. With it both
 * F_Y·x and x·F_Xᵀ are plain batched matrix products for any number of channels, and every channel
 * sees the same filters (Section 3.3).
 *
 * @module
 */
import * as tf from "./tf.ts";

/** The five attention parameters of Eqs 21–24, each shaped [batch, 1]. */
export interface AttentionWindow {
  /** Grid centre column g_X (Eq 22), 1-indexed pixels. */
  gX: tf.Tensor2D;
  /** Grid centre row g_Y (Eq 23), 1-indexed pixels. */
  gY: tf.Tensor2D;
  /** Isotropic filter variance σ² (Eq 21). */
  sigma2: tf.Tensor2D;
  /** Stride δ between adjacent filters (Eq 24), pixels. */
  delta: tf.Tensor2D;
  /** Intensity γ (Eq 21). */
  gamma: tf.Tensor2D;
}

/** Horizontal and vertical filterbanks: F_X is [batch, N, A], F_Y is [batch, N, B]. */
export interface Filterbank {
  /** F_X of Eq 25, [batch, N, A]. */
  FX: tf.Tensor3D;
  /** F_Y of Eq 26, [batch, N, B]. */
  FY: tf.Tensor3D;
}

function checkN(N: number): void {
  if (!Number.isInteger(N) || N < 2) {
    throw new RangeError(
      `Cannot build filterbank as N must be an integer >= 2 (Eq 24 divides by N - 1): current value is ${N}`,
    );
  }
}

/**
 * DRAW Eqs 21–24: maps the linear output (g̃_X, g̃_Y, log σ², log δ̃, log γ) to window parameters
 * for an A×B image and an N×N grid.
 *
 * @example
 * ```ts
 * import * as tf from "./tf.ts";
 * import { attentionWindow } from "./attention.ts";
 * const w = attentionWindow(tf.zeros([1, 5]), 3, 5, 5); // centred, covering the image
 * ```
 */
export function attentionWindow(raw: tf.Tensor2D, N: number, A: number, B: number): AttentionWindow {
  checkN(N);
  if (raw.rank !== 2 || raw.shape[1] !== 5) {
    throw new TypeError(
      `Cannot compute attention window as raw must be [batch, 5]: current shape is [${raw.shape}]`,
    );
  }
  return tf.tidy(() => {
    const [gXt, gYt, rest] = tf.split(raw, [1, 1, 3], 1);
    const [sigma2, deltaT, gamma] = tf.split(tf.exp(rest), 3, 1); // log-scale outputs, Eq 21
    return {
      gX: tf.mul(tf.add(gXt, 1), (A + 1) / 2) as tf.Tensor2D, // Eq 22
      gY: tf.mul(tf.add(gYt, 1), (B + 1) / 2) as tf.Tensor2D, // Eq 23
      sigma2: sigma2 as tf.Tensor2D,
      delta: tf.mul(deltaT, (Math.max(A, B) - 1) / (N - 1)) as tf.Tensor2D, // Eq 24
      gamma: gamma as tf.Tensor2D,
    };
  });
}

/** Filter means along one axis, Eqs 19–20: μ^i = g + (i − N/2 − 0.5)·δ for i = 1..N. [batch, N] */
export function filterMeans(g: tf.Tensor2D, delta: tf.Tensor2D, N: number): tf.Tensor2D {
  checkN(N);
  return tf.tidy(() => {
    const offsets = tf.tensor2d(Array.from({ length: N }, (_, k) => k + 1 - N / 2 - 0.5), [1, N]);
    return tf.add(g, tf.mul(offsets, delta)); // [batch, N]
  });
}

/** One filterbank matrix, Eqs 25–26, rows normalised over `size` pixels. [batch, N, size] */
function bank(mu: tf.Tensor2D, sigma2: tf.Tensor2D, size: number): tf.Tensor3D {
  const [batch, N] = mu.shape;
  const pixels = tf.tensor3d(Float32Array.from({ length: size }, (_, k) => k + 1), [1, 1, size]);
  const d = tf.sub(pixels, tf.reshape(mu, [batch, N, 1])); // [batch, N, size]
  const logits = tf.mul(tf.square(d), tf.reshape(tf.div(-0.5, sigma2), [batch, 1, 1]));
  // Z_X of Eq 25 makes each row sum to 1, so a row is a softmax over pixels. tf.softmax subtracts
  // the row maximum before exponentiating: exact for every window, never 0/0 even when the window
  // lies far off the image (all of the row's weight then falls on the nearest edge pixel).
  return tf.softmax(logits) as tf.Tensor3D;
}

/**
 * DRAW Eqs 19–20, 25–26: the horizontal (F_X, [batch, N, A]) and vertical (F_Y, [batch, N, B])
 * filterbanks of a window. Every row is non-negative and sums to 1.
 *
 * @example
 * ```ts
 * import * as tf from "./tf.ts";
 * import { attentionWindow, filterbank } from "./attention.ts";
 * const { FX, FY } = filterbank(attentionWindow(tf.zeros([1, 5]), 3, 5, 5), 3, 5, 5);
 * ```
 */
export function filterbank(window: AttentionWindow, N: number, A: number, B: number): Filterbank {
  checkN(N);
  return tf.tidy(() => ({
    FX: bank(filterMeans(window.gX, window.delta, N), window.sigma2, A),
    FY: bank(filterMeans(window.gY, window.delta, N), window.sigma2, B),
  }));
}

/**
 * DRAW Eq 27 for one image: γ · F_Y x F_Xᵀ, applied to every channel.
 * `image` is [batch, B, C, A]; the patch is [batch, N, C, N] (row j, channel, column i).
 */
export function readPatch(image: tf.Tensor4D, bank: Filterbank, gamma: tf.Tensor2D): tf.Tensor4D {
  return tf.tidy(() => {
    const [batch, B, C, A] = image.shape;
    const N = bank.FX.shape[1];
    const rows = tf.matMul(bank.FY, tf.reshape(image, [batch, B, C * A])); // [batch, N, C·A]
    const patch = tf.matMul(tf.reshape(rows, [batch, N * C, A]), bank.FX, false, true); // [batch, N·C, N]
    return tf.mul(tf.reshape(patch, [batch, N, C, N]), tf.reshape(gamma, [batch, 1, 1, 1]));
  });
}

/**
 * DRAW Eq 29: (1/γ̂) · F̂_Yᵀ w F̂_X, applied to every channel.
 * `patch` is [batch, N, C, N]; the result is [batch, B, C, A].
 */
export function writePatch(patch: tf.Tensor4D, bank: Filterbank, gamma: tf.Tensor2D): tf.Tensor4D {
  return tf.tidy(() => {
    const [batch, N, C] = patch.shape;
    const A = bank.FX.shape[2];
    const B = bank.FY.shape[2];
    const cols = tf.matMul(tf.reshape(patch, [batch, N * C, N]), bank.FX); // [batch, N·C, A]
    const image = tf.matMul(bank.FY, tf.reshape(cols, [batch, N, C * A]), true, false); // [batch, B, C·A]
    return tf.div(tf.reshape(image, [batch, B, C, A]), tf.reshape(gamma, [batch, 1, 1, 1]));
  });
}

/** Window parameters as one [batch, 5] tensor: (g_X, g_Y, δ, σ, γ), for drawing the rectangle. */
export function windowSummary(window: AttentionWindow): tf.Tensor2D {
  return tf.tidy(() => tf.concat([window.gX, window.gY, window.delta, tf.sqrt(window.sigma2), window.gamma], 1));
}
