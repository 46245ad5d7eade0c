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
import { sha256 } from "./data/download.ts";
import {
  decodeSafetensors,
  encodeSafetensors,
  type NamedTensor,
  type Safetensors,
  SafetensorsError,
} from "./safetensors.ts";
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
  /** The step at which Adam's moments started afresh (a run continued from weights alone); 0 if absent. */
  adamStart?: number;
  /** Updates folded into the weights' moving averages (`avg.<name>`), where the run averages them. */
  averaged?: number;
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
  /**
   * The weights' moving averages (`avg.<name>`, Polyak averaging), when the run keeps them: what
   * {@link modelFromCheckpoint} loads unless told to take the raw weights.
   */
  average?: Map<string, NamedTensor>;
  /**
   * The further moving averages a run keeps to choose its decay on validation (`avg@<decay>.<name>`;
   * {@link TrainerOptions.averageAlso}), by decay.
   */
  averageAlso?: Map<number, Map<string, NamedTensor>>;
  /** The training position, when the file holds it. */
  state?: TrainState;
  /** Other metadata (dataset, options), as stored. */
  info: Record<string, unknown>;
  /** Where the file holds only what fine-tuning changed: the model it changed (its weights filled the rest in). */
  base?: BaseModel;
}

/**
 * The model a fine-tuned checkpoint holds only the changes of: a shipped model in the folder beside its own
 * (models/<model>/checkpoint.safetensors), pinned by that file's SHA-256.
 */
export interface BaseModel {
  /** The base model's folder name, e.g. "cluttered-8". */
  model: string;
  /** Lower-case hex SHA-256 of the base's checkpoint.safetensors. */
  sha256: string;
}

/** A tensor of a further moving average, `avg@<decay>.<name>`: its decay. */
const AVG_ALSO = /^avg@(0?\.\d+(?:e-\d+)?)\./;

/** A row slice of a weight in a fine-tuned checkpoint: `name[a:b]` holds rows a to b − 1 of `name`. */
const SLICE = /^(.+)\[(\d+):(\d+)\]$/;

async function tensorData(t: tf.Tensor): Promise<NamedTensor> {
  return { shape: t.shape.slice(), data: (await t.data()) as Float32Array };
}

/**
 * Writes a checkpoint atomically. Refuses, leaving any earlier file intact, if a weight is not
 * finite. `dtype` F16 stores every tensor in half precision (a shipped model's weights: half the
 * bytes), refusing a value beyond its range; I8 every matrix in 8 bits with a scale per column, the rest in half
 * precision (a quarter of the bytes; see {@link encodeSafetensors}).
 */
export async function saveCheckpoint(
  path: string,
  model: Model,
  trainer?: Trainer,
  state?: TrainState,
  info: Record<string, unknown> = {},
  dtype: "F32" | "F16" | "I8" = "F32",
): Promise<void> {
  const tensors = await modelTensors(model);
  if (trainer) {
    for (const spec of model.specs()) {
      tensors.set(`adam.m.${spec.name}`, await tensorData(trainer.m[spec.name]));
      tensors.set(`adam.v.${spec.name}`, await tensorData(trainer.v[spec.name]));
      const a = trainer.avg[spec.name];
      if (a) tensors.set(`avg.${spec.name}`, await finiteData(a, `avg.${spec.name}`));
      for (const [d, avg] of trainer.avgAlso) {
        tensors.set(`avg@${d}.${spec.name}`, await finiteData(avg[spec.name], `avg@${d}.${spec.name}`));
      }
    }
  }
  const metadata = checkpointMetadata(model, state, info);
  if (trainer) metadata.adam = JSON.stringify(trainer.options);
  await writeAtomic(path, encodeSafetensors(tensors, metadata, dtype));
}

/** A tensor's values, refusing (RangeError) one that is not finite: a checkpoint is never written with a NaN. */
async function finiteData(x: tf.Tensor, name: string): Promise<NamedTensor> {
  const t = await tensorData(x);
  const bad = t.data.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) {
    throw new RangeError(
      `Cannot save checkpoint as weight ${name}[${bad}] is ${t.data[bad]}: the previous checkpoint is kept`,
    );
  }
  return t;
}

/** A model's weights by name, refusing (RangeError) a weight that is not finite. */
async function modelTensors(model: Model): Promise<Map<string, NamedTensor>> {
  const tensors = new Map<string, NamedTensor>();
  for (const spec of model.specs()) tensors.set(spec.name, await finiteData(model.weights[spec.name], spec.name));
  return tensors;
}

/** The metadata strings of a checkpoint (docs/checkpoint.md). */
function checkpointMetadata(
  model: { kind: ModelKind; config: unknown },
  state: TrainState | undefined,
  info: Record<string, unknown>,
): Record<string, string> {
  const metadata: Record<string, string> = {
    format: FORMAT,
    kind: model.kind,
    config: JSON.stringify(model.config),
    info: JSON.stringify(info),
  };
  if (state) metadata.state = JSON.stringify(state);
  return metadata;
}

/**
 * Writes `model` as a fine-tuned checkpoint of `base` (a shipped model, read with {@link loadCheckpoint} from
 * `base.path`): only the weights that differ from the base's, and of a weight whose changes lie in some rows
 * only, those rows (`name[a:b]`); the rest comes from the base when the file is read. Weights only.
 */
export async function saveFineTuned(
  path: string,
  model: Model,
  base: { model: string; path: string },
  state?: TrainState,
  info: Record<string, unknown> = {},
): Promise<{ tensors: string[]; bytes: number }> {
  const bytes = await Deno.readFile(base.path);
  const ref: BaseModel = { model: base.model, sha256: await sha256(bytes) };
  const from = parseCheckpoint(bytes, base.path);
  if (from.kind !== model.kind) {
    throw new RangeError(`Cannot save a ${model.kind} as changes to ${base.model}, a ${from.kind}`);
  }
  const changed = new Map<string, NamedTensor>();
  for (const [name, t] of await modelTensors(model)) {
    const b = from.weights.get(name);
    if (!b || b.shape.join() !== t.shape.join()) {
      throw new RangeError(`Cannot save ${name} as a change to ${base.model}, whose ${name} has another shape`);
    }
    const cols = t.data.length / t.shape[0];
    const rows = Array.from({ length: t.shape[0] }, (_, r) => r).filter((r) => {
      for (let i = r * cols; i < (r + 1) * cols; i++) if (t.data[i] !== b.data[i]) return true;
      return false;
    });
    if (!rows.length) continue;
    const [a, z] = [rows[0], rows[rows.length - 1] + 1];
    if (a === 0 && z === t.shape[0]) changed.set(name, t);
    else {changed.set(`${name}[${a}:${z}]`, {
        shape: [z - a, ...t.shape.slice(1)],
        data: t.data.slice(a * cols, z * cols),
      });}
  }
  const metadata = checkpointMetadata(model, state, info);
  metadata.base = JSON.stringify(ref);
  const out = encodeSafetensors(changed, metadata);
  await writeAtomic(path, out);
  return { tensors: [...changed.keys()], bytes: out.length };
}

/** A checkpoint's weights (no optimizer state) as the bytes of a whole checkpoint file. */
export function encodeCheckpoint(ckpt: Checkpoint): Uint8Array {
  return encodeSafetensors(ckpt.weights, checkpointMetadata(ckpt, ckpt.state, ckpt.info));
}

/**
 * Reads and checks a checkpoint: the format tag, the configuration, and every weight's name and
 * shape against it. Throws {@link SafetensorsError} with the file's name on any mismatch.
 */
export async function loadCheckpoint(path: string): Promise<Checkpoint> {
  const bytes = await readCheckpointFile(path);
  const decoded = decodeSafetensors(bytes, path);
  const ref = baseOf(decoded.metadata, path);
  if (!ref) return checkpointFrom(decoded, path);
  const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : ".";
  const basePath = `${dir}/../${ref.model}/checkpoint.safetensors`;
  const fail = (why: string) =>
    new SafetensorsError(`Cannot use ${path} as it holds only what fine-tuning changed in model ${ref.model}, ${why}`);
  let baseBytes: Uint8Array;
  try {
    baseBytes = await Deno.readFile(basePath);
  } catch (e) {
    throw fail(`which should be beside it at ${basePath} (${(e as Error).message})`);
  }
  const sum = await sha256(baseBytes);
  if (sum !== ref.sha256) {
    throw fail(
      `and ${basePath} is another version of it (SHA-256 ${sum.slice(0, 12)}…, not ${ref.sha256.slice(0, 12)}…)`,
    );
  }
  return checkpointFrom(decoded, path, parseCheckpoint(baseBytes, basePath));
}

async function readCheckpointFile(path: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (e) {
    throw new SafetensorsError(`Cannot read checkpoint ${path} (${(e as Error).message})`);
  }
}

/** The base model named in a checkpoint's metadata, if any (checked). */
export function baseOf(metadata: Record<string, string>, path: string): BaseModel | undefined {
  if (metadata.base === undefined) return undefined;
  let ref: Partial<BaseModel> = {};
  try {
    ref = JSON.parse(metadata.base);
  } catch {
    // reported below
  }
  if (
    typeof ref.model !== "string" || !/^[a-z0-9][a-z0-9._-]*$/i.test(ref.model) ||
    !/^[0-9a-f]{64}$/.test(ref.sha256 ?? "")
  ) {
    throw new SafetensorsError(
      `Cannot use ${path} as a draw.ts checkpoint: its base model entry is invalid (${metadata.base})`,
    );
  }
  return ref as BaseModel;
}

/** A fine-tuned checkpoint's tensors over its base's weights: whole weights replaced, row slices written in. */
function overBase(
  tensors: Map<string, NamedTensor>,
  base: Checkpoint,
  fail: (why: string) => SafetensorsError,
): Map<string, NamedTensor> {
  const out = new Map(base.weights);
  for (const [key, t] of tensors) {
    const m = SLICE.exec(key);
    if (!m) {
      out.set(key, t);
      continue;
    }
    const whole = out.get(m[1]);
    const [a, z] = [Number(m[2]), Number(m[3])];
    if (!whole || z > whole.shape[0] || t.shape.join() !== [z - a, ...whole.shape.slice(1)].join()) {
      throw fail(`its slice ${key} [${t.shape}] does not fit the base's ${m[1]}${whole ? ` [${whole.shape}]` : ""}`);
    }
    const data = whole.data.slice();
    data.set(t.data, a * (whole.data.length / whole.shape[0]));
    out.set(m[1], { shape: whole.shape, data });
  }
  return out;
}

/**
 * A checkpoint from its bytes (`what` names it in errors), checked as {@link loadCheckpoint}
 * checks a file; no file system needed (the page in the browser uses it).
 */
export function parseCheckpoint(bytes: Uint8Array, what: string, base?: Checkpoint): Checkpoint {
  return checkpointFrom(decodeSafetensors(bytes, what), what, base);
}

/** {@link parseCheckpoint} on the decoded file. */
function checkpointFrom(decoded: Safetensors, path: string, base?: Checkpoint): Checkpoint {
  const metadata = decoded.metadata;
  let tensors = decoded.tensors;
  const fail = (why: string) => new SafetensorsError(`Cannot use ${path} as a draw.ts checkpoint: ${why}`);
  if (metadata.format !== FORMAT) throw fail(`its format tag is ${metadata.format ?? "missing"}, not ${FORMAT}`);
  const kind = (metadata.kind ?? "draw") as ModelKind;
  if (!Object.hasOwn(KINDS, kind)) throw fail(`its model kind ${kind} is unknown (draw or classifier)`);
  const ref = baseOf(metadata, path);
  if (ref) {
    if (!base) {
      throw fail(
        `it holds only what fine-tuning changed in ${ref.model}: read it with loadCheckpoint, which reads ${ref.model} too`,
      );
    }
    if (base.kind !== kind) throw fail(`it changes a ${kind}, and its base ${ref.model} is a ${base.kind}`);
    tensors = overBase(tensors, base, fail);
  }
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
  const avg = new Map<string, NamedTensor>();
  const also = new Map<number, Map<string, NamedTensor>>();
  for (const key of tensors.keys()) {
    const d = AVG_ALSO.exec(key)?.[1];
    if (d !== undefined && !also.has(Number(d))) also.set(Number(d), new Map());
  }
  const parts: [string, Map<string, NamedTensor>, boolean][] = [
    ["", weights, true],
    ["adam.m.", m, false],
    ["adam.v.", v, false],
    ["avg.", avg, false],
    ...[...also].map(([d, into]): [string, Map<string, NamedTensor>, boolean] => [`avg@${d}.`, into, false]),
  ];
  for (const spec of specs) {
    for (const [prefix, into, required] of parts) {
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
  const known = new Set(specs.flatMap((s) => parts.map(([prefix]) => prefix + s.name)));
  const extra = [...tensors.keys()].filter((k) => !known.has(k));
  if (extra.length) throw fail(`it holds tensors the config does not have: ${extra.slice(0, 5).join(", ")}`);
  const full = m.size === weights.size && v.size === weights.size;
  for (const a of [avg, ...also.values()]) {
    if (a.size && a.size !== weights.size) throw fail(`it holds the moving averages of some weights only`);
  }
  // a NaN or an infinity would give NaN figures (or pictures of nothing) with exit 0: refused here, named
  for (const [prefix, into] of parts) {
    for (const [name, t] of into) {
      const bad = t.data.findIndex((x) => !Number.isFinite(x));
      if (bad >= 0) throw fail(`${prefix}${name}[${bad}] is ${t.data[bad]}, not a finite number (a damaged file)`);
    }
  }
  const json = (key: string) => {
    try {
      return metadata[key] ? JSON.parse(metadata[key]) : undefined;
    } catch (e) {
      throw fail(`its metadata entry ${key} is not valid JSON (${(e as Error).message})`);
    }
  };
  const state = json("state"), info = json("info") ?? {};
  if (state !== undefined && (typeof state !== "object" || !Number.isInteger(state?.iteration))) {
    throw fail(`its metadata entry state is not a training position (${metadata.state.slice(0, 80)})`);
  }
  if (typeof info !== "object" || info === null || Array.isArray(info)) {
    throw fail(`its metadata entry info is not an object (${metadata.info.slice(0, 80)})`);
  }
  return {
    kind,
    config,
    weights,
    adam: full ? { m, v } : undefined,
    average: avg.size ? avg : undefined,
    averageAlso: also.size ? also : undefined,
    state,
    info,
    base: ref,
  };
}

/** Which of a checkpoint's weights {@link modelFromCheckpoint} loads. */
export interface ModelLoadOptions {
  /**
   * The raw weights of a run that keeps moving averages (`--no-average`), not the averages. Default false: the
   * averages where the checkpoint has them, which is what validation, `eval`, `sample` and shipped models use.
   */
  raw?: boolean;
}

/** The weights a model loaded from `ckpt` holds: the moving averages where it has them, unless `raw`. */
export function checkpointWeights(ckpt: Checkpoint, options: ModelLoadOptions = {}): Map<string, NamedTensor> {
  return !options.raw && ckpt.average ? ckpt.average : ckpt.weights;
}

/** Builds the model (DRAW or classifier) holding a checkpoint's weights (its averages where it keeps them). */
export function modelFromCheckpoint(ckpt: Checkpoint, options: ModelLoadOptions = {}): Model {
  const model = KINDS[ckpt.kind].build(ckpt.config);
  assignWeights(model, checkpointWeights(ckpt, options));
  return model;
}

/** Gives `model` these weights (by name; each of the model's shape, as a checked checkpoint's are). */
export function assignWeights(model: Model, weights: Map<string, NamedTensor>): void {
  for (const [name, t] of weights) tf.tidy(() => model.weights[name].assign(tf.tensor(t.data, t.shape)));
}

/**
 * Restores a trainer's Adam moments, step count and moving averages from a checkpoint. A checkpoint of weights
 * alone (a shipped model) restores the step count only, with `fresh`: Adam starts again from zero moments at the
 * model's step (its bias correction counting from there), and the averages, where the trainer keeps them, from the
 * weights.
 */
export function restoreTrainer(trainer: Trainer, ckpt: Checkpoint, options: { fresh?: boolean } = {}): void {
  if (!ckpt.state || (!ckpt.adam && !options.fresh)) {
    throw new SafetensorsError(
      "Cannot resume from this checkpoint as it holds no optimizer state (weights only): resume the run it came from, or start a new one",
    );
  }
  const set = (into: Record<string, tf.Variable>, from: Map<string, NamedTensor>) => {
    for (const [name, t] of from) if (into[name]) tf.tidy(() => into[name].assign(tf.tensor(t.data, t.shape)));
  };
  trainer.iteration = ckpt.state.iteration;
  if (ckpt.adam) {
    set(trainer.m, ckpt.adam.m);
    set(trainer.v, ckpt.adam.v);
    trainer.adamStart = ckpt.state.adamStart ?? 0;
  } else trainer.adamStart = ckpt.state.iteration;
  if (ckpt.adam) {
    // each average the trainer keeps goes on from the checkpoint's of the same decay, else from its run's own
    // average (a decay changed or added on resume), else from the weights
    const saved = new Map(ckpt.averageAlso);
    const decay = (ckpt.info.settings as { average?: number } | undefined)?.average;
    if (ckpt.average && decay !== undefined) saved.set(decay, ckpt.average);
    const from = (d: number) => saved.get(d) ?? ckpt.average;
    const want: [number, Record<string, tf.Variable>][] = [[trainer.options.average, trainer.avg], ...trainer.avgAlso];
    for (const [d, into] of want) {
      const source = from(d);
      if (source) set(into, source);
    }
    if (ckpt.average || ckpt.averageAlso) trainer.averaged = ckpt.state.averaged ?? 0;
  }
}

export { type NamedTensor, SafetensorsError };
