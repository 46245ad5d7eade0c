/**
 * DRAW's loss terms (Section 2.2): the reconstruction loss L^x (Eq 9) and the latent loss L^z
 * (Eqs 10–11), each in nats per image.
 *
 * @module
 */
import * as tf from "./tf.ts";

function sumAllButBatch(t: tf.Tensor): tf.Tensor1D {
  const axes = Array.from({ length: t.rank - 1 }, (_, k) => k + 1);
  return (axes.length ? tf.sum(t, axes) : t) as tf.Tensor1D;
}

/**
 * DRAW Eq 9: L^x = −log D(x | c_T) for a Bernoulli D with means σ(c_T), summed per image. [batch]
 *
 * Also right for intensities x ∈ [0, 1] (the cross-entropy the paper uses for colour images).
 * Stable form from logits c: −x·log σ(c) − (1−x)·log(1−σ(c)) = softplus(c) − x·c, and
 * softplus(c) = max(c, 0) + log1p(exp(−|c|)), which never overflows. The gradient is written
 * out, ∂/∂c = σ(c) − x and ∂/∂x = −c, rather than taken through max and |·|, whose tape gives a
 * wrong derivative at exactly c = 0.
 *
 * @example
 * ```ts
 * import * as tf from "./tf.ts";
 * import { bernoulliNll } from "./loss.ts";
 * bernoulliNll(tf.zeros([1, 4]), tf.ones([1, 4])).print(); // 4·log 2
 * ```
 */
export function bernoulliNll(logits: tf.Tensor, targets: tf.Tensor): tf.Tensor1D {
  if (logits.shape.join() !== targets.shape.join()) {
    throw new TypeError(
      `Cannot compute Bernoulli NLL as logits [${logits.shape}] and targets [${targets.shape}] differ in shape`,
    );
  }
  const f = tf.customGrad((c, x, save) => {
    const cc = c as tf.Tensor;
    const xx = x as tf.Tensor;
    (save as tf.GradSaveFunc)([cc, xx]);
    const softplus = tf.add(tf.relu(cc), tf.log1p(tf.exp(tf.neg(tf.abs(cc)))));
    return {
      value: sumAllButBatch(tf.sub(softplus, tf.mul(xx, cc))),
      gradFunc: (dy, saved) => {
        const [c0, x0] = saved as tf.Tensor[];
        const g = tf.reshape(dy, [dy.shape[0], ...Array(c0.rank - 1).fill(1)]);
        return [tf.mul(g, tf.sub(tf.sigmoid(c0), x0)), tf.mul(g, tf.neg(c0))];
      },
    };
  });
  return f(logits, targets) as tf.Tensor1D;
}

/**
 * DRAW Eq 11: KL(N(μ, σ²) ‖ N(0, 1)) in closed form, with σ = exp(logSigma) (Eq 2), summed over
 * every axis but the first (the batch): ½ Σ (μ² + σ² − log σ² − 1). Summed over T steps of |z|
 * latents this is Eq 11, whose constant is −T·|z|/2, that is −|z|/2 per step. [batch]
 *
 * @example
 * ```ts
 * import * as tf from "./tf.ts";
 * import { klStandardNormal } from "./loss.ts";
 * klStandardNormal(tf.zeros([1, 3]), tf.zeros([1, 3])).print(); // 0
 * ```
 */
export function klStandardNormal(mu: tf.Tensor, logSigma: tf.Tensor): tf.Tensor1D {
  if (mu.shape.join() !== logSigma.shape.join()) {
    throw new TypeError(
      `Cannot compute KL as mu [${mu.shape}] and logSigma [${logSigma.shape}] differ in shape`,
    );
  }
  return tf.tidy(() => {
    const twoLs = tf.mul(logSigma, 2); // log σ²
    const terms = tf.sub(tf.add(tf.square(mu), tf.exp(twoLs)), tf.add(twoLs, 1));
    return tf.mul(sumAllButBatch(terms), 0.5) as tf.Tensor1D;
  });
}

/** The share of examples whose highest class score is not their label (the classifier's error, Section 4.1). */
export function errorRate(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() =>
    tf.mean(tf.cast(tf.notEqual(tf.argMax(logits, 1), tf.cast(labels, "int32")), "float32")) as tf.Scalar
  );
}

/** The classifier's loss (Section 4.1): softmax cross-entropy per example, log Σ_k exp(logit_k) − logit_label. [batch] */
export function softmaxCrossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => {
    const onehot = tf.oneHot(tf.cast(labels, "int32"), logits.shape[1]);
    return tf.sub(tf.logSumExp(logits, 1), tf.sum(tf.mul(onehot, logits), 1)) as tf.Tensor1D;
  });
}
