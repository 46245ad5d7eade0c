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
/** The tfjs tensor types that draw.ts takes and returns (tfjs-core 4.22). */
export type { Scalar, Tensor, Tensor1D, Tensor2D, Tensor3D, Tensor4D, Tensor5D, Variable } from "./src/tf.ts";
export {
  CIFAR,
  CLASSIFIER_PRESETS,
  type ClassifierConfig,
  CLUTTERED,
  type DrawConfig,
  imageSize,
  MNIST,
  MNIST_NO_ATTENTION,
  PRESETS,
  SVHN,
  TINY,
  TINY_CLASSIFIER,
  validateConfig,
} from "./src/config.ts";
export {
  type AttentionWindow,
  attentionWindow,
  type Filterbank,
  filterbank,
  filterMeans,
  readPatch,
  writePatch,
} from "./src/attention.ts";
export { lstmCell, type LstmState } from "./src/lstm.ts";
export {
  createEngine,
  type Engine,
  type EngineName,
  type EngineOptions,
  ENGINES,
  TFJS_ENGINE,
} from "./src/engine/engine.ts";
/** What an engine hands a model (the contract), for writing another engine. */
export type { ClassifierPasses, DrawPasses, PassNoise } from "./src/engine/passes.ts";
export { bernoulliNll, klStandardNormal } from "./src/loss.ts";
export {
  Draw,
  drawGenerate,
  type DrawLoss,
  drawLoss,
  drawNoise,
  type DrawSample,
  type DrawWeights,
  initWeights,
  type ParamSpec,
  paramSpecs,
  toImages,
  type TraceOptions,
} from "./src/draw.ts";
export {
  type Batch,
  type ObjectiveGradients,
  type StepResult,
  type Trainable,
  Trainer,
  type TrainerOptions,
} from "./src/trainer.ts";
export {
  checkResume,
  classifierTask,
  drawTask,
  type ResumeOptions,
  RunError,
  type RunSettings,
  scheduledLr,
  type Task,
  train,
  TRAIN_DEFAULTS,
  type TrainOptions,
  type TrainSummary,
  type Validation,
} from "./src/train.ts";
export { Progress } from "./src/progress.ts";
export { linear } from "./src/linear.ts";
export {
  Classifier,
  classifierForward,
  type ClassifierOutput,
  classifierSpecs,
  softmaxCrossEntropy,
  validateClassifierConfig,
} from "./src/classifier.ts";
export {
  type ClassifierEval,
  type EvalOptions,
  type EvalResult,
  evaluate,
  evaluateClassifier,
  meanStdErr,
  pairedDifference,
} from "./src/evaluate.ts";
export {
  type BaseModel,
  type Checkpoint,
  loadCheckpoint,
  type Model,
  modelFromCheckpoint,
  type ModelKind,
  type ModelLoadOptions,
  type NamedTensor,
  saveCheckpoint,
  saveFineTuned,
  type TrainState,
} from "./src/checkpoint.ts";
export { loadModel, shippedModels } from "./src/models.ts";
export { resolveModel, UsageError } from "./src/resolve.ts";
export { batchTensor, type Dataset, type LoadOptions, type Splits } from "./src/data/dataset.ts";
export { loadBinarizedMnist, loadMnistIdx } from "./src/data/mnist.ts";
export { loadCifar10 } from "./src/data/cifar.ts";
export { loadSvhn, readSvhnMat } from "./src/data/svhn.ts";
export { type MatArray, readMat } from "./src/data/mat.ts";
export { makeTwoDigit } from "./src/data/two_digit.ts";
export { CLUTTER_100, CLUTTER_60, type ClutterOptions, makeCluttered } from "./src/data/cluttered.ts";
export { fillNoise, Rng } from "./src/random.ts";
export { type BackendChoice, type BackendName, BACKENDS, selectBackend, webgpuAdapter } from "./src/backend.ts";
