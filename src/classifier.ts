/**
 * "Differentiable RAM" (Section 4.1): an LSTM that takes one N×N glimpse of the image per step
 * through DRAW's attention read (Eqs 19–27, image only, no error image), its window computed
 * from the previous hidden state, and classifies with a softmax layer after the last glimpse.
 *
 * @module
 */
import * as tf from "./tf.ts";
import { attentionWindow, filterbank, readPatch, windowSummary } from "./attention.ts";
import type { ClassifierConfig } from "./config.ts";
import { createVariables, type ParamSpec, toInternal } from "./draw.ts";
import { linear } from "./linear.ts";
import { lstmCell, type LstmState } from "./lstm.ts";
import type { Rng } from "./random.ts";
import type { Batch } from "./trainer.ts";
import { type Engine, TFJS_ENGINE } from "./engine/engine.ts";
import type { ObjectiveGradients } from "./trainer.ts";

import { validateClassifierConfig } from "./config.ts";
import { errorRate, softmaxCrossEntropy } from "./loss.ts";
export { errorRate, softmaxCrossEntropy };
import { classifierSpecs } from "./params.ts";
export { classifierSpecs, validateClassifierConfig };

/** The result of {@link classifierForward}. */
export interface ClassifierOutput {
  /** Class scores before the softmax. [batch, classes] */
  logits: tf.Tensor2D;
  /** With `trace`: each glimpse's window (g_X, g_Y, δ, σ, γ). [batch, glimpses, 5] */
  windows?: tf.Tensor3D;
}

/** Runs the glimpse recurrence on images `x` [batch, H, W, C] in [0, 1]. */
export function classifierForward(
  weights: Record<string, tf.Tensor>,
  config: ClassifierConfig,
  x: tf.Tensor4D,
  options: { trace?: boolean; engine?: Engine } = {},
): ClassifierOutput {
  const want = [config.height, config.width, config.channels];
  if (x.rank !== 4 || x.shape.slice(1).join() !== want.join()) {
    throw new TypeError(`Cannot classify as images must be [batch, ${want}]: current shape is [${x.shape}]`);
  }
  const passes = options.trace ? undefined : (options.engine ?? TFJS_ENGINE).classifier(config, x.shape[0]);
  if (passes) return { logits: passes.logits(weights, config, x) };
  return tf.tidy(() => {
    const { readN: N, width: A, height: B, channels: C, hidden: H } = config;
    const batch = x.shape[0];
    const image = tf.reshape(toInternal(x), [batch, B, C, A]) as tf.Tensor4D; // [batch, B, C, A]
    let state: LstmState = { h: tf.tile(tf.reshape(weights["h0"], [1, H]), [batch, 1]), c: tf.zeros([batch, H]) };
    const windows: tf.Tensor2D[] = [];
    for (let t = 0; t < config.glimpses; t++) {
      const raw = linear(state.h, weights["read.kernel"] as tf.Tensor2D, weights["read.bias"] as tf.Tensor1D); // Eq 21
      const win = attentionWindow(raw, N, A, B);
      if (options.trace) windows.push(windowSummary(win));
      const glimpse = readPatch(image, filterbank(win, N, A, B), win.gamma); // Eq 27 on x, [batch, N, C, N]
      state = lstmCell(
        [tf.reshape(glimpse, [batch, N * C * N])],
        state,
        weights["lstm.kernel"] as tf.Tensor2D,
        weights["lstm.bias"] as tf.Tensor1D,
      );
    }
    const logits = linear(state.h, weights["out.kernel"] as tf.Tensor2D, weights["out.bias"] as tf.Tensor1D);
    const out: ClassifierOutput = { logits };
    if (options.trace) out.windows = tf.stack(windows, 1) as tf.Tensor3D;
    return out as unknown as tf.TensorContainer;
  }) as unknown as ClassifierOutput;
}

/**
 * The classifier, owning its weights.
 *
 * @example
 * ```ts
 * import { Classifier } from "./classifier.ts";
 * const c = new Classifier({ width: 20, height: 20, channels: 1, glimpses: 2, hidden: 8, readN: 3, classes: 10 }, 0);
 * c.dispose();
 * ```
 */
export class Classifier {
  /** The model kind, as stored in checkpoints. */
  readonly kind = "classifier";
  /** The configuration. */
  readonly config: ClassifierConfig;
  /** The trainable weights, by name. */
  readonly weights: Record<string, tf.Variable>;
  /** What computes its passes (see engine/engine.ts); the tfjs graph unless set. */
  engine: Engine = TFJS_ENGINE;

  /** Builds a classifier with fresh weights from `seed`. */
  constructor(config: ClassifierConfig, seed = 0) {
    this.config = validateClassifierConfig(config);
    this.weights = createVariables(classifierSpecs(config), seed, "classifier");
  }

  /** Mean cross-entropy of a labelled batch, and its error rate. */
  objective(batch: Batch, _rng: Rng): { loss: tf.Scalar; figures: Record<string, tf.Scalar> } {
    if (!batch.labels) throw new TypeError("Cannot train the classifier on a batch without labels");
    const { logits } = classifierForward(this.weights, this.config, batch.x, { engine: this.engine });
    const loss = tf.mean(softmaxCrossEntropy(logits, batch.labels)) as tf.Scalar;
    return { loss, figures: { error: errorRate(logits, batch.labels) } };
  }

  /**
   * The objective and its gradient in one pass, where the engine has one (the WebGPU engine: a
   * training step in one submit; the fused engine: without tfjs's tape); undefined on the tfjs graph
   * (the Trainer differentiates {@link objective}).
   */
  objectiveGradients(batch: Batch, _rng: Rng): ObjectiveGradients | undefined {
    if (!batch.labels) return undefined;
    return this.engine.classifier(this.config, batch.x.shape[0])?.step(
      this.weights,
      this.config,
      batch.x,
      batch.labels,
    );
  }

  /** The parameters of this model. */
  specs(): ParamSpec[] {
    return classifierSpecs(this.config);
  }

  /** Number of trainable values. */
  get size(): number {
    return Object.values(this.weights).reduce((s, w) => s + w.size, 0);
  }

  /** Frees the weights. */
  dispose(): void {
    for (const w of Object.values(this.weights)) w.dispose();
  }
}
