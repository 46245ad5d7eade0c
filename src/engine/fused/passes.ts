/**
 * The fused engine's side of the contract in src/engine/passes.ts: its runners (program/draw.ts, program/classifier.ts,
 * or their thread pools) as tfjs passes. Weights and images are read in place from the tensors' storage; a loss is
 * one tfjs op whose gradient is the runner's backward pass (bridge.ts), and a training step skips tfjs's tape.
 *
 * @module
 */
import * as tf from "../../tf.ts";
import type { ClassifierConfig, DrawConfig } from "../../config.ts";
import { imageSize } from "../../config.ts";
import {
  checkGenerative,
  checkImages,
  checkWeights,
  type DrawLoss,
  type DrawSample,
  type DrawWeights,
  generativeSpecs,
  sampleOf,
  toInternal,
} from "../../shapes.ts";
import { errorRate, softmaxCrossEntropy } from "../../loss.ts";
import { classifierSpecs, paramSpecs } from "../../params.ts";
import type { ObjectiveGradients } from "../../trainer.ts";
import { engineOp, peek32, tensorCopy, values32 } from "../bridge.ts";
import type { FusedLoss, FusedRunner, Noise } from "../program/draw.ts";
import type { ClassifierRunner } from "../program/classifier.ts";
import type { ClassifierPasses, DrawPasses, PassNoise } from "../passes.ts";

/** The fused engine's DRAW passes, and the runner behind them (for the engine's own tests). */
export interface FusedDrawPasses extends DrawPasses {
  /** The runner: one FusedDraw, or a pool of them on threads. */
  readonly runner: FusedRunner;
}

/** The fused engine's classifier passes, and the runner behind them. */
export interface FusedClassifierPasses extends ClassifierPasses {
  /** The runner: one FusedClassifier, or a pool. */
  readonly runner: ClassifierRunner;
}

/** Noise values for the runner: drawNoise's seed as it is, a tensor read in place. */
const noiseOf = (eps: PassNoise): Noise => typeof eps === "number" ? eps : values32(eps);

/** `runner`'s DRAW passes. */
export function fusedDrawPasses(runner: FusedRunner): FusedDrawPasses {
  return {
    runner,
    seeded: true,
    loss: (weights, config, x, eps, logWeights) => fusedLoss(runner, weights, config, x, eps, logWeights),
    step: (weights, config, x, eps) => fusedStep(runner, weights, config, x, noiseOf(eps)),
    generate: (weights, config, eps) => {
      checkGenerative(weights, config);
      return fusedGenerate(runner, weights, config, typeof eps === "number" ? eps : peek32(eps));
    },
  };
}

/** `runner`'s classifier passes. */
export function fusedClassifierPasses(runner: ClassifierRunner): FusedClassifierPasses {
  return {
    runner,
    logits: (weights, config, x) => fusedLogits(runner, weights, config, x),
    step: (weights, config, x, labels) => fusedClassifierStep(runner, weights, config, x, labels),
  };
}

/**
 * drawLoss on the fused engine: one tfjs op whose forward and backward passes are the engine's,
 * so that tf.variableGrads and the Trainer work unchanged. The noise is a tensor [T, n, z] or the
 * seed of drawNoise's values, which the engine's threads then draw themselves.
 */
function fusedLoss(
  runner: FusedRunner,
  weights: DrawWeights,
  config: DrawConfig,
  x: tf.Tensor4D,
  eps: PassNoise,
  logWeights: boolean,
): DrawLoss {
  checkWeights(weights, config);
  checkImages(x, config);
  const specs = paramSpecs(config);
  const batch = x.shape[0];
  const xt = toInternal(x);
  const xv = peek32(xt).slice();
  xt.dispose();
  const ev = noiseOf(eps);
  let logRatio: Float32Array = new Float32Array(0);
  let pass = -1;
  return tf.tidy(() => {
    const pair = engineOp(specs.map((s) => weights[s.name]), [batch, 2], {
      run: (values) => {
        const r = runner.forward(Object.fromEntries(specs.map((s, i) => [s.name, values[i]])), xv, ev);
        pass = runner.passes;
        logRatio = r.logRatio;
        const out = new Float32Array(2 * batch); // [batch, (Lx, Lz)]
        for (let b = 0; b < batch; b++) [out[2 * b], out[2 * b + 1]] = [r.lx[b], r.lz[b]];
        return out;
      },
      grad: (d) => {
        const dlx = new Float32Array(batch), dlz = new Float32Array(batch);
        for (let b = 0; b < batch; b++) [dlx[b], dlz[b]] = [d[2 * b], d[2 * b + 1]];
        const g = runner.backward(dlx, dlz);
        return specs.map((s) => g[s.name]);
      },
      stale: () => runner.passes !== pass,
    });
    const [lx, lz] = tf.unstack(pair, 1) as tf.Tensor1D[];
    const out: DrawLoss = { lx, lz, loss: tf.mean(tf.add(lx, lz)) as tf.Scalar };
    if (logWeights) out.logRatio = tf.tensor1d(logRatio);
    return out as unknown as tf.TensorContainer;
  }) as unknown as DrawLoss;
}

/**
 * A training step's objective (Eq 12's batch mean) and its gradient on the fused engine, forward and
 * backward in one go without tfjs's tape: the weights and images are read in place, the noise
 * `eps` [T, n, z] is given as values or their seed (see drawNoise), and ∂(mean)/∂Lx_b = ∂(mean)/∂Lz_b = 1/n.
 */
function fusedStep(
  runner: FusedRunner,
  weights: DrawWeights,
  config: DrawConfig,
  x: tf.Tensor4D,
  eps: Noise,
): ObjectiveGradients {
  checkWeights(weights, config);
  checkImages(x, config);
  const specs = paramSpecs(config), n = x.shape[0];
  const xt = toInternal(x);
  let r: FusedLoss;
  try {
    r = runner.forward(Object.fromEntries(specs.map((s) => [s.name, peek32(weights[s.name])])), peek32(xt), eps);
  } finally {
    xt.dispose();
  }
  return tf.tidy(() => {
    const [lx, lz] = [tf.tensor1d(r.lx), tf.tensor1d(r.lz)];
    const d = new Float32Array(n).fill(1 / n);
    const g = runner.backward(d, d);
    return {
      loss: tf.mean(tf.add(lx, lz)) as tf.Scalar,
      figures: { lx: tf.mean(lx) as tf.Scalar, lz: tf.mean(lz) as tf.Scalar },
      grads: Object.fromEntries(specs.map((s) => [s.name, tensorCopy(g[s.name], s.shape)])),
    } as unknown as tf.TensorContainer;
  }) as unknown as ObjectiveGradients;
}

/** drawGenerate on the fused engine, from noise values [T, n, z] or their seed (see drawNoise). */
function fusedGenerate(runner: FusedRunner, weights: DrawWeights, config: DrawConfig, eps: Noise): DrawSample {
  const fw: Record<string, Float32Array> = {};
  for (const spec of generativeSpecs(config)) fw[spec.name] = peek32(weights[spec.name]);
  const canvas = runner.generate(fw, eps);
  return sampleOf(() => tf.tensor2d(canvas, [runner.batch, imageSize(config)]), config);
}

/** classifierForward's logits on the fused engine: one tfjs op with the engine's own gradient. */
function fusedLogits(
  runner: ClassifierRunner,
  weights: Record<string, tf.Tensor>,
  config: ClassifierConfig,
  x: tf.Tensor4D,
): tf.Tensor2D {
  const specs = classifierSpecs(config);
  const batch = x.shape[0];
  const xt = toInternal(x);
  const xv = peek32(xt).slice();
  xt.dispose();
  let pass = -1;
  return engineOp(specs.map((s) => weights[s.name]), [batch, config.classes], {
    run: (values) => {
      const logits = runner.forward(Object.fromEntries(specs.map((s, i) => [s.name, values[i]])), xv);
      pass = runner.passes;
      return logits;
    },
    grad: (dy) => {
      const g = runner.backward(dy);
      return specs.map((s) => g[s.name]);
    },
    stale: () => runner.passes !== pass,
  }) as tf.Tensor2D;
}

/**
 * A classifier training step on the fused engine without tfjs's tape: the logits, the mean
 * softmax cross-entropy and its gradient (softmax − one-hot)/n by the logits, then every weight's.
 */
function fusedClassifierStep(
  runner: ClassifierRunner,
  weights: Record<string, tf.Tensor>,
  config: ClassifierConfig,
  x: tf.Tensor4D,
  labels: tf.Tensor1D,
): ObjectiveGradients {
  const specs = classifierSpecs(config), n = x.shape[0];
  const xt = toInternal(x);
  let scores: Float32Array;
  try {
    scores = runner.forward(Object.fromEntries(specs.map((s) => [s.name, peek32(weights[s.name])])), peek32(xt));
  } finally {
    xt.dispose();
  }
  return tf.tidy(() => {
    const logits = tf.tensor2d(scores, [n, config.classes]);
    const onehot = tf.oneHot(tf.cast(labels, "int32"), config.classes);
    const g = runner.backward(peek32(tf.div(tf.sub(tf.softmax(logits), onehot), n)));
    return {
      loss: tf.mean(softmaxCrossEntropy(logits, labels)) as tf.Scalar,
      figures: { error: errorRate(logits, labels) },
      grads: Object.fromEntries(specs.map((s) => [s.name, tensorCopy(g[s.name], s.shape)])),
    } as unknown as tf.TensorContainer;
  }) as unknown as ObjectiveGradients;
}
