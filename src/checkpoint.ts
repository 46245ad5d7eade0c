/**
 * Checkpoints: one safetensors file holding the weights (named as {@link paramSpecs}), the Adam
 * moments (`adam.m.<name>`, `adam.v.<name>`), and, in its metadata, the configuration and the
 * training position needed to resume exactly. docs/checkpoint.md documents the layout.
 *
 * @module
 */
import * as tf from "./tf.ts";
import { type ClassifierConfig, type DrawConfig, validateConfig } from "./config.ts";
import { Draw, type ParamSpec, paramSpecs } from "./draw.ts";
import { Classifier, classifierSpecs, validateClassifierConfig } from "./classifier.ts";
import { writeAtomic } from "./data/files.ts";
import { decodeSafetensors, encodeSafetensors, type NamedTensor, SafetensorsError } from "./safetensors.ts";
import type { Trainer } from "./trainer.ts";

/** The checkpoint format tag stored in the metadata. */
export const FORMAT = "draw.ts/checkpoint/1";

/** A model that can be checkpointed: DRAW or the classifier of Section 4.1. */
export type Model = Draw | Classifier;

/** Each model kind's configuration check, parameters and constructor. */
const KINDS: Record<
  ModelKind,
  { validate: (c: unknown) => unknown; specs: (c: unknown) => ParamSpec[]; build: (c: unknown) => Model }
> = {
  draw: {
    validate: (c: unknown) => validateConfig(c as DrawConfig),
    specs: (c: unknown) => paramSpecs(c as DrawConfig),
    build: (c: unknown) => new Draw(c as DrawConfig, 0),
  },
  classifier: {
    validate: (c: unknown) => validateClassifierConfig(c as ClassifierConfig),
    specs: (c: unknown) => classifierSpecs(c as ClassifierConfig),
    build: (c: unknown) => new Classifier(c as ClassifierConfig, 0),
  },
};

/** Where a training run stands: enough to continue the same curve. */
export interface TrainState {
  /** Adam updates applied. */
  iteration: number;
  /** Examples seen so far. */
  examples: number;
  /** Current epoch (0-based). */
  epoch: number;
  /** The next batch within the epoch. */
  batchInEpoch: number;
  /** State of the noise generator (random.ts). */
  noiseRng: number;
  /** Training seconds so far, over all sessions of the run. */
  seconds: number;
  /** Adam's step size at the latest update (it changes where the run decays it). */
  lr?: number;
}

/** The model kinds a checkpoint can hold. */
export type ModelKind = "draw" | "classifier";

/** A checkpoint as read from disk. */
export interface Checkpoint {
  /** "draw" or "classifier". */
  kind: ModelKind;
  /** The model's configuration (a DrawConfig for "draw", a ClassifierConfig for "classifier"). */
  config: DrawConfig | ClassifierConfig;
  /** The weights by name. */
  weights: Map<string, NamedTensor>;
  /** Adam's moments, when the file holds them (needed to resume). */
  adam?: { m: Map<string, NamedTensor>; v: Map<string, NamedTensor> };
  /** The training position, when the file holds it. */
  state?: TrainState;
  /** Other metadata (dataset, options), as stored. */
  info: Record<string, unknown>;
}

async function tensorData(t: tf.Tensor): Promise<NamedTensor> {
  return { shape: t.shape.slice(), data: (await t.data()) as Float32Array };
}

/**
 * Writes a checkpoint atomically. Refuses, leaving any earlier file intact, if a weight is not
 * finite.
 */
export async function saveCheckpoint(
  path: string,
  model: Model,
  trainer?: Trainer,
  state?: TrainState,
  info: Record<string, unknown> = {},
): Promise<void> {
  const tensors = new Map<string, NamedTensor>();
  const specs = model.specs();
  for (const spec of specs) {
    const t = await tensorData(model.weights[spec.name]);
    const bad = t.data.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) {
      throw new RangeError(
        `Cannot save checkpoint as weight ${spec.name}[${bad}] is ${t.data[bad]}: the previous checkpoint is kept`,
      );
    }
    tensors.set(spec.name, t);
  }
  if (trainer) {
    for (const spec of specs) {
      tensors.set(`adam.m.${spec.name}`, await tensorData(trainer.m[spec.name]));
      tensors.set(`adam.v.${spec.name}`, await tensorData(trainer.v[spec.name]));
    }
  }
  const metadata: Record<string, string> = {
    format: FORMAT,
    kind: model.kind,
    config: JSON.stringify(model.config),
    info: JSON.stringify(info),
  };
  if (state) metadata.state = JSON.stringify(state);
  if (trainer) metadata.adam = JSON.stringify(trainer.options);
  await writeAtomic(path, encodeSafetensors(tensors, metadata));
}

/**
 * Reads and checks a checkpoint: the format tag, the configuration, and every weight's name and
 * shape against it. Throws {@link SafetensorsError} with the file's name on any mismatch.
 */
export async function loadCheckpoint(path: string): Promise<Checkpoint> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new SafetensorsError(`Cannot read checkpoint ${path} (${(e as Error).message})`);
  }
  return parseCheckpoint(bytes, path);
}

/**
 * A checkpoint from its bytes (`what` names it in errors), checked as {@link loadCheckpoint}
 * checks a file; no file system needed (the page in the browser uses it).
 */
export function parseCheckpoint(bytes: Uint8Array, what: string): Checkpoint {
  const path = what;
  const { tensors, metadata } = decodeSafetensors(bytes, path);
  const fail = (why: string) => new SafetensorsError(`Cannot use ${path} as a draw.ts checkpoint: ${why}`);
  if (metadata.format !== FORMAT) throw fail(`its format tag is ${metadata.format ?? "missing"}, not ${FORMAT}`);
  const kind = (metadata.kind ?? "draw") as ModelKind;
  if (!(kind in KINDS)) throw fail(`its model kind ${kind} is unknown`);
  let config: DrawConfig | ClassifierConfig;
  let specs: ParamSpec[];
  try {
    config = KINDS[kind].validate(JSON.parse(metadata.config)) as DrawConfig | ClassifierConfig;
    specs = KINDS[kind].specs(config);
  } catch (e) {
    throw fail(`its stored config is invalid (${(e as Error).message})`);
  }
  const weights = new Map<string, NamedTensor>();
  const m = new Map<string, NamedTensor>();
  const v = new Map<string, NamedTensor>();
  for (const spec of specs) {
    for (
      const [prefix, into, required] of [["", weights, true], ["adam.m.", m, false], ["adam.v.", v, false]] as const
    ) {
      const t = tensors.get(prefix + spec.name);
      if (!t) {
        if (required) throw fail(`weight ${spec.name} is missing`);
        continue;
      }
      if (t.shape.join() !== spec.shape.join()) {
        throw fail(`${prefix + spec.name} has shape [${t.shape}] where the config needs [${spec.shape}]`);
      }
      into.set(spec.name, t);
    }
  }
  const known = new Set(specs.flatMap((s) => [s.name, `adam.m.${s.name}`, `adam.v.${s.name}`]));
  const extra = [...tensors.keys()].filter((k) => !known.has(k));
  if (extra.length) throw fail(`it holds tensors the config does not have: ${extra.slice(0, 5).join(", ")}`);
  const full = m.size === weights.size && v.size === weights.size;
  return {
    kind,
    config,
    weights,
    adam: full ? { m, v } : undefined,
    state: metadata.state ? JSON.parse(metadata.state) : undefined,
    info: metadata.info ? JSON.parse(metadata.info) : {},
  };
}

/** Builds the model (DRAW or classifier) holding a checkpoint's weights. */
export function modelFromCheckpoint(ckpt: Checkpoint): Model {
  const model = KINDS[ckpt.kind].build(ckpt.config);
  for (const [name, t] of ckpt.weights) {
    tf.tidy(() => model.weights[name].assign(tf.tensor(t.data, t.shape)));
  }
  return model;
}

/** Restores a trainer's Adam moments and iteration count from a checkpoint. */
export function restoreTrainer(trainer: Trainer, ckpt: Checkpoint): void {
  if (!ckpt.adam || !ckpt.state) {
    throw new SafetensorsError(
      "Cannot resume from this checkpoint as it holds no optimizer state (weights only): resume the run it came from, or start a new one",
    );
  }
  for (const [name, t] of ckpt.adam.m) tf.tidy(() => trainer.m[name].assign(tf.tensor(t.data, t.shape)));
  for (const [name, t] of ckpt.adam.v) tf.tidy(() => trainer.v[name].assign(tf.tensor(t.data, t.shape)));
  trainer.iteration = ckpt.state.iteration;
}

export { type NamedTensor, SafetensorsError };
