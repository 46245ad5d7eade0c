/**
 * Checkpoints: one safetensors file holding the weights (named as {@link paramSpecs}), the Adam
 * moments (`adam.m.<name>`, `adam.v.<name>`), and, in its metadata, the configuration and the
 * training position needed to resume exactly. docs/checkpoint.md documents the layout.
 *
 * @module
 */
import * as tf from "./tf.ts";
import { type DrawConfig, validateConfig } from "./config.ts";
import { Draw, paramSpecs } from "./draw.ts";
import { writeAtomic } from "./data/files.ts";
import { decodeSafetensors, encodeSafetensors, type NamedTensor, SafetensorsError } from "./safetensors.ts";
import type { Trainer } from "./trainer.ts";

/** The checkpoint format tag stored in the metadata. */
export const FORMAT = "draw.ts/checkpoint/1";

/** Where a training run stands: enough to continue the same curve. */
export interface TrainState {
  /** Adam updates applied. */
  iteration: number;
  /** Examples seen so far. */
  examples: number;
  /** Current epoch (0-based) and the next batch within it. */
  epoch: number;
  batchInEpoch: number;
  /** State of the noise generator (random.ts). */
  noiseRng: number;
  /** Training seconds so far, over all sessions of the run. */
  seconds: number;
}

/** A checkpoint as read from disk. */
export interface Checkpoint {
  config: DrawConfig;
  weights: Map<string, NamedTensor>;
  adam?: { m: Map<string, NamedTensor>; v: Map<string, NamedTensor> };
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
  model: Draw,
  trainer?: Trainer,
  state?: TrainState,
  info: Record<string, unknown> = {},
): Promise<void> {
  const tensors = new Map<string, NamedTensor>();
  for (const spec of paramSpecs(model.config)) {
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
    for (const spec of paramSpecs(model.config)) {
      tensors.set(`adam.m.${spec.name}`, await tensorData(trainer.m[spec.name]));
      tensors.set(`adam.v.${spec.name}`, await tensorData(trainer.v[spec.name]));
    }
  }
  const metadata: Record<string, string> = {
    format: FORMAT,
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
  const { tensors, metadata } = decodeSafetensors(bytes, path);
  const fail = (why: string) => new SafetensorsError(`Cannot use ${path} as a draw.ts checkpoint: ${why}`);
  if (metadata.format !== FORMAT) throw fail(`its format tag is ${metadata.format ?? "missing"}, not ${FORMAT}`);
  let config: DrawConfig;
  try {
    config = validateConfig(JSON.parse(metadata.config));
  } catch (e) {
    throw fail(`its stored config is invalid (${(e as Error).message})`);
  }
  const weights = new Map<string, NamedTensor>();
  const m = new Map<string, NamedTensor>();
  const v = new Map<string, NamedTensor>();
  for (const spec of paramSpecs(config)) {
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
  const known = new Set(paramSpecs(config).flatMap((s) => [s.name, `adam.m.${s.name}`, `adam.v.${s.name}`]));
  const extra = [...tensors.keys()].filter((k) => !known.has(k));
  if (extra.length) throw fail(`it holds tensors the config does not have: ${extra.slice(0, 5).join(", ")}`);
  const full = m.size === weights.size && v.size === weights.size;
  return {
    config,
    weights,
    adam: full ? { m, v } : undefined,
    state: metadata.state ? JSON.parse(metadata.state) : undefined,
    info: metadata.info ? JSON.parse(metadata.info) : {},
  };
}

/** Builds a {@link Draw} holding a checkpoint's weights. */
export function modelFromCheckpoint(ckpt: Checkpoint): Draw {
  const model = new Draw(ckpt.config, 0);
  for (const [name, t] of ckpt.weights) {
    tf.tidy(() => model.weights[name].assign(tf.tensor(t.data, t.shape)));
  }
  return model;
}

/** Restores a trainer's Adam moments and iteration count from a checkpoint. */
export function restoreTrainer(trainer: Trainer, ckpt: Checkpoint): void {
  if (!ckpt.adam || !ckpt.state) {
    throw new SafetensorsError("Cannot resume from this checkpoint as it holds no optimizer state (weights only)");
  }
  for (const [name, t] of ckpt.adam.m) tf.tidy(() => trainer.m[name].assign(tf.tensor(t.data, t.shape)));
  for (const [name, t] of ckpt.adam.v) tf.tidy(() => trainer.v[name].assign(tf.tensor(t.data, t.shape)));
  trainer.iteration = ckpt.state.iteration;
}

export { SafetensorsError };
