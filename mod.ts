/**
 * draw.ts — DRAW (Gregor et al. 2015), a recurrent variational auto-encoder that builds an image
 * step by step on a canvas with a differentiable Gaussian-filterbank attention.
 *
 * @example
 * ```ts
 * import { Draw, Rng, selectBackend, TINY } from "./mod.ts";
 * await selectBackend("cpu");
 * const model = new Draw(TINY, 0);
 * const { means, logits } = model.generate(4, new Rng(1));
 * console.log(means.shape); // [4, 5, 6, 1]
 * means.dispose(); logits.dispose(); model.dispose();
 * ```
 *
 * @module
 */
export {
  CLASSIFIER_PRESETS,
  type ClassifierConfig,
  type DrawConfig,
  MNIST,
  MNIST_NO_ATTENTION,
  PRESETS,
  TINY,
} from "./src/config.ts";
export { attentionWindow, filterbank, readPatch, writePatch } from "./src/attention.ts";
export { lstmCell } from "./src/lstm.ts";
export { bernoulliNll, klStandardNormal } from "./src/loss.ts";
export { linear } from "./src/linear.ts";
export { createEngine, type Engine, type EngineName } from "./src/engine/engine.ts";
export {
  Draw,
  drawGenerate,
  type DrawLoss,
  drawLoss,
  drawNoise,
  type DrawSample,
  type DrawWeights,
  type TraceOptions,
} from "./src/draw.ts";
export { Classifier, classifierForward } from "./src/classifier.ts";
export { Trainer, type TrainerOptions } from "./src/trainer.ts";
export { classifierTask, drawTask, train, type TrainOptions, type TrainSummary } from "./src/train.ts";
export { RunError, TRAIN_DEFAULTS } from "./src/run_settings.ts";
export {
  type ClassifierEval,
  type EvalResult,
  evaluate,
  evaluateClassifier,
  pairedDifference,
} from "./src/evaluate.ts";
export { type Checkpoint, loadCheckpoint, type Model, modelFromCheckpoint, saveCheckpoint } from "./src/checkpoint.ts";
export { shippedModels } from "./src/models.ts";
export { loadModel, UsageError } from "./src/resolve.ts";
export { type Dataset, type Splits } from "./src/data/dataset.ts";
export { loadBinarizedMnist, loadMnistIdx } from "./src/data/mnist.ts";
export { loadCifar10 } from "./src/data/cifar.ts";
export { loadSvhn } from "./src/data/svhn.ts";
export { makeTwoDigit } from "./src/data/two_digit.ts";
export { makeCluttered } from "./src/data/cluttered.ts";
export { Rng } from "./src/random.ts";
export { type BackendName, selectBackend } from "./src/backend.ts";
