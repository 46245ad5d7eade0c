/**
 * The WebGPU engine's side of the contract in src/engine/passes.ts: its runners (webgpu/draw.ts,
 * webgpu/classifier.ts) as tfjs passes on the tensors' own GPU buffers, one submit per pass (webgpu/bridge.ts).
 * The noise is always a tensor (the runners do not draw it).
 *
 * @module
 */
import * as tf from "../../tf.ts";
import type { ClassifierConfig, DrawConfig } from "../../config.ts";
import { imageSize } from "../../config.ts";
import {
  checkGenerative,
  checkImages,
  checkNoise,
  checkWeights,
  type DrawLoss,
  type DrawWeights,
  sampleOf,
  toInternal,
} from "../../shapes.ts";
import { errorRate } from "../../loss.ts";
import { classifierSpecs, paramSpecs } from "../../params.ts";
import type { ObjectiveGradients } from "../../trainer.ts";
import { bufferOf, flushTfjs, gpuEngineOp, tensorFrom } from "./bridge.ts";
import type { WebGpuDraw } from "./draw.ts";
import type { WebGpuClassifier } from "./classifier.ts";
import type { ClassifierPasses, DrawPasses, PassNoise } from "../passes.ts";

/** The WebGPU engine's DRAW passes, and the runner behind them (for the engine's own tests). */
export interface WebGpuDrawPasses extends DrawPasses {
  /** The runner. */
  readonly runner: WebGpuDraw;
}

/** The WebGPU engine's classifier passes, and the runner behind them. */
export interface WebGpuClassifierPasses extends ClassifierPasses {
  /** The runner. */
  readonly runner: WebGpuClassifier;
}

/** The noise tensor (the WebGPU passes are not seeded). */
function tensorNoise(eps: PassNoise): tf.Tensor3D {
  if (typeof eps === "number") throw new TypeError("The WebGPU engine's passes take the noise as a tensor, not a seed");
  return eps;
}

/** `runner`'s DRAW passes. */
export function webgpuDrawPasses(runner: WebGpuDraw): WebGpuDrawPasses {
  return {
    runner,
    seeded: false,
    loss: (weights, config, x, eps, logWeights) => {
      checkWeights(weights, config);
      checkImages(x, config);
      return webgpuLoss(runner, weights, config, x, tensorNoise(eps), logWeights);
    },
    step: (weights, config, x, eps) => webgpuStep(runner, weights, config, x, tensorNoise(eps)),
    generate: (weights, config, eps) => {
      checkGenerative(weights, config);
      const n = tensorNoise(eps).shape[1];
      const buffers = paramSpecs(config).map((s) => weights[s.name] ? bufferOf(weights[s.name]) : undefined);
      const noise = bufferOf(tensorNoise(eps));
      flushTfjs();
      const canvas = runner.generate(buffers, noise);
      return sampleOf(() => tensorFrom(canvas, [n, imageSize(config)]) as tf.Tensor2D, config);
    },
  };
}

/** `runner`'s classifier passes. */
export function webgpuClassifierPasses(runner: WebGpuClassifier): WebGpuClassifierPasses {
  return {
    runner,
    logits: (weights, config, x) => webgpuLogits(runner, weights, config, x),
    step: (weights, config, x, labels) => webgpuClassifierStep(runner, weights, config, x, labels),
  };
}

/**
 * drawLoss on the WebGPU engine: one tfjs op on the tensors' GPU buffers, whose forward and
 * backward passes are the engine's, one submit each.
 */
function webgpuLoss(
  runner: WebGpuDraw,
  weights: DrawWeights,
  config: DrawConfig,
  x: tf.Tensor4D,
  eps: tf.Tensor3D,
  logWeights: boolean,
): DrawLoss {
  const specs = paramSpecs(config);
  const batch = x.shape[0];
  let logRatio: GPUBuffer | undefined;
  let pass = -1;
  return tf.tidy(() => {
    const pair = gpuEngineOp(specs.map((s) => weights[s.name]), [toInternal(x), eps], [batch, 2], {
      run: (buffers) => {
        const n = specs.length, out = runner.forward(buffers.slice(0, n), buffers[n], buffers[n + 1]);
        pass = runner.passes;
        logRatio = out.logRatio;
        return out.pair;
      },
      grad: (dy) => runner.backward(dy),
      stale: () => runner.passes !== pass,
    });
    const [lx, lz] = tf.unstack(pair, 1) as tf.Tensor1D[];
    const out: DrawLoss = { lx, lz, loss: tf.mean(tf.add(lx, lz)) as tf.Scalar };
    if (logWeights) out.logRatio = tensorFrom(logRatio!, [batch]) as tf.Tensor1D;
    return out as unknown as tf.TensorContainer;
  }) as unknown as DrawLoss;
}

/** A training step on the WebGPU engine in one submit: Eq 12's batch mean, its figures and every weight's gradient. */
function webgpuStep(
  runner: WebGpuDraw,
  weights: DrawWeights,
  config: DrawConfig,
  x: tf.Tensor4D,
  eps: tf.Tensor3D,
): ObjectiveGradients {
  checkWeights(weights, config);
  checkImages(x, config);
  checkNoise(eps, config, x.shape[0]);
  const specs = paramSpecs(config);
  return tf.tidy(() => {
    const xt = toInternal(x);
    const buffers = specs.map((s) => bufferOf(weights[s.name]));
    const [xb, eb] = [bufferOf(xt), bufferOf(eps)];
    flushTfjs();
    const out = runner.step(buffers, xb, eb);
    const [lx, lz] = tf.unstack(tensorFrom(out.pair, [x.shape[0], 2]), 1);
    const grads = Object.fromEntries(specs.map((s, i) => [s.name, tensorFrom(out.grads[i], s.shape)]));
    return {
      loss: tf.mean(tf.add(lx, lz)) as tf.Scalar,
      figures: { lx: tf.mean(lx) as tf.Scalar, lz: tf.mean(lz) as tf.Scalar },
      grads,
    } as unknown as tf.TensorContainer;
  }) as unknown as ObjectiveGradients;
}

/** classifierForward's logits on the WebGPU engine: one tfjs op on the tensors' GPU buffers. */
function webgpuLogits(
  runner: WebGpuClassifier,
  weights: Record<string, tf.Tensor>,
  config: ClassifierConfig,
  x: tf.Tensor4D,
): tf.Tensor2D {
  const specs = classifierSpecs(config);
  let pass = -1;
  return tf.tidy(() =>
    gpuEngineOp(specs.map((s) => weights[s.name]), [toInternal(x)], [x.shape[0], config.classes], {
      run: (buffers) => {
        const logits = runner.forward(buffers.slice(0, specs.length), buffers[specs.length]);
        pass = runner.passes;
        return logits;
      },
      grad: (dy) => runner.backward(dy),
      stale: () => runner.passes !== pass,
    })
  ) as tf.Tensor2D;
}

/** A classifier training step on the WebGPU engine in one submit: the mean cross-entropy, the error, every gradient. */
function webgpuClassifierStep(
  runner: WebGpuClassifier,
  weights: Record<string, tf.Tensor>,
  config: ClassifierConfig,
  x: tf.Tensor4D,
  labels: tf.Tensor1D,
): ObjectiveGradients {
  const specs = classifierSpecs(config), n = x.shape[0];
  return tf.tidy(() => {
    const [xt, lab] = [toInternal(x), tf.cast(labels, "float32")];
    const buffers = specs.map((s) => bufferOf(weights[s.name]));
    const [xb, lb] = [bufferOf(xt), bufferOf(lab)];
    flushTfjs();
    const out = runner.step(buffers, xb, lb);
    const logits = tensorFrom(out.logits, [n, config.classes]) as tf.Tensor2D;
    return {
      loss: tf.mean(tensorFrom(out.losses, [n])) as tf.Scalar,
      figures: { error: errorRate(logits, labels) },
      grads: Object.fromEntries(specs.map((s, i) => [s.name, tensorFrom(out.grads[i], s.shape)])),
    } as unknown as tf.TensorContainer;
  }) as unknown as ObjectiveGradients;
}
