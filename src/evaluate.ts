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
  let lxSum = 0, lzSum = 0, iwSum = 0;
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
      }
      if (out.logRatio) {
        const lr = await out.logRatio.data();
        logW.push(Float32Array.from(lr, (v, k) => v - lx[k]));
      }
      tf.dispose([out.lx, out.lz, out.loss, out.logRatio].filter(Boolean) as tf.Tensor[]);
    }
    x.dispose();
    for (let k = 0; k < idx.length && K > 1; k++) {
      let max = -Infinity;
      for (const w of logW) max = Math.max(max, w[k]);
      let s = 0;
      for (const w of logW) s += Math.exp(w[k] - max);
      iwSum += -(max + Math.log(s / K)); // −log (1/K) Σ exp(log w)
    }
    options.onProgress?.(start + idx.length, count);
  }
  const result: EvalResult = { count, elbo: (lxSum + lzSum) / count, lx: lxSum / count, lz: lzSum / count, samples: K };
  if (K > 1) result.iwBound = iwSum / count;
  return result;
}

/** Test figures of the classifier: error rate and mean cross-entropy. */
export interface ClassifierEval {
  /** Images evaluated. */
  count: number;
  /** Fraction misclassified. */
  error: number;
  /** Mean softmax cross-entropy, nats. */
  loss: number;
}

/** Evaluates the classifier of Section 4.1 on the first `limit` images of `ds`. */
export async function evaluateClassifier(
  model: Classifier,
  ds: Dataset,
  options: { batch?: number; limit?: number; onProgress?: (done: number, total: number) => void } = {},
): Promise<ClassifierEval> {
  const batch = options.batch ?? 250;
  const count = Math.min(options.limit ?? ds.count, ds.count);
  let wrong = 0, loss = 0;
  for (let start = 0; start < count; start += batch) {
    const idx = Array.from({ length: Math.min(batch, count - start) }, (_, k) => start + k);
    const [w, l] = tf.tidy(() => {
      const x = batchTensor(ds, idx), y = batchLabels(ds, idx);
      const { logits } = classifierForward(model.weights, model.config, x, { engine: model.engine });
      const miss = tf.sum(tf.cast(tf.notEqual(tf.argMax(logits, 1), tf.cast(y, "int32")), "float32"));
      return [miss, tf.sum(softmaxCrossEntropy(logits, y))];
    });
    wrong += (await w.data())[0];
    loss += (await l.data())[0];
    tf.dispose([w, l]);
    options.onProgress?.(start + idx.length, count);
  }
  return { count, error: wrong / count, loss: loss / count };
}
