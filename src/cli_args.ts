/**
 * The command line's words: the help text, the option table, each command's own flags (any other is a usage error),
 * parsing, and the checks of numeric flags. cli.ts turns the parsed values into calls.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { PRESETS } from "./config.ts";
import { DATASETS } from "./data/registry.ts";
import { UsageError } from "./resolve.ts";
import { BACKENDS } from "./backend.ts";
import { ENGINES } from "./engine/engine.ts";

export const USAGE = `draw.ts — DRAW (Gregor et al. 2015) on TensorFlow.js

Usage:
  deno run -A cli.ts train <dataset> [options]     train a model, checkpointing to --out
  deno run -A cli.ts eval <run-dir|checkpoint|model>    test-set NLL bound in nats (Table 2), or test error (Table 1)
  deno run -A cli.ts sample <run-dir|checkpoint|model>  pictures: samples, generation GIF, nearest images, glimpses, loss curve
  deno run -A cli.ts serve [model|run-dir]              a local page: watch DRAW generate, draw a digit for it to read
  (a model is the name of one shipped in models/, e.g. mnist: sample mnist draws digits at once)
  deno run -A cli.ts help [command]

Datasets:
${[...DATASETS].map(([k, v]) => `  ${k.padEnd(12)} ${v.description}`).join("\n")}

train options:
  --preset NAME         architecture: ${Object.keys(PRESETS).join(", ")} (default mnist: Table 3's
                        MNIST model, T=64, LSTM 256, z 100, read 2x2, write 5x5); image size comes from the data
  --no-attention        read and write the whole image (Eqs 17-18, "DRAW without attention")
  --T N --hidden N --z N --read N --write N   override the preset (read/write 0 = no attention)
  --glimpses N          classifier datasets (cluttered, cluttered-60): glimpses before classifying
                        (classifier presets: cluttered, Table 3's 8 glimpses of 12x12, LSTM 256; tiny)
  --epochs N            stop after N epochs in all (default 100 unless --minutes is given; with --resume,
                        the end of the run's decay where it has one)
  --minutes M           time budget for this session, validation and checkpoint included
  --batch N             minibatch size (default 100)
  --lr X                Adam step size (default 1e-3)
  --lr-final X          decay the step size exponentially from --lr to X over --epochs (kept on --resume);
                        with --resume: a new decay from the run's current step size (or --lr) and epoch
                        to X at --epochs
  --clip X              clip the gradient's global norm at X; 0 turns clipping off (default 10)
  --seed N              seed for weights, data order and noise (default 0)
  --out DIR             run directory (default runs/<dataset>-<preset>)
  --resume              continue the run in --out from its checkpoint (with the run's own batch, clip,
                        seed and step size; --lr X goes on at X instead: a warm restart); a checkpoint
                        of weights alone (a copy of a shipped model's folder) goes on with a fresh optimizer
                        at the model's examples and epoch
  --average D           Polyak averaging (beyond the paper): keep a moving average of the weights with
                        decay D (e.g. 0.9995), validate it, and let eval, sample and serve use it
                        (kept on --resume; --resume --average D starts or changes it)
  --init-from MODEL     start a new run from the weights of a shipped model, run directory or checkpoint,
                        with its architecture unless --preset is given (flags such as --glimpses still
                        apply; e.g. a 4-glimpse classifier: --init-from cluttered-8 --glimpses 4)
  --freeze W1,W2        with --init-from: hold these weights fixed and train the rest (names as in
                        the checkpoint, e.g. lstm.kernel; lstm.kernel[144:] its rows from 144 on); kept on --resume
  --checkpoint-every M  minutes between checkpoints (default 5)
  --valid-limit N       validate on at most N images

eval options:
  --split test|valid    (default test)
  --samples K           also the importance-weighted bound with K samples per image (tighter than Eq 12)
  --limit N             only the first N images
  --batch N             images per pass (default 250)
  --against MODEL       also evaluate MODEL (run directory, checkpoint or shipped name) on the same images and
                        noise, and give the difference image by image with its standard error (paired)
  --no-average          (eval, sample) a run's raw weights, not their moving average (train --average);
                        eval RUN --no-average --against RUN: what the averaging buys, image by image

serve options:
  --port N              port on 127.0.0.1 (default 8417; 0 picks a free one)

sample options:
  --n N                 samples in the grid (default 64)
  --out DIR             where to write the pictures (default: the run directory)
  --no-nearest          skip the nearest-training-image column (needs the training set)

Common options:
  --data-dir DIR        look for data here first (then $DRAW_DATA_DIR, then the per-user cache)
  --backend NAME        ${BACKENDS.join(", ")} (default auto: WebGPU on a GPU, else wasm)
  --engine NAME         ${ENGINES.join(", ")} (default auto: on the webgpu backend the WebGPU engine,
                        WGSL kernels, one submit per pass; on CPU backends the fused engine, wasm SIMD
                        kernels with OpenBLAS for the products where it is found; tfjs: the graph)
  --threads N           fused engine: threads that split a batch (default: every core)
  --blas                tfjs engine on wasm: run its matrix products through the system OpenBLAS
                        (Deno FFI; needs libopenblas or DRAW_BLAS_LIB)
  --seed N              noise seed
  --json                print the result as JSON
  --debug               on an unexpected error, print the stack trace too (or set DRAW_DEBUG=1)
  -h, --help            this help
`;

const OPTIONS = {
  help: { type: "boolean", short: "h" },
  json: { type: "boolean" },
  debug: { type: "boolean" },
  port: { type: "string" },
  preset: { type: "string" },
  "no-attention": { type: "boolean" },
  T: { type: "string" },
  glimpses: { type: "string" },
  hidden: { type: "string" },
  z: { type: "string" },
  read: { type: "string" },
  write: { type: "string" },
  epochs: { type: "string" },
  minutes: { type: "string" },
  batch: { type: "string" },
  lr: { type: "string" },
  "lr-final": { type: "string" },
  average: { type: "string" },
  "no-average": { type: "boolean" },
  clip: { type: "string" },
  seed: { type: "string" },
  out: { type: "string" },
  resume: { type: "boolean" },
  "init-from": { type: "string" },
  freeze: { type: "string" },
  "checkpoint-every": { type: "string" },
  "valid-limit": { type: "string" },
  split: { type: "string" },
  samples: { type: "string" },
  against: { type: "string" },
  limit: { type: "string" },
  n: { type: "string" },
  "no-nearest": { type: "boolean" },
  "data-dir": { type: "string" },
  backend: { type: "string" },
  blas: { type: "boolean" },
  engine: { type: "string" },
  threads: { type: "string" },
} as const;

export type Values = ReturnType<typeof parse>["values"];

/** The flags every command takes. */
const COMMON = ["help", "json", "debug", "data-dir", "backend", "engine", "threads", "blas", "seed"];

/** The flags each command takes beside {@link COMMON}: any other is a usage error, not silently ignored. */
export const COMMAND_FLAGS: ReadonlyMap<string, readonly string[]> = new Map([
  [
    "train",
    [
      ...["preset", "no-attention", "T", "glimpses", "hidden", "z", "read", "write", "epochs", "minutes", "batch"],
      ...["lr", "lr-final", "average", "clip", "out", "resume", "init-from", "freeze", "checkpoint-every"],
      "valid-limit",
    ],
  ],
  ["eval", ["split", "samples", "against", "limit", "batch", "no-average"]],
  ["sample", ["n", "out", "no-nearest", "no-average"]],
  ["serve", ["port"]],
]);

/** Refuses a flag that `cmd` does not take (exit 2), naming the commands that do. */
export function checkFlags(cmd: string, v: Values): void {
  const own = COMMAND_FLAGS.get(cmd) ?? [];
  for (const [key, value] of Object.entries(v)) {
    if (value === undefined || COMMON.includes(key) || own.includes(key)) continue;
    const takers = [...COMMAND_FLAGS].filter(([, flags]) => flags.includes(key)).map(([c]) => c);
    throw new UsageError(`${cmd} does not take --${key}${takers.length ? ` (${takers.join(" and ")} does)` : ""}`);
  }
}

export function parse(args: string[]) {
  try {
    return parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

export function num(
  v: Values,
  key: keyof Values,
  fallback: number,
  { int = false, min = -Infinity, max = Infinity } = {},
): number {
  const raw = v[key];
  if (raw === undefined) return fallback;
  const x = Number(raw);
  if (
    typeof raw !== "string" || raw.trim() === "" || !Number.isFinite(x) || (int && !Number.isInteger(x)) || x < min ||
    x > max
  ) {
    const range = max < Infinity ? ` from ${min} to ${max}` : min > -Infinity ? ` >= ${min}` : "";
    throw new UsageError(`--${key} must be ${int ? "an integer" : "a number"}${range}: got ${String(raw)}`);
  }
  return x;
}
