/**
 * draw.ts command line: `train`, `eval` and `sample`. Argument parsing and output only; the work
 * is in src/. Results go to stdout (`--json` for machines), progress to stderr.
 *
 * Exit codes: 0 success, 1 runtime failure, 2 usage error, 130 interrupted (checkpoint saved).
 *
 * @module
 */
import { checkPass, type ClassifierConfig, type DrawConfig, presetName, resolveConfig } from "./src/config.ts";
import { BackendError, type BackendName, BACKENDS, selectBackend } from "./src/backend.ts";
import { DATASETS } from "./src/data/registry.ts";
import { classifierSpecs, paramSpecs } from "./src/params.ts";
import {
  checkNotShipped,
  datasetEntry,
  existingDir,
  resolveModel,
  UsageError,
  userDir,
  userPath,
} from "./src/resolve.ts";
import {
  checkFlags,
  COMMAND_FLAGS,
  configRequest,
  describe,
  envFlag,
  num,
  parse,
  runSettings,
  USAGE,
  usage,
  type Values,
} from "./src/cli_args.ts";
import type { Splits } from "./src/data/dataset.ts";
import { DataError } from "./src/data/files.ts";
import { type Checkpoint, loadCheckpoint, modelFromCheckpoint, SafetensorsError } from "./src/checkpoint.ts";
import { frozenParts } from "./src/trainer.ts";
import { shippedModel } from "./src/models.ts";
import { checkPort, servePage } from "./src/serve.ts";
import { evaluate, evaluateClassifier } from "./src/evaluate.ts";
import { evalReport } from "./src/eval_report.ts";
import { Classifier } from "./src/classifier.ts";
import { checkResume, classifierTask, drawTask, type ResumedRun, train, type TrainSummary } from "./src/train.ts";
import { decayEnd, RunError, TRAIN_DEFAULTS } from "./src/run_settings.ts";
import { BLAS_CANDIDATES, enableBlas } from "./src/tfjs_wasm_blas.ts";
import { createEngine, type Engine, type EngineName, ENGINES, TFJS_ENGINE } from "./src/engine/engine.ts";
import { Progress } from "./src/progress.ts";
import { interruptible, type Stop } from "./src/signals.ts";
import { writePictures } from "./src/sample_files.ts";
import { Rng } from "./src/random.ts";

const stdout = (s: string) => console.log(s);
const progress = new Progress();
const log = (s: string) => progress.line(s);

/** The engine of this run (stopped when the command ends). */
let engine: Engine = TFJS_ENGINE;

/** Selects the backend and the engine the options ask for, and logs both. */
async function backend(v: Values): Promise<string> {
  const name = (v.backend ?? "auto") as BackendName | "auto";
  if (!BACKENDS.includes(name)) throw new UsageError(`--backend must be one of ${BACKENDS.join(", ")}: got ${name}`);
  if (v.blas && name !== "auto" && name !== "wasm") {
    throw new UsageError(`--blas speeds up the wasm backend's matrix products; it does not apply to --backend ${name}`);
  }
  const engineName = (v.engine ?? "auto") as EngineName;
  if (!ENGINES.includes(engineName)) {
    throw new UsageError(`--engine must be one of ${ENGINES.join(", ")}: got ${engineName}`);
  }
  const threads = num(v, "threads", Math.max(1, navigator.hardwareConcurrency || 1), { int: true, min: 1, max: 256 });
  const choice = await selectBackend(name);
  log(`backend: ${choice.name} (${choice.reason})`);
  if (engineName === "webgpu" && choice.name !== "webgpu") {
    throw new UsageError(`--engine webgpu runs on the webgpu backend, not ${choice.name}: add --backend webgpu`);
  }
  engine = await createEngine(engineName, { threads, backend: choice.name });
  log(`engine: ${engine.description}`);
  if (v.blas) {
    if (choice.name !== "wasm") throw new UsageError(`--blas applies to the wasm backend, not ${choice.name}`);
    const lib = enableBlas();
    if (!lib) {
      throw new RunError(
        `Cannot use --blas as no CBLAS library could be opened (tried $DRAW_BLAS_LIB, ${
          BLAS_CANDIDATES.join(", ")
        }): ` +
          "install OpenBLAS (Debian: apt-get install libopenblas0-pthread) or set DRAW_BLAS_LIB to its path",
      );
    }
    log(`matrix products: sgemm from ${lib} (--blas)`);
  }
  return choice.name;
}

/** The splits of data set `name` (given on the command line, or read from the file `from`). */
async function loadData(name: string, v: Values, from?: string): Promise<Splits> {
  const entry = datasetEntry(name, from);
  const splits = await entry.load({ dataDir: userPath(v["data-dir"], "--data-dir"), log });
  log(
    `data: ${name} from ${splits.source} (${splits.train.count} train, ${splits.valid.count} valid, ${splits.test.count} test)`,
  );
  return splits;
}

/** The run's result line (or JSON), and its exit code. */
function reportTrain(summary: TrainSummary, splits: Splits, v: Values, stop: Stop): number {
  const r = summary.valid;
  if (v.json) {
    stdout(JSON.stringify({
      stopped: summary.stopped,
      examples: summary.state.examples,
      steps: summary.state.iteration,
      epochs: summary.state.examples / splits.train.count,
      seconds: summary.state.seconds,
      valid: r?.figures,
      valid_count: r?.count,
      checkpoint: summary.checkpoint,
      comparable_with_paper: splits.comparable,
    }));
  } else if (r) {
    stdout(`${r.text} on ${r.count} images after ${summary.state.examples} examples; checkpoint ${summary.checkpoint}`);
  } else {
    stdout(summary.message);
  }
  return summary.stopped === "nan" ? 1 : summary.stopped === "interrupted" ? stop.code() ?? 130 : 0;
}

/** The weights --freeze names. */
const freezeList = (v: Values) => v.freeze?.split(",").map((w) => w.trim()).filter(Boolean);

/**
 * Where a resumed run without --epochs or --minutes ends: the end of its decay where it has one, else epoch 100;
 * a run already there is a usage error that says to give --epochs (not a run that stops at once as if done).
 */
function resumedEnd(out: string, { settings, epoch }: ResumedRun): number {
  const end = decayEnd(settings) ?? 100;
  if (epoch >= end) {
    throw new UsageError(
      `the run in ${out} is at epoch ${epoch}, at or past its end (epoch ${end}): give --epochs above ${epoch} to go on`,
    );
  }
  return end;
}

/** The checkpoint --init-from names (a new run starts from its weights), after the checks of --freeze. */
async function initFrom(v: Values): Promise<{ from: string; checkpoint: Checkpoint } | undefined> {
  const from = v["init-from"];
  if (v.resume && (from !== undefined || v.freeze !== undefined)) {
    throw new UsageError(
      "--init-from and --freeze start a new run; --resume continues one with its own: give one or the other",
    );
  }
  if (v.freeze !== undefined && from === undefined) {
    throw new UsageError("--freeze holds a trained model's weights fixed: give --init-from with it");
  }
  if (from === undefined) return undefined;
  const { path } = await checkpointPath([from], "--init-from");
  const checkpoint = await loadCheckpoint(path);
  if (v.freeze !== undefined) {
    usage(() => frozenParts(freezeList(v)!, Object.fromEntries(checkpoint.weights)));
  }
  return { from, checkpoint };
}

async function cmdTrain(pos: string[], v: Values): Promise<number> {
  const given = userDir(v.out, "--out");
  if (given !== undefined) checkNotShipped(given);
  if (pos.length > 1 || (pos.length === 0 && !(v.resume && given !== undefined))) {
    throw new UsageError(
      `train takes one dataset (${[...DATASETS.keys()].join(", ")}), or --resume --out DIR to go on with a run's own`,
    );
  }
  const settings = runSettings(v);
  // a resume that names no data set goes on with the run's own: checked (before the data loads) where it is read
  let resumed = pos.length === 0 ? await checkResume({ outDir: given!, ...settings }) : undefined;
  const dataset = pos[0] ?? resumed!.dataset;
  datasetEntry(dataset);
  const request = configRequest(dataset, v);
  const minutes = v.minutes !== undefined ? num(v, "minutes", 0, { min: 0 }) : undefined;
  let epochs = v.epochs !== undefined
    ? num(v, "epochs", 0, { int: true, min: 1 })
    : minutes === undefined
    ? 100
    : undefined;
  const out = given ?? `runs/${dataset}-${presetName(request)}`;
  if (given === undefined) checkNotShipped(out); // a given one was checked above
  const init = await initFrom(v);
  if (v.resume) resumed ??= await checkResume({ outDir: out, dataset, ...settings }); // before the data loads
  if (resumed && v.epochs === undefined && minutes === undefined) epochs = resumedEnd(out, resumed);
  // a new run from a trained model takes its architecture unless a preset is named (the flags still override)
  if (init && (init.checkpoint.kind === "classifier") === request.classify) request.base = init.checkpoint.config;
  const be = await backend(v);
  const splits = await loadData(dataset, v);
  const config = usage(() => {
    const c = resolveConfig(request, splits.train);
    if (request.classify) classifierSpecs(c as ClassifierConfig); // refuses a model too large to allocate
    else paramSpecs(c as DrawConfig);
    checkPass(c, settings.batch ?? TRAIN_DEFAULTS.batch, "--batch");
    return c;
  });
  const task = request.classify ? classifierTask(config as ClassifierConfig) : drawTask(config as DrawConfig);
  if (!splits.comparable) {
    log("NOTE: this data is not the paper's binarized MNIST; NLL figures are not comparable with Table 2");
  }
  const stop = interruptible(log);
  try {
    const summary = await train({
      ...settings,
      task,
      splits,
      dataset,
      outDir: out,
      epochs,
      minutes,
      resume: v.resume,
      init,
      freeze: freezeList(v),
      checkpointMinutes: num(v, "checkpoint-every", 5, { min: 0 }),
      validLimit: v["valid-limit"] !== undefined ? num(v, "valid-limit", 0, { int: true, min: 1 }) : undefined,
      backend: be,
      engine,
      signal: stop.signal,
      progress,
    });
    return reportTrain(summary, splits, v, stop);
  } finally {
    stop.remove();
  }
}

/** The checkpoint the one positional argument of `cmd` names (see resolveModel). */
function checkpointPath(pos: string[], cmd: string): Promise<{ path: string; shipped?: string }> {
  if (pos.length !== 1) throw new UsageError(`${cmd} takes one run directory, checkpoint file or model name`);
  return resolveModel(pos[0], cmd);
}

async function cmdEval(pos: string[], v: Values): Promise<number> {
  const { path } = await checkpointPath(pos, "eval");
  const other = v.against !== undefined ? (await checkpointPath([v.against], "eval --against")).path : undefined;
  const split = v.split ?? "test";
  if (split !== "test" && split !== "valid") throw new UsageError(`--split must be test or valid: got ${split}`);
  const K = num(v, "samples", 1, { int: true, min: 1, max: 10_000 });
  const ckpt = await loadCheckpoint(path);
  const otherCkpt = other !== undefined ? await loadCheckpoint(other) : undefined;
  const dataset = String(ckpt.info.dataset ?? "mnist");
  if (otherCkpt) {
    const otherDataset = String(otherCkpt.info.dataset ?? "mnist");
    if (otherCkpt.kind !== ckpt.kind || otherDataset !== dataset) {
      throw new UsageError(
        `Cannot compare ${pos[0]} (${ckpt.kind} on ${dataset}) with ${v.against} (${otherCkpt.kind} on ` +
          `${otherDataset}): ` +
          `--against takes a model of the same kind trained on the same data`,
      );
    }
  }
  await backend(v);
  const splits = await loadData(dataset, v, path);
  const ds = splits[split];
  const limit = v.limit !== undefined ? num(v, "limit", 0, { int: true, min: 1 }) : undefined;
  const batch = num(v, "batch", 250, { int: true, min: 1 });
  for (const c of [ckpt, otherCkpt]) if (c) usage(() => checkPass(c.config, batch, "--batch"));
  const seed = num(v, "seed", 0, { int: true, min: 0 });
  /** Evaluates one checkpoint on ds; the same seed for both models of a comparison (common noise). */
  const run = async (c: Checkpoint, what: string, raw = false) => {
    const model = modelFromCheckpoint(c, { raw });
    model.engine = engine;
    const onProgress = progress.counter(`evaluating${otherCkpt ? ` ${what}` : ""}`);
    try {
      return model instanceof Classifier
        ? await evaluateClassifier(model, ds, { limit, batch, onProgress })
        : await evaluate(model, ds, { samples: K, limit, batch, seed, onProgress });
    } finally {
      model.dispose();
    }
  };
  const r = await run(ckpt, pos[0], v["no-average"]);
  const o = otherCkpt ? await run(otherCkpt, v.against!) : undefined;
  stdout(
    evalReport(r, o, {
      path,
      other,
      against: v.against,
      dataset,
      split,
      samples: K,
      comparable: splits.comparable,
      json: v.json === true,
    }),
  );
  return 0;
}

async function cmdSample(pos: string[], v: Values): Promise<number> {
  const { path, shipped } = await checkpointPath(pos, "sample");
  const runDir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : ".";
  const outDir = userDir(v.out, "--out") ?? (shipped ? `runs/${shipped}-samples` : runDir); // shipped models stay as shipped
  const n = num(v, "n", 64, { int: true, min: 1 });
  const rng = new Rng(num(v, "seed", 0, { int: true, min: 0 }));
  const ckpt = await loadCheckpoint(path);
  usage(() => checkPass(ckpt.config, n, "--n"));
  await backend(v);
  const model = modelFromCheckpoint(ckpt, { raw: v["no-average"] });
  model.engine = engine;
  const dataset = String(ckpt.info.dataset ?? "mnist");
  const written = await writePictures(model, {
    outDir,
    n,
    rng,
    dataset,
    metrics: `${runDir}/metrics.jsonl`,
    nearest: !v["no-nearest"],
    data: () => loadData(dataset, v, path),
    log,
  });
  if (v.json) stdout(JSON.stringify({ checkpoint: path, files: written }));
  else stdout(`wrote ${written.join(", ")}`);
  return 0;
}

/** The newest run under runs/ (by its checkpoint's time), for `serve` without an argument. */
async function newestRun(): Promise<string | undefined> {
  let best: [number, string] | undefined;
  try {
    for await (const e of Deno.readDir("runs")) {
      const path = `runs/${e.name}/checkpoint.safetensors`;
      const t = (await Deno.stat(path).catch(() => undefined))?.mtime?.getTime();
      if (t !== undefined && (!best || t > best[0])) best = [t, `runs/${e.name}`];
    }
  } catch {
    // no runs/
  }
  return best?.[1];
}

async function cmdServe(pos: string[], v: Values): Promise<number> {
  const port = num(v, "port", 8417, { int: true, min: 0, max: 65535 });
  checkPort(port);
  const which = pos.length ? pos : [(await shippedModel("mnist")) ? "mnist" : (await newestRun()) ?? "mnist"];
  const { path } = await checkpointPath(which, "serve");
  const ckpt = await loadCheckpoint(path); // checked here, so a bad file fails before the page
  const runDir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : ".";
  const dataset = String(ckpt.info.dataset ?? "mnist");
  const examples = ckpt.kind === "classifier"
    ? async () => {
      const test = (await loadData(dataset, v, path)).test,
        size = test.height * test.width,
        n = Math.min(8, test.count);
      const out = new Uint8Array(n * (size + 1));
      out.set(test.images.subarray(0, n * size));
      out.set(test.labels!.subarray(0, n), n * size);
      return out;
    }
    : undefined;
  log(`bundling the page for the browser…`);
  const server = await servePage({
    checkpoint: path,
    metrics: `${runDir}/metrics.jsonl`,
    examples,
    port,
    onListen: (url) => stdout(`DRAW's page for ${which[0]}: ${url} (Ctrl-C to stop)`),
  });
  const stop = interruptible(log, "stopping the page's server");
  try {
    await new Promise<void>((resolve) => stop.signal.addEventListener("abort", () => resolve()));
    await server.shutdown();
    return 0;
  } finally {
    stop.remove();
  }
}

/** Runs the CLI on `args` and returns the exit code. */
export async function main(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parse(args);
    const [cmd, ...pos] = parsed.positionals;
    const v = parsed.values;
    if (v.help || cmd === "help" || cmd === undefined) {
      (cmd === undefined && !v.help ? console.error : stdout)(USAGE);
      return cmd === undefined && !v.help ? 2 : 0;
    }
    if (COMMAND_FLAGS.has(cmd)) checkFlags(cmd, v);
    existingDir(v["data-dir"], "--data-dir", "the data sets"); // a mistyped folder, before anything loads
    if (cmd === "train") return await cmdTrain(pos, v);
    if (cmd === "eval") return await cmdEval(pos, v);
    if (cmd === "sample") return await cmdSample(pos, v);
    if (cmd === "serve") return await cmdServe(pos, v);
    throw new UsageError(`unknown command "${cmd}": use train, eval, sample or serve`);
  } catch (e) {
    if (e instanceof UsageError || (e instanceof RunError && e.usage)) {
      console.error(`error: ${e.message}\nRun "deno run -A cli.ts --help" for usage.`);
      return 2;
    }
    if (
      e instanceof DataError || e instanceof SafetensorsError || e instanceof RunError || e instanceof RangeError ||
      e instanceof BackendError
    ) {
      console.error(`error: ${e.message}`);
      return 1;
    }
    // Anything else (a file that cannot be written, a full disk, a missing adapter, a bug): one
    // line that says what happened; the stack trace only when asked for, for bug reports.
    const debug = args.includes("--debug") || envFlag("DRAW_DEBUG");
    const { line, known } = describe(e);
    console.error(`error: ${line}`);
    if (debug) console.error(e instanceof Error ? e.stack : String(e));
    else if (!known) console.error("(set DRAW_DEBUG=1 for the stack trace, to include in a bug report)");
    return 1;
  } finally {
    engine.dispose(); // stop the fused engine's worker threads
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
