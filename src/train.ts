/**
 * The training loop behind `cli.ts train`: epochs or a time budget, progress, metrics.jsonl,
 * atomic checkpoints every few minutes and at the end, clean stop on SIGINT, refusal to go on
 * after a non-finite loss, and exact resume.
 *
 * @module
 */
import * as tf from "./tf.ts";
import type { ClassifierConfig, DrawConfig } from "./config.ts";
import { batchLabels, batchTensor, type Dataset } from "./data/dataset.ts";
import type { Splits } from "./data/dataset.ts";
import { isFile } from "./data/files.ts";
import {
  assignWeights,
  type Checkpoint,
  checkpointWeights,
  loadCheckpoint,
  type Model,
  modelFromCheckpoint,
  restoreTrainer,
  saveCheckpoint,
  type TrainState,
} from "./checkpoint.ts";
import { clock, Progress } from "./progress.ts";
import { Rng } from "./random.ts";
import { Trainer } from "./trainer.ts";
import { classifierTask, drawTask, type Task, type Validation } from "./tasks.ts";
import { appendMetric, Budget, MetricsWindow, trimMetrics } from "./run_log.ts";
import { type Engine, TFJS_ENGINE } from "./engine/engine.ts";
import {
  checkResumed,
  epochOrder,
  newRunSettings,
  resumedSettings,
  type ResumeOptions,
  RUN_SEEDS,
  RunError,
  type RunSettings,
  savedSettings,
  scheduledLr,
  trainerOptions,
} from "./run_settings.ts";
import { LockError, lockRun, type RunLock } from "./lock.ts";

export { classifierTask, drawTask, type Task, type Validation };

/** Options of {@link train}. */
export interface TrainOptions extends Omit<RunSettings, "initFrom" | "batch" | "lr" | "clipNorm" | "seed"> {
  /**
   * Examples per step, the gradient-norm clip and the seed of a new run (defaults: {@link TRAIN_DEFAULTS}). They
   * stay the run's own on every resume: a resume that gives another value is refused with a RunError.
   */
  batch?: number;
  /** The gradient-norm clip of a new run (see `batch`: the run's own on resume). */
  clipNorm?: number;
  /** The seed of a new run (see `batch`: the run's own on resume). */
  seed?: number;
  /**
   * Adam's step size of a new run (at the start of its decay when `lrFinal` is given). On resume, a warm restart:
   * go on at this step instead of the run's own, constant from here, or with `lrFinal` decaying from it to lrFinal
   * at `epochs`. Left out on resume, the run keeps its own step size and schedule.
   */
  lr?: number;
  /** The model to train (on resume the checkpoint decides). */
  task: Task;
  /**
   * Start a new run from these weights instead of fresh ones (`from` names them for the record): a
   * checkpoint of the same kind whose every weight has the task model's shape. Its configuration may
   * differ where no weight depends on it (a classifier's glimpse count).
   */
  init?: { from: string; checkpoint: Checkpoint };
  /** The data: trained on `train`, validated on `valid`. */
  splits: Splits;
  /** Dataset name, for config.json and checkpoints (a resume on another is refused). */
  dataset: string;
  /** The run's directory: checkpoint.safetensors, config.json and metrics.jsonl. */
  outDir: string;
  /** Stop after this many epochs (total, over resumes). */
  epochs?: number;
  /** Stop after this many minutes of this session, validation and checkpoint included. */
  minutes?: number;
  /** Continue the run in `outDir` from its checkpoint (weights, Adam's state, data order, noise). */
  resume?: boolean;
  /** Minutes between periodic checkpoints. Default 5. */
  checkpointMinutes?: number;
  /** Validate on at most this many images. */
  validLimit?: number;
  /** The tfjs backend's name for config.json and the log (default: the backend in use, `tf.getBackend()`). */
  backend?: string;
  /** What computes the passes (default: the tfjs graph). */
  engine?: Engine;
  /** Aborting it stops the run after the current step, with a checkpoint (`stopped: "interrupted"`). */
  signal?: AbortSignal;
  /** Where the status line and the log go (default: stderr). */
  progress?: Progress;
}

/** How a run ended, and its last validation figures. */
export interface TrainSummary {
  /** Why the run ended: its epochs done, its minutes spent, aborted, or a non-finite loss (nothing saved). */
  stopped: "epochs" | "budget" | "interrupted" | "nan";
  /** Where the run stands: steps, examples, epoch. */
  state: TrainState;
  /** The last validation, where one ran. */
  valid?: Validation;
  /** One line on how it ended. */
  message: string;
  /** The checkpoint written at the end, where one was. */
  checkpoint?: string;
}

function checkGeometry(config: { height: number; width: number; channels: number }, ds: Dataset): void {
  const want = `${ds.height}×${ds.width}×${ds.channels}`;
  const have = `${config.height}×${config.width}×${config.channels}`;
  if (want !== have) throw new RunError(`Cannot train a ${have} model on ${ds.name}, whose images are ${want}`);
}

/** An open run: what is trained, with what, where, and how far it has come. */
interface Run {
  o: TrainOptions;
  /** The run directory's lock, held while the run writes there. */
  lock: RunLock;
  task: Task;
  model: Model;
  trainer: Trainer;
  state: TrainState;
  settings: RunSettings;
  ckptPath: string;
  progress: Progress;
}

/**
 * Gives a new model the weights of checkpoint `ckpt` (from `from`; its moving averages where the run kept them):
 * same kind, every weight of the same shape, or a RunError that says which differs.
 */
function initWeights(model: Model, from: string, ckpt: Checkpoint): void {
  const fail = (why: string) => {
    model.dispose();
    return new RunError(`Cannot start from ${from} as ${why}`);
  };
  const weights = checkpointWeights(ckpt); // a run's moving averages where it keeps them: the model eval sees
  if (ckpt.kind !== model.kind) throw fail(`it holds a ${ckpt.kind} model, and this run trains a ${model.kind}`);
  for (const spec of model.specs()) {
    const t = weights.get(spec.name);
    if (!t) throw fail(`it has no weight ${spec.name}`);
    if (t.shape.join() !== spec.shape.join()) {
      throw fail(
        `its ${spec.name} is [${t.shape}] where this model needs [${spec.shape}]: ` +
          "give the architecture options it was trained with",
      );
    }
  }
  assignWeights(model, new Map(model.specs().map((spec) => [spec.name, weights.get(spec.name)!])));
}

/** The checkpoint of the run in `outDir` that a resume continues, or a RunError where there is none. */
async function resumedCheckpoint(outDir: string): Promise<{ ckpt: Checkpoint; ckptPath: string }> {
  const ckptPath = `${outDir}/checkpoint.safetensors`;
  if (!(await isFile(ckptPath))) {
    throw new RunError(`Cannot resume as ${ckptPath} does not exist: train without --resume first`);
  }
  return { ckpt: await loadCheckpoint(ckptPath), ckptPath };
}

/** What {@link checkResume} read of the run it checked. */
export interface ResumedRun {
  /** The data set it trains on. */
  dataset: string;
  /** The settings it trains with. */
  settings: RunSettings;
  /** The epoch its checkpoint is at. */
  epoch: number;
}

/**
 * What train() checks first on resume, for a caller that would load data before calling it (the CLI): refuses
 * with a usage-level RunError to resume the run in `o.outDir` on another data set or with another batch, clip or
 * seed, and with a RunError where `o.outDir` holds no checkpoint to resume. Without `o.dataset`, the run's own (its
 * checkpoint's record, else its config.json's; a usage-level RunError where it records none). Returns what it read.
 *
 * @example
 * ```ts
 * import { checkResume } from "./train.ts";
 * await checkResume({ outDir: "runs/mine", dataset: "mnist", batch: 50 }); // throws if runs/mine trains at 100
 * const { dataset } = await checkResume({ outDir: "runs/two-digit-mnist" }); // "two-digit"
 * ```
 */
export async function checkResume(o: Omit<ResumeOptions, "dataset"> & { dataset?: string }): Promise<ResumedRun> {
  const { ckpt } = await resumedCheckpoint(o.outDir);
  let recorded = ckpt.info.dataset;
  if (typeof recorded !== "string") {
    recorded = await Deno.readTextFile(`${o.outDir}/config.json`).then((t) => JSON.parse(t).dataset, () => undefined);
  }
  const dataset = o.dataset ?? recorded;
  if (typeof dataset !== "string") {
    throw new RunError(`The run in ${o.outDir} does not record its data set: name it (train <dataset> --resume)`, true);
  }
  const settings = savedSettings(ckpt, { ...o, dataset });
  checkResumed({ ...o, dataset }, recorded, settings);
  return { dataset, settings, epoch: ckpt.state?.epoch ?? 0 };
}

/**
 * Opens the run in o.outDir, holding its lock (one writer per run): resumes its checkpoint, or starts a new one
 * (writing config.json). A run refused here leaves no folder it made.
 */
async function openRun(o: TrainOptions): Promise<Run> {
  const progress = o.progress ?? new Progress();
  const existed = await Deno.stat(o.outDir).then(() => true, () => false);
  await Deno.mkdir(o.outDir, { recursive: true });
  let lock: RunLock;
  try {
    lock = await lockRun(o.outDir, (line) => progress.line(line));
  } catch (e) {
    throw e instanceof LockError ? new RunError(e.message) : e;
  }
  try {
    return { ...await openLocked(o, progress), lock };
  } catch (e) {
    await lock.release();
    if (!existed) await Deno.remove(o.outDir, { recursive: true }).catch(() => {});
    throw e;
  }
}

/** {@link openRun} once the lock is held. */
async function openLocked(o: TrainOptions, progress: Progress): Promise<Omit<Run, "lock">> {
  if (o.resume) {
    const { ckpt, ckptPath } = await resumedCheckpoint(o.outDir);
    if (!ckpt.state) throw new RunError(`Cannot resume from ${ckptPath} as it holds no training state`);
    const saved = savedSettings(ckpt, o);
    checkResumed(o, ckpt.info.dataset, saved);
    const settings = resumedSettings(saved, o, ckpt.state.epoch);
    checkGeometry(ckpt.config, o.splits.train);
    const model = modelFromCheckpoint(ckpt, { raw: true });
    const task = ckpt.kind === "classifier"
      ? classifierTask(ckpt.config as ClassifierConfig)
      : drawTask(ckpt.config as DrawConfig);
    model.engine = o.engine ?? TFJS_ENGINE;
    const trainer = new Trainer(model, trainerOptions(settings));
    restoreTrainer(trainer, ckpt, { fresh: true });
    const state = { ...ckpt.state };
    await trimMetrics(o.outDir, state.iteration);
    const fresh = ckpt.adam ? "" : " with a fresh optimizer (the checkpoint holds weights alone)";
    progress.line(
      `resuming ${ckptPath} at step ${state.iteration} (${state.examples} examples, epoch ${state.epoch})${fresh}`,
    );
    return { o, task, model, trainer, state, settings, ckptPath, progress };
  }
  const ckptPath = `${o.outDir}/checkpoint.safetensors`;
  if (await isFile(ckptPath)) {
    throw new RunError(
      `Cannot start a new run in ${o.outDir} as it already holds a checkpoint: pass --resume to continue it, or choose another --out`,
    );
  }
  const settings = newRunSettings({ ...o, initFrom: o.init?.from });
  const model = o.task.create(settings.seed);
  model.engine = o.engine ?? TFJS_ENGINE;
  checkGeometry(model.config, o.splits.train);
  if (o.init) initWeights(model, o.init.from, o.init.checkpoint);
  let trainer: Trainer;
  try {
    trainer = new Trainer(model, trainerOptions(settings));
  } catch (e) {
    model.dispose();
    throw new RunError((e as Error).message);
  }
  const state = {
    iteration: 0,
    examples: 0,
    epoch: 0,
    batchInEpoch: 0,
    noiseRng: RUN_SEEDS.noise(settings.seed),
    seconds: 0,
  };
  const config = {
    kind: model.kind,
    model: model.config,
    dataset: o.dataset,
    data_source: o.splits.source,
    comparable_with_paper: o.splits.comparable,
    settings,
    backend: o.backend ?? tf.getBackend(),
    parameters: model.size,
    started: new Date().toISOString(),
  };
  await Deno.writeTextFile(`${o.outDir}/config.json`, JSON.stringify(config, null, 2) + "\n");
  return { o, task: o.task, model, trainer, state, settings, ckptPath, progress };
}

/** Writes the run's checkpoint (atomically) and a metrics line saying why. */
async function saveRun(run: Run, why: string, noise: Rng, secondsSoFar: number): Promise<void> {
  run.state.noiseRng = noise.state;
  run.state.seconds = secondsSoFar;
  if (run.trainer.adamStart) run.state.adamStart = run.trainer.adamStart;
  if (run.trainer.averaging) run.state.averaged = run.trainer.averaged;
  await saveCheckpoint(run.ckptPath, run.model, run.trainer, run.state, {
    dataset: run.o.dataset,
    settings: run.settings,
  });
  await appendMetric(run.o.outDir, {
    kind: "checkpoint",
    step: run.state.iteration,
    examples: run.state.examples,
    why,
  });
}

/**
 * Validates on the validation split, or (with a budget) on a subset sized to the time left at
 * `rate` examples/s; logs and records the figures.
 */
async function validateRun(run: Run, budget: Budget, rate: number, limitForBudget: boolean): Promise<Validation> {
  const { o, state } = run, count = o.splits.valid.count;
  let limit = Math.min(o.validLimit ?? count, count);
  let byBudget = false; // whether the time left, not --valid-limit, set the subset
  if (limitForBudget && Number.isFinite(budget.total)) {
    const left = Math.max(budget.reserve * 0.6, budget.total - budget.elapsed() - budget.reserve * 0.3);
    const fits = Math.max(50, Math.floor(Math.max(rate, 1) * 2.5 * left));
    byBudget = fits < limit;
    limit = Math.min(limit, fits);
  }
  const averaging = run.trainer.options.average > 0;
  const validate = (what: string) =>
    run.task.validate(run.model, o.splits.valid, limit, (d, n) => run.progress.update(`validating${what} ${d}/${n}`));
  // with averaging: the averaged weights (what eval, sample and a shipped model use), and the raw ones beside them
  const r = await run.trainer.withAverage(() => validate(averaging ? " (averaged weights)" : ""));
  const raw = averaging ? await validate(" (raw weights)") : undefined;
  // the further averages kept to choose the decay on validation
  const others: [number, Validation][] = [];
  for (const d of run.trainer.avgAlso.keys()) {
    others.push([d, await run.trainer.withAverage(() => validate(` (average of decay ${d})`), d)]);
  }
  const subset = r.count < count
    ? ` (on the first ${r.count} of ${count} validation images${byBudget ? ", a subset sized to the time budget" : ""})`
    : "";
  const also = (raw ? ` with averaged weights; raw weights: ${raw.text.replace(/^validation /, "")}` : "") +
    others.map(([d, v]) => `; average of decay ${d}: ${v.text.replace(/^validation /, "")}`).join("");
  run.progress.line(`${r.text} at ${state.examples} examples${subset}${also}`);
  const perEpoch = Math.floor(o.splits.train.count / Math.min(run.settings.batch, o.splits.train.count));
  await appendMetric(o.outDir, {
    kind: "valid",
    step: state.iteration,
    examples: state.examples,
    epoch: state.epoch + state.batchInEpoch / perEpoch,
    ...r.figures,
    ...(raw ? Object.fromEntries(Object.entries(raw.figures).map(([k, v]) => [`raw_${k}`, v])) : {}),
    ...Object.fromEntries(others.flatMap(([d, v]) => Object.entries(v.figures).map(([k, x]) => [`avg@${d}_${k}`, x]))),
    count: r.count,
    of: count,
  });
  return r;
}

/** What one session of a run keeps as it goes: the noise, the clock, the metrics window, the rate. */
interface Session {
  noise: Rng;
  budget: Budget;
  metrics: MetricsWindow;
  /** Examples/s this session. */
  rate: number;
  startExamples: number;
  secondsBefore: number;
  lastCkpt: number;
  /** The NaN message, when a step met one. */
  message: string;
}

/** Seconds of training in all, this session included. */
const secondsOf = (s: Session) => s.secondsBefore + s.budget.elapsed();

/**
 * The rest of the current epoch, from state.batchInEpoch: undefined when it is done, else why it
 * stopped (interrupted, budget, or a NaN, whose message goes to s.message).
 */
async function trainEpoch(run: Run, s: Session): Promise<"interrupted" | "budget" | "nan" | undefined> {
  const { o, task, state, settings, progress } = run;
  const trainSet = o.splits.train, batch = Math.min(settings.batch, trainSet.count);
  const perEpoch = Math.floor(trainSet.count / batch);
  const order = epochOrder(trainSet.count, settings.seed, state.epoch);
  for (let b = state.batchInEpoch; b < perEpoch; b++) {
    if (o.signal?.aborted) return "interrupted";
    if (s.budget.spent()) return "budget";
    const idx = order.subarray(b * batch, (b + 1) * batch);
    // random crops (SVHN) or fresh clutter (cluttered MNIST) from this batch's own generator
    const fresh = trainSet.stored || trainSet.draw
      ? new Rng(RUN_SEEDS.crops(settings.seed, state.epoch, b))
      : undefined;
    const x = batchTensor(trainSet, idx, fresh);
    const labels = task.labelled ? batchLabels(trainSet, idx) : undefined;
    run.trainer.options.lr = scheduledLr(settings, state.epoch + b / perEpoch);
    const r = await run.trainer.step({ x, labels }, s.noise);
    tf.dispose([x, labels].filter(Boolean) as tf.Tensor[]);
    if (!Number.isFinite(r.loss) || !Number.isFinite(r.gradNorm)) {
      const kept = await isFile(run.ckptPath);
      s.message = `Stopped at step ${state.iteration + 1}: the loss is ${r.loss} (gradient norm ${r.gradNorm}). ` +
        `The weights were not updated and ${
          kept ? `the last good checkpoint ${run.ckptPath} is kept` : "no checkpoint was written"
        }. Try a lower --lr or keep gradient clipping on, then --resume.`;
      return "nan";
    }
    state.iteration = run.trainer.iteration;
    state.lr = run.trainer.options.lr;
    state.examples += batch;
    state.batchInEpoch = b + 1;
    s.metrics.add(r.loss, r.gradNorm, r.figures);
    s.rate = (state.examples - s.startExamples) / s.budget.elapsed();
    const epochF = state.epoch + state.batchInEpoch / perEpoch;
    const eta = Number.isFinite(s.budget.total)
      ? s.budget.total - s.budget.elapsed()
      : o.epochs !== undefined
      ? ((o.epochs * perEpoch - (state.epoch * perEpoch + state.batchInEpoch)) * batch) / Math.max(s.rate, 1e-9)
      : NaN;
    const status = `step ${state.iteration} epoch ${epochF.toFixed(2)} | loss ${r.loss.toFixed(2)} ` +
      `${task.format(r.figures)} | ${s.rate.toFixed(1)} ex/s | ETA ${clock(eta)}`;
    if (progress.update(status)) {
      const record = s.metrics.close(state.examples);
      const at = { step: state.iteration, examples: state.examples, epoch: epochF };
      await appendMetric(o.outDir, { kind: "train", ...at, ...record, seconds: secondsOf(s) });
    }
    if ((performance.now() - s.lastCkpt) / 60_000 >= (o.checkpointMinutes ?? 5)) {
      await saveRun(run, "periodic", s.noise, secondsOf(s));
      s.lastCkpt = performance.now();
    }
  }
  return undefined;
}

/**
 * Trains the task's model (DRAW or the classifier) as the options say, in the run directory `outDir`.
 *
 * @example
 * ```ts
 * import { drawTask, loadBinarizedMnist, MNIST, train } from "../mod.ts";
 * const splits = await loadBinarizedMnist();
 * const run = await train({ task: drawTask(MNIST), splits, dataset: "mnist", outDir: "runs/mine", epochs: 10 });
 * console.log(run.message); // later, train({ ...the same, resume: true }) goes on from runs/mine
 * ```
 */
export async function train(o: TrainOptions): Promise<TrainSummary> {
  const run = await openRun(o);
  try {
    return await trainOpen(run);
  } finally {
    await run.lock.release();
  }
}

/** {@link train} on the opened run. */
async function trainOpen(run: Run): Promise<TrainSummary> {
  const { o, task, model, state, settings, ckptPath, progress } = run;
  const trainSet = o.splits.train, batch = Math.min(settings.batch, trainSet.count);
  const noise = new Rng(0);
  noise.state = state.noiseRng;
  const s: Session = {
    noise,
    budget: new Budget(o.minutes),
    metrics: new MetricsWindow(state.examples),
    rate: 0,
    startExamples: state.examples,
    secondsBefore: state.seconds,
    lastCkpt: performance.now(),
    message: "",
  };
  const clipping = settings.clipNorm > 0 ? `at global norm ${settings.clipNorm}` : "off";
  const start = settings.decayStart ?? 0;
  const lr = settings.lrFinal === undefined ? `${settings.lr}` : `${settings.lr} decaying to ${settings.lrFinal} ` +
    `over epochs ${start}–${start + settings.decayEpochs!} (now ${scheduledLr(settings, state.epoch).toPrecision(3)})`;
  const from = settings.initFrom ? `; started from ${settings.initFrom}` : "";
  const frozen = settings.freeze?.length ? `; frozen: ${settings.freeze.join(", ")}` : "";
  const averaging = (settings.average ? `; a moving average of the weights with decay ${settings.average}` : "") +
    (settings.averageAlso?.length ? `; kept beside it to compare: decays ${settings.averageAlso.join(", ")}` : "");
  progress.line(
    `training ${o.dataset}: ${task.describe(model)}, ${model.size} parameters; batch ${batch}, Adam lr ${lr}, ` +
      `gradient clipping ${clipping}; backend ${o.backend ?? tf.getBackend()}${from}${frozen}${averaging}`,
  );
  let stopped: TrainSummary["stopped"] = "epochs";
  let valid: Validation | undefined;
  while (o.epochs === undefined || state.epoch < o.epochs) {
    const why = await trainEpoch(run, s);
    if (why) {
      stopped = why;
      break;
    }
    state.epoch++;
    state.batchInEpoch = 0;
    valid = await validateRun(run, s.budget, s.rate, Number.isFinite(s.budget.total));
  }
  let message = s.message;
  if (stopped !== "nan") {
    if ((stopped !== "epochs" || valid === undefined) && stopped !== "interrupted") {
      valid = await validateRun(run, s.budget, s.rate, true);
    }
    await saveRun(run, stopped === "interrupted" ? "interrupted" : "end", noise, secondsOf(s));
    message = stopped === "interrupted"
      ? `Interrupted at step ${state.iteration}: checkpoint saved to ${ckptPath}; continue with --resume`
      : `Done at step ${state.iteration} (${state.examples} examples, ${
        (state.examples / trainSet.count).toFixed(2)
      } ` +
        `epochs, ${clock(secondsOf(s))} of training): checkpoint ${ckptPath}`;
  }
  progress.line(message);
  run.trainer.dispose();
  model.dispose();
  return { stopped, state, valid, message, checkpoint: stopped === "nan" ? undefined : ckptPath };
}
