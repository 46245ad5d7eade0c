/**
 * The command line's words: the help text, the option table, each command's own flags (any other is a usage error),
 * parsing, the checks of numeric flags, and what `train`'s flags ask for (the model, the run's settings). cli.ts
 * turns the parsed values into calls.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { type ConfigRequest, presetName, PRESETS } from "./config.ts";
import type { RunSettings } from "./run_settings.ts";
import { DATASETS } from "./data/registry.ts";
import { UsageError } from "./resolve.ts";
import { BACKENDS } from "./backend.ts";
import { ENGINES } from "./engine/engine.ts";

/** Where a flag is described in the help: a command's section, or the common flags. */
type Section = "train" | "eval" | "serve" | "sample" | "common";

/**
 * Every flag, written once: its type, what it takes, and its help in each section it belongs to (its commands). The
 * parser's options, each command's flags and `--help` are all made from this table.
 */
const FLAGS = {
  preset: {
    type: "string",
    arg: "NAME",
    help: {
      train: `architecture: ${Object.keys(PRESETS).join(", ")} (default mnist: Table 3's
MNIST model, T=64, LSTM 256, z 100, read 2x2, write 5x5); image size comes from the data`,
    },
  },
  "no-attention": {
    type: "boolean",
    help: { train: `read and write the whole image (Eqs 17-18, "DRAW without attention")` },
  },
  T: { type: "string", arg: "N", help: { train: "steps (override the preset; so do --hidden, --z, --read, --write)" } },
  hidden: { type: "string", arg: "N", help: { train: "LSTM width" } },
  z: { type: "string", arg: "N", help: { train: "latent width" } },
  read: { type: "string", arg: "N", help: { train: "read window N×N (0 = no attention)" } },
  write: { type: "string", arg: "N", help: { train: "write window N×N (0 = no attention)" } },
  glimpses: {
    type: "string",
    arg: "N",
    help: {
      train: `classifier datasets (cluttered, cluttered-60): glimpses before classifying
(classifier presets: cluttered, Table 3's 8 glimpses of 12x12, LSTM 256; tiny)`,
    },
  },
  epochs: {
    type: "string",
    arg: "N",
    help: {
      train: `stop after N epochs in all (default 100 unless --minutes is given; with --resume,
the end of the run's decay where it has one)`,
    },
  },
  minutes: {
    type: "string",
    arg: "M",
    help: { train: "time budget for this session, validation and checkpoint included" },
  },
  batch: {
    type: "string",
    arg: "N",
    help: { train: "minibatch size (default 100)", eval: "images per pass (default 250)" },
  },
  lr: { type: "string", arg: "X", help: { train: "Adam step size (default 1e-3)" } },
  "lr-final": {
    type: "string",
    arg: "X",
    help: {
      train: `decay the step size exponentially from --lr to X over --epochs (kept on --resume);
with --resume: a new decay from the run's current step size (or --lr) and epoch
to X at --epochs`,
    },
  },
  clip: {
    type: "string",
    arg: "X",
    help: { train: "clip the gradient's global norm at X; 0 turns clipping off (default 10)" },
  },
  seed: {
    type: "string",
    arg: "N",
    help: { train: "seed for weights, data order and noise (default 0)", common: "noise seed" },
  },
  out: {
    type: "string",
    arg: "DIR",
    help: {
      train: "run directory (default runs/<dataset>-<preset>)",
      sample: "where to write the pictures (default: the run directory)",
    },
  },
  resume: {
    type: "boolean",
    help: {
      train: `continue the run in --out from its checkpoint (with the run's own batch, clip,
seed and step size; --lr X goes on at X instead: a warm restart); a checkpoint
of weights alone (a copy of a shipped model's folder) goes on with a fresh optimizer
at the model's examples and epoch`,
    },
  },
  average: {
    type: "string",
    arg: "D",
    help: {
      train: `Polyak averaging (beyond the paper): keep a moving average of the weights with
decay D (e.g. 0.9995), validate it, and let eval, sample and serve use it
(kept on --resume; --resume --average D starts or changes it). D,D2,…: keep and
validate averages of decays D2,… beside D's, to choose the decay on validation;
--resume --average D2 then makes D2's the run's. A decay D takes effect after
about 10/(1 − D) steps (a warm-up); until then larger decays average alike`,
    },
  },
  "init-from": {
    type: "string",
    arg: "MODEL",
    help: {
      train: `start a new run from the weights of a shipped model, run directory or checkpoint
(a run's moving average where it keeps one), with its architecture unless --preset
is given (flags such as --glimpses still apply; e.g. a 4-glimpse classifier:
--init-from cluttered-8 --glimpses 4)`,
    },
  },
  freeze: {
    type: "string",
    arg: "W1,W2",
    help: {
      train: `with --init-from: hold these weights fixed and train the rest (names as in
the checkpoint, e.g. lstm.kernel; lstm.kernel[144:] its rows from 144 on); kept on --resume`,
    },
  },
  "checkpoint-every": { type: "string", arg: "M", help: { train: "minutes between checkpoints (default 5)" } },
  "valid-limit": { type: "string", arg: "N", help: { train: "validate on at most N images" } },
  split: { type: "string", arg: "test|valid", help: { eval: "(default test)" } },
  samples: {
    type: "string",
    arg: "K",
    help: { eval: "also the importance-weighted bound with K samples per image (tighter than Eq 12)" },
  },
  limit: { type: "string", arg: "N", help: { eval: "only the first N images" } },
  against: {
    type: "string",
    arg: "MODEL",
    help: {
      eval: `also evaluate MODEL (run directory, checkpoint or shipped name) on the same images and
noise, and give the difference image by image with its standard error (paired)`,
    },
  },
  "no-average": {
    type: "boolean",
    help: {
      eval: `a run's raw weights, not their moving average (train --average);
eval RUN --no-average --against RUN: what the averaging buys, image by image`,
      sample: "a run's raw weights, not their moving average",
    },
  },
  port: { type: "string", arg: "N", help: { serve: "port on 127.0.0.1 (default 8417; 0 picks a free one)" } },
  n: { type: "string", arg: "N", help: { sample: "samples in the grid (default 64)" } },
  "no-nearest": {
    type: "boolean",
    help: { sample: "skip the nearest-training-image column (needs the training set)" },
  },
  "data-dir": {
    type: "string",
    arg: "DIR",
    help: { common: "look for data here first (then $DRAW_DATA_DIR, then the per-user cache)" },
  },
  backend: {
    type: "string",
    arg: "NAME",
    help: { common: `${BACKENDS.join(", ")} (default auto: WebGPU on a GPU, else wasm)` },
  },
  engine: {
    type: "string",
    arg: "NAME",
    help: {
      common: `${ENGINES.join(", ")} (default auto: on the webgpu backend the WebGPU engine,
WGSL kernels, one submit per pass; on CPU backends the fused engine, wasm SIMD
kernels with OpenBLAS for the products where it is found; tfjs: the graph)`,
    },
  },
  threads: {
    type: "string",
    arg: "N",
    help: { common: "fused engine: threads that split a batch (default: every core)" },
  },
  blas: {
    type: "boolean",
    help: {
      common: `tfjs engine on wasm: run its matrix products through the system OpenBLAS
(Deno FFI; needs libopenblas or DRAW_BLAS_LIB)`,
    },
  },
  json: { type: "boolean", help: { common: "print the result as JSON" } },
  debug: {
    type: "boolean",
    help: { common: "on an unexpected error, print the stack trace too (or set DRAW_DEBUG=1)" },
  },
  help: { type: "boolean", short: "h", help: { common: "this help" } },
} as const;

type FlagName = keyof typeof FLAGS;
type Flag = { type: "string" | "boolean"; arg?: string; short?: string; help: Partial<Record<Section, string>> };
const flags = FLAGS as unknown as Record<FlagName, Flag>;

/** parseArgs's options, from {@link FLAGS}. */
const OPTIONS = Object.fromEntries(
  Object.entries(flags).map(([k, f]) => [k, f.short ? { type: f.type, short: f.short } : { type: f.type }]),
) as { [K in FlagName]: { type: (typeof FLAGS)[K]["type"] } };

export type Values = ReturnType<typeof parse>["values"];

/** The flags a section lists. */
const inSection = (s: Section) => (Object.keys(flags) as FlagName[]).filter((k) => flags[k].help[s] !== undefined);

/** The flags every command takes. */
const COMMON: readonly string[] = inSection("common");

/** The flags each command takes beside {@link COMMON}: any other is a usage error, not silently ignored. */
export const COMMAND_FLAGS: ReadonlyMap<string, readonly string[]> = new Map(
  (["train", "eval", "sample", "serve"] as const).map((c) => [c, inSection(c)]),
);

/** A section of the help: each flag with its argument, its help aligned and continued under it. */
function helpSection(s: Section): string {
  return inSection(s).map((k) => {
    const f = flags[k];
    const name = (k === "help" ? "-h, --help" : `--${k}`) + (f.arg ? ` ${f.arg}` : "");
    const [first, ...more] = f.help[s]!.split("\n");
    return [`  ${name.padEnd(20)}  ${first}`, ...more.map((l) => `${" ".repeat(24)}${l}`)].join("\n");
  }).join("\n");
}

/** `--help`: the commands, the data sets, and every section of {@link FLAGS}. */
export const USAGE = `draw.ts — DRAW (Gregor et al. 2015) on TensorFlow.js

Usage:
  deno run -A cli.ts train <dataset> [options]     train a model, checkpointing to --out
  deno run -A cli.ts train --resume --out DIR      go on with the run in DIR, on its own data set
  deno run -A cli.ts eval <run-dir|checkpoint|model>    test-set NLL bound in nats (Table 2), or test error (Table 1)
  deno run -A cli.ts sample <run-dir|checkpoint|model>  pictures: samples, generation (GIF, still), nearest, glimpses, loss
  deno run -A cli.ts serve [model|run-dir]              a local page: watch DRAW generate, draw a digit for it to read
  (a model is the name of one shipped in models/, e.g. mnist: sample mnist draws digits at once)
  deno run -A cli.ts help [command]

Datasets:
${[...DATASETS].map(([k, v]) => `  ${k.padEnd(12)} ${v.description}`).join("\n")}

train options:
${helpSection("train")}

eval options:
${helpSection("eval")}

serve options:
${helpSection("serve")}

sample options:
${helpSection("sample")}

Common options:
${helpSection("common")}
`;

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
    throw new UsageError(argsMessage(e, Object.keys(OPTIONS), args));
  }
}

/**
 * parseArgs's error in one line that says what to do (its own messages run to three lines and suggest no fix for a
 * misspelling): a flag with no value, a value given to a switch, an unknown flag with the known one nearest it.
 *
 * @example
 * ```ts
 * import { argsMessage } from "./cli_args.ts";
 * argsMessage(new Error("Unknown option '--epoch'. To specify …"), ["epochs", "lr"]);
 * // "unknown option --epoch: did you mean --epochs?"
 * ```
 */
export function argsMessage(e: unknown, known: readonly string[], args: readonly string[] = []): string {
  const message = e instanceof Error ? e.message : String(e);
  const flag = /^(?:Unknown option|Option) '(-[^' ]+)/.exec(message)?.[1];
  if (flag === undefined) return message.split("\n")[0];
  if ((e as { code?: string })?.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
    const near = nearest(flag.replace(/^-+/, ""), known);
    return `unknown option ${flag}${near ? `: did you mean --${near}?` : ""}`;
  }
  if (/does not take an argument/.test(message)) return `${flag} takes no value: give it alone`;
  if (!/argument is ambiguous/.test(message)) return `${flag} needs a value after it`;
  const value = args[args.indexOf(flag) + 1] ?? "-…";
  return `${flag} needs a value after it (one that starts with "-" is written ${flag}=${value})`;
}

/** The known name nearest `name`: within two edits (and fewer than half its letters), or the one it begins. */
function nearest(name: string, known: readonly string[]): string | undefined {
  const scored = known.map((k) => ({ k, d: editDistance(name, k) })).sort((a, b) => a.d - b.d);
  if (scored.length && scored[0].d <= Math.min(2, Math.floor(name.length / 2))) return scored[0].k;
  const begun = known.filter((k) => name.length >= 3 && k.startsWith(name));
  return begun.length === 1 ? begun[0] : undefined;
}

/** Levenshtein's distance: the fewest insertions, deletions and substitutions that turn `a` into `b`. */
function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    row = next;
  }
  return row[b.length];
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

/** Runs `f`, turning a RangeError or TypeError (a bad option value) into a usage error. */
export function usage<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof RangeError || e instanceof TypeError) throw new UsageError(e.message);
    throw e;
  }
}

/** The model `train` is asked for, from the flags: a request config.ts resolves (usage errors as such). */
export function configRequest(dataset: string, v: Values): ConfigRequest {
  const optional = (key: "T" | "hidden" | "z" | "read" | "write" | "glimpses", min: number) =>
    v[key] !== undefined ? num(v, key, 0, { int: true, min }) : undefined;
  const request: ConfigRequest = {
    classify: DATASETS.get(dataset)!.task === "classify",
    preset: v.preset,
    dataDefault: DATASETS.get(dataset)!.preset,
    noAttention: v["no-attention"],
    overrides: {
      T: optional("T", 1),
      hidden: optional("hidden", 1),
      z: optional("z", 1),
      readN: optional("read", 0), // 1, or under 2 for the classifier, is refused by config.ts
      writeN: optional("write", 0),
      glimpses: optional("glimpses", 1),
    },
  };
  usage(() => presetName(request));
  return request;
}

/** The run settings the flags give (train() takes the defaults, or on --resume the run's own, for the rest). */
export function runSettings(v: Values): Partial<RunSettings> {
  const given = (key: keyof Values, check: { int?: boolean; min?: number }) =>
    v[key] === undefined ? undefined : num(v, key, 0, check);
  const settings = {
    batch: given("batch", { int: true, min: 1 }),
    lr: given("lr", { min: 0 }),
    clipNorm: given("clip", { min: 0 }),
    seed: given("seed", { int: true, min: 0 }),
  };
  if (settings.lr !== undefined && !(settings.lr > 0)) throw new UsageError(`--lr must be > 0: got ${v.lr}`);
  if (v.average !== undefined) {
    // D, or D,D2,…: the run's average and further ones kept beside it to choose the decay on validation
    const decays = String(v.average).split(",").map((d) => d.trim() === "" ? NaN : Number(d));
    const bad = decays.findIndex((d, i) => !(i ? d > 0 : d >= 0) || !(d < 1) || decays.indexOf(d) !== i);
    if (bad >= 0) {
      throw new UsageError(
        `--average is the moving average's decay, from 0 (off) to below 1 (e.g. 0.999), or several, comma-separated ` +
          `and different, to compare on validation (e.g. 0.9995,0.999,0.9999): got ${v.average}`,
      );
    }
    Object.assign(settings, { average: decays[0], averageAlso: decays.slice(1) });
  }
  if (v["lr-final"] === undefined) return settings;
  const lrFinal = num(v, "lr-final", 0, { min: 0 });
  if (!(lrFinal > 0)) throw new UsageError(`--lr-final must be > 0: got ${v["lr-final"]}`);
  if (v.epochs === undefined) throw new UsageError("--lr-final decays over --epochs: give --epochs too");
  return { ...settings, lrFinal };
}

/** Whether an environment variable is set to something other than "" or "0" (false without --allow-env). */
export function envFlag(name: string): boolean {
  try {
    const v = Deno.env.get(name);
    return v !== undefined && v !== "" && v !== "0";
  } catch {
    return false;
  }
}

/**
 * An unexpected error in one line: what happened, and for file system errors, what to check. `known` says whether it
 * is one of those (the machine's state, not a bug: no stack trace is wanted for a bug report).
 */
export function describe(e: unknown): { line: string; known: boolean } {
  const message = (e instanceof Error ? e.message : String(e)).split("\n")[0];
  const hint = e instanceof Deno.errors.PermissionDenied
    ? "check that the path is writable by you"
    : e instanceof Deno.errors.NotFound
    ? "check that the path exists"
    : e instanceof Deno.errors.NotADirectory || e instanceof Deno.errors.IsADirectory
    ? "a file stands where a directory is needed, or the other way round"
    : e instanceof Error && /ENOSPC|No space left/i.test(message)
    ? "the disk is full"
    : undefined;
  return { line: hint ? `${message}: ${hint}` : message, known: hint !== undefined };
}
