/**
 * draw.ts's second entry point (`@draw/draw/engine`): what someone writing a new engine, or building on draw.ts's
 * parts, needs beside what mod.ts gives every user, and the tfjs tensor types the API takes and returns. The contract an engine answers (`DrawPasses`,
 * `ClassifierPasses`; docs/architecture.md says how to add one), the weights' names and shapes, the noise, the
 * trainer's and the training loop's building blocks, checkpoints' parts, and the data sets' own readers.
 *
 * @example
 * ```ts
 * import { type DrawPasses, paramSpecs, TFJS_ENGINE } from "./engine.ts";
 * import { type Engine, MNIST } from "./mod.ts";
 * console.log(paramSpecs(MNIST).map((p) => `${p.name} [${p.shape}]`).join("\n"));
 * const graph: Engine = TFJS_ENGINE; // answers no passes: the models run the tfjs graph
 * const none: DrawPasses | undefined = graph.draw(MNIST, 100);
 * ```
 *
 * @module
 */
/** The tfjs tensor types that draw.ts takes and returns (tfjs-core 4.22). */
export type { Scalar, Tensor, Tensor1D, Tensor2D, Tensor3D, Tensor4D, Tensor5D, Variable } from "./src/tf.ts";
export type { ClassifierPasses, DrawPasses, PassNoise } from "./src/engine/passes.ts";
export { type EngineOptions, ENGINES, TFJS_ENGINE } from "./src/engine/engine.ts";
export {
  CIFAR,
  CLUTTERED,
  imageSize,
  SVHN,
  TINY_CLASSIFIER,
  validateClassifierConfig,
  validateConfig,
} from "./src/config.ts";
export { type AttentionWindow, type Filterbank, filterMeans } from "./src/attention.ts";
export type { LstmState } from "./src/lstm.ts";
export { initWeights, type ParamSpec, paramSpecs, toImages } from "./src/draw.ts";
export { type ClassifierOutput, classifierSpecs, softmaxCrossEntropy } from "./src/classifier.ts";
export { type Batch, type ObjectiveGradients, type StepResult, type Trainable } from "./src/trainer.ts";
export { checkResume, type ResumedRun, type Task, type Validation } from "./src/train.ts";
export { type ResumeOptions, type RunSettings, scheduledLr } from "./src/run_settings.ts";
export { type EvalOptions, meanStdErr } from "./src/evaluate.ts";
export { resolveModel } from "./src/resolve.ts";
export {
  type BaseModel,
  type ModelKind,
  type ModelLoadOptions,
  type NamedTensor,
  saveFineTuned,
  type TrainState,
} from "./src/checkpoint.ts";
export { batchTensor, type LoadOptions } from "./src/data/dataset.ts";
export { readSvhnMat } from "./src/data/svhn.ts";
export { type MatArray, readMat } from "./src/data/mat.ts";
export { CLUTTER_100, CLUTTER_60, type ClutterOptions } from "./src/data/cluttered.ts";
export { fillNoise } from "./src/random.ts";
export { type BackendChoice, BACKENDS, webgpuAdapter } from "./src/backend.ts";
export { Progress } from "./src/progress.ts";
