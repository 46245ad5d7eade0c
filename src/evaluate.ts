/**
 * Test-set figures in nats per image: the variational bound of Eq 12 (the number in Table 2's "≤"
 * column) with Lx and Lz apart, and optionally the tighter importance-weighted bound
 * (Burda et al. 2016) log p(x) ≥ E[log (1/K) Σ_k p(x, z_k)/q(z_k | x)].
 *
 * @module
 */
import * as tf from "./tf.ts";
import { batchLabels, batchTensor, type Dataset } from "./data/dataset.ts";
import { type Classifier, classifierForward, softmaxCrossEntropy } from "./classifier.ts";
import type { Draw } from "./draw.ts";
import { Rng } from "./random.ts";

/** Options of {@link evaluate}. */
export interface EvalOptions {
  /** Images per forward pass. Default 250. */
  batch?: number;
  /** Evaluate only the first `limit` images. */
  limit?: number;
  /** Importance samples K per image; 1 (default) gives only the Eq 12 bound. */
  samples?: number;
  /** Noise seed. Default 0. */
  seed?: number;
  /** Called after each batch with images done so far. */
  onProgress?: (done: number, total: number) => void;
}

/** Figures of {@link evaluate}, nats per image. */
export interface EvalResult {
  /** Images evaluated. */
  count: number;
  /** Mean Lx + Lz: the Eq 12 bound on −log p(x), from one sample of z per image (K samples averaged when K > 1). */
  elbo: number;
  /** Mean Lx (Eq 9). */
  lx: number;
  /** Mean Lz (Eqs 10–11). */
  lz: number;
  /** With K > 1: the importance-weighted bound on −log p(x), tighter than Eq 12. */
  iwBound?: number;
  /** K. */
  samples: number;
  /**
   * Standard error of `elbo` over the images (their sample standard deviation / √count): how far the figure
   * would move on another draw of as many test images. Two models on the same images compare better image by
   * image, through `perImage`.
   */
  elboSe: number;
  /** With K > 1: the standard error of `iwBound` over the images. */
  iwSe?: number;
  /** Each image's figures, in the data's order: its Eq 12 bound (Lx + Lz, averaged over K) and, with K > 1, its
   * importance-weighted bound. */
  perImage: { elbo: Float64Array; iw?: Float64Array };
}

/**
 * Mean of `values` and its standard error, the sample standard deviation (n − 1) over √n; 0 for n < 2.
 *
 * @example
 * ```ts ignore
 * const { mean, se } = meanStdErr([1, 2, 3]); // mean 2, se 1/√3
 * ```
 */
export function meanStdErr(values: ArrayLike<number>): { mean: number; se: number } {
  const n = values.length;
  if (n === 0) throw new RangeError("Cannot take the mean of no values: current count is 0");
  let sum = 0;
  for (let i = 0; i < n; i++) sum += values[i];
  const mean = sum / n;
  let ss = 0; // two passes: Σ(v − mean)² does not cancel as Σv² − n·mean² does
  for (let i = 0; i < n; i++) ss += (values[i] - mean) ** 2;
  return { mean, se: n < 2 ? 0 : Math.sqrt(ss / (n - 1) / n) };
}

/**
 * Evaluates `model` on `ds`.
 *
 * @example
 * ```ts ignore
 * const r = await evaluate(model, splits.test, { samples: 10 });
 * console.log(r.elbo, r.iwBound);
 * ```
 */
export async function evaluate(model: Draw, ds: Dataset, options: EvalOptions = {}): Promise<EvalResult> {
  const batch = options.batch ?? 250;
  const K = options.samples ?? 1;
  if (!Number.isInteger(K) || K < 1) {
    throw new RangeError(`Cannot evaluate as samples must be >= 1: current value is ${K}`);
  }
  const count = Math.min(options.limit ?? ds.count, ds.count);
  const rng = new Rng(options.seed ?? 0);
  let lxSum = 0, lzSum = 0;
  const elbo = new Float64Array(count), iw = K > 1 ? new Float64Array(count) : undefined;
  for (let start = 0; start < count; start += batch) {
    const idx = Array.from({ length: Math.min(batch, count - start) }, (_, k) => start + k);
    const x = batchTensor(ds, idx);
    const logW: Float32Array[] = [];
    for (let s = 0; s < K; s++) {
      const out = model.loss(x, rng, { logWeights: K > 1, inference: true });
      const [lx, lz] = await Promise.all([out.lx.data(), out.lz.data()]);
      for (let k = 0; k < idx.length; k++) {
        lxSum += lx[k] / K;
        lzSum += lz[k] / K;
        elbo[start + k] += (lx[k] + lz[k]) / K;
      }
      if (out.logRatio) {
        const lr = await out.logRatio.data();
        logW.push(Float32Array.from(lr, (v, k) => v - lx[k]));
      }
      tf.dispose([out.lx, out.lz, out.loss, out.logRatio].filter(Boolean) as tf.Tensor[]);
    }
    x.dispose();
    for (let k = 0; iw && k < idx.length; k++) {
      let max = -Infinity;
      for (const w of logW) max = Math.max(max, w[k]);
      let s = 0;
      for (const w of logW) s += Math.exp(w[k] - max);
      iw[start + k] = -(max + Math.log(s / K)); // −log (1/K) Σ exp(log w)
    }
    options.onProgress?.(start + idx.length, count);
  }
  const { mean, se } = meanStdErr(elbo);
  const result: EvalResult = {
    count,
    elbo: mean,
    lx: lxSum / count,
    lz: lzSum / count,
    samples: K,
    elboSe: se,
    perImage: { elbo },
  };
  if (iw) {
    const w = meanStdErr(iw);
    Object.assign(result, { iwBound: w.mean, iwSe: w.se });
    result.perImage.iw = iw;
  }
  return result;
}

/**
 * The mean of a − b image by image, with its standard error: two models on the same images, where the images'
 * own spread (most of either model's standard error) cancels.
 *
 * @example
 * ```ts ignore
 * const d = pairedDifference(mine.perImage.elbo, theirs.perImage.elbo); // d.mean ± d.se nats
 * ```
 */
export function pairedDifference(a: ArrayLike<number>, b: ArrayLike<number>): { mean: number; se: number } {
  if (a.length !== b.length) {
    throw new RangeError(`Cannot pair ${a.length} figures with ${b.length}: evaluate both on the same images`);
  }
  return meanStdErr(Float64Array.from(a, (v, k) => v - b[k]));
}

/** Test figures of the classifier: error rate and mean cross-entropy. */
export interface ClassifierEval {
  /** Images evaluated. */
  count: number;
  /** Fraction misclassified. */
  error: number;
  /** Standard error of `error` over the images (√(p(1 − p)/(count − 1)), a binomial count's). */
  errorSe: number;
  /** Mean softmax cross-entropy, nats. */
  loss: number;
  /** Each image: 1 where it was misclassified, else 0, in the data's order. */
  perImage: Float64Array;
}

/** Evaluates the classifier of Section 4.1 on the first `limit` images of `ds`. */
export async function evaluateClassifier(
  model: Classifier,
  ds: Dataset,
  options: { batch?: number; limit?: number; onProgress?: (done: number, total: number) => void } = {},
): Promise<ClassifierEval> {
  const batch = options.batch ?? 250;
  const count = Math.min(options.limit ?? ds.count, ds.count);
  const miss = new Float64Array(count);
  let loss = 0;
  for (let start = 0; start < count; start += batch) {
    const idx = Array.from({ length: Math.min(batch, count - start) }, (_, k) => start + k);
    const [w, l] = tf.tidy(() => {
      const x = batchTensor(ds, idx), y = batchLabels(ds, idx);
      const { logits } = classifierForward(model.weights, model.config, x, { engine: model.engine });
      const wrong = tf.notEqual(tf.argMax(logits, 1), tf.cast(y, "int32")); // [batch]
      return [wrong, tf.sum(softmaxCrossEntropy(logits, y))];
    });
    miss.set(await w.data(), start);
    loss += (await l.data())[0];
    tf.dispose([w, l]);
    options.onProgress?.(start + idx.length, count);
  }
  const { mean, se } = meanStdErr(miss);
  return { count, error: mean, errorSe: se, loss: loss / count, perImage: miss };
}
