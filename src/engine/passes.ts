/**
 * The contract between a model and an engine: what an engine hands DRAW and the classifier, in tfjs's terms, so
 * that the models (src/draw.ts, src/classifier.ts) say what to compute and never which engine computes it. Each
 * engine's glue (its runners' buffers, noise and threads in, tfjs tensors with their gradients out) lives beside
 * the engine: src/engine/fused/passes.ts for the fused engine, src/engine/webgpu/passes.ts for the WebGPU engine.
 *
 * @module
 */
import type * as tf from "../tf.ts";
import type { DrawConfig } from "../config.ts";
import type { ClassifierConfig } from "../config.ts";
import type { DrawLoss, DrawSample, DrawWeights } from "../shapes.ts";
import type { ObjectiveGradients } from "../trainer.ts";

/**
 * Noise for a pass: standard normals [T, batch, z] as a tensor, or, where {@link DrawPasses.seeded}, the seed of
 * drawNoise's values (the engine's threads draw each image's share themselves; the values are the same).
 */
export type PassNoise = tf.Tensor3D | number;

/** An engine's passes of DRAW for one configuration and batch size. */
export interface DrawPasses {
  /** Whether the passes take drawNoise's seed for the noise (a number), not only a tensor. */
  readonly seeded: boolean;
  /**
   * Eqs 1–12: Lx and Lz per image and their batch mean, as tensors whose gradient (tf.grads, the Trainer) runs the
   * engine's backward pass; with `logWeights`, log p(z) − log q(z|x) per image too.
   */
  loss(weights: DrawWeights, config: DrawConfig, x: tf.Tensor4D, eps: PassNoise, logWeights: boolean): DrawLoss;
  /** A training step's objective (Eq 12's batch mean), its figures and every weight's gradient, without a tape. */
  step(weights: DrawWeights, config: DrawConfig, x: tf.Tensor4D, eps: PassNoise): ObjectiveGradients;
  /** Eqs 13–16: c_T and σ(c_T) from prior noise. */
  generate(weights: DrawWeights, config: DrawConfig, eps: PassNoise): DrawSample;
}

/** An engine's passes of the classifier (Section 4.1) for one configuration and batch size. */
export interface ClassifierPasses {
  /** The class scores, a tensor whose gradient runs the engine's backward pass. [batch, classes] */
  logits(weights: Record<string, tf.Tensor>, config: ClassifierConfig, x: tf.Tensor4D): tf.Tensor2D;
  /** A training step's mean cross-entropy, its error rate and every weight's gradient, without a tape. */
  step(
    weights: Record<string, tf.Tensor>,
    config: ClassifierConfig,
    x: tf.Tensor4D,
    labels: tf.Tensor1D,
  ): ObjectiveGradients;
}
