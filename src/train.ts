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
import type { Splits } from "./data/mnist.ts";
import { isFile, writeAtomic } from "./data/files.ts";
import { Draw } from "./draw.ts";
import { Classifier } from "./classifier.ts";
import { evaluate, evaluateClassifier } from "./evaluate.ts";
import {
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
import { type Engine, TFJS_ENGINE } from "./engine/engine.ts";

/** Hyper-parameters of a run that must stay fixed across resumes. */
export interface RunSettings {
  batch: number;
  lr: number;
  clipNorm: number;
  seed: number;
}

/** Validation figures and the line that reports them. */
export interface Validation {
  count: number;
  figures: Record<string, number>;
  text: string;
}

/** What is trained: how to make the model, feed it, validate it and describe it. */
export interface Task {
  /** A fresh model from `seed`. */
  create(seed: number): Model;
  /** Whether batches carry class labels. */
  labelled: boolean;
  /** Validation figures of `model` on the first `limit` images of `ds`. */
  validate(model: Model, ds: Dataset, limit: number, onProgress: (d: number, n: number) => void): Promise<Validation>;
  /** One line describing the model, for the log. */
  describe(model: Model): string;
  /** Step figures for the status line, e.g. "Lx 120.1 Lz 20.3". */
  format(figures: Record<string, number>): string;
}

/** Generative DRAW: the ELBO of Eq 12 with Lx and Lz. */
export function drawTask(config: DrawConfig): Task {
  return {
    create: (seed) => new Draw(config, seed),
    labelled: false,
    validate: async (model, ds, limit, onProgress) => {
      const r = await evaluate(model as Draw, ds, { limit, seed: 1, onProgress });
      return {
        count: r.count,
        figures: { elbo: r.elbo, lx: r.lx, lz: r.lz },
        text: `validation ELBO ${r.elbo.toFixed(2)} nats (Lx ${r.lx.toFixed(2)}, Lz ${r.lz.toFixed(2)})`,
      };
    },
    describe: (m) => {
      const c = (m as Draw).config;
      return `DRAW T=${c.T} LSTM ${c.hidden} z ${c.z} read ${c.readN || "full"} write ${c.writeN || "full"}`;
    },
    format: (f) => `Lx ${f.lx.toFixed(2)} Lz ${f.lz.toFixed(2)}`,
  };
}

/** The classifier of Section 4.1: cross-entropy, and the error rate. */
export function classifierTask(config: ClassifierConfig): Task {
  return {
    create: (seed) => new Classifier(config, seed),
    labelled: true,
    validate: async (model, ds, limit, onProgress) => {
      const r = await evaluateClassifier(model as Classifier, ds, { limit, onProgress });
      return {
        count: r.count,
        figures: { error: r.error, xent: r.loss },
        text: `validation error ${(100 * r.error).toFixed(2)}% (cross-entropy ${r.loss.toFixed(4)})`,
      };
    },
    describe: (m) => {
      const c = (m as Classifier).config;
      return `differentiable RAM, ${c.glimpses} glimpses of ${c.readN}×${c.readN}, LSTM ${c.hidden}`;
    },
    format: (f) => `error ${(100 * f.error).toFixed(1)}%`,
  };
}

/** Options of {@link train}. */
export interface TrainOptions extends RunSettings {
  /** The model to train (on resume the checkpoint decides). */
  task: Task;
  splits: Splits;
  /** Dataset name, for config.json and checkpoints. */
  dataset: string;
  outDir: string;
  /** Stop after this many epochs (total, over resumes). */
  epochs?: number;
  /** Stop after this many minutes of this session, validation and checkpoint included. */
  minutes?: number;
  resume?: boolean;
  /** Minutes between periodic checkpoints. Default 5. */
  checkpointMinutes?: number;
  /** Validate on at most this many images. */
  validLimit?: number;
  /** Backend in use, recorded in config.json. */
  backend: string;
  /** What computes the passes (default: the tfjs graph). */
  engine?: Engine;
  signal?: AbortSignal;
  progress?: Progress;
}

/** How a run ended, and its last validation figures. */
export interface TrainSummary {
  stopped: "epochs" | "budget" | "interrupted" | "nan";
  state: TrainState;
  valid?: Validation;
  message: string;
  checkpoint?: string;
}

/** An error in the options or the run directory; the CLI prints it as a usage-level failure. */
export class RunError extends Error {
  override name = "RunError";
}

function checkGeometry(config: { height: number; width: number; channels: number }, ds: Dataset): void {
  const want = `${ds.height}×${ds.width}×${ds.channels}`;
  const have = `${config.height}×${config.width}×${config.channels}`;
  if (want !== have) throw new RunError(`Cannot train a ${have} model on ${ds.name}, whose images are ${want}`);
}

/** Appends one JSON line to metrics.jsonl. */
async function appendMetric(outDir: string, record: Record<string, unknown>): Promise<void> {
  await Deno.writeTextFile(`${outDir}/metrics.jsonl`, JSON.stringify(record) + "\n", { append: true });
}

/**
 * Drops metrics.jsonl lines past `step` (written after the last checkpoint by a run that was then
 * killed) and any half-written last line, so a resumed run continues one curve.
 */
async function trimMetrics(outDir: string, step: number): Promise<void> {
  const path = `${outDir}/metrics.jsonl`;
  if (!(await isFile(path))) return;
  const keep = (await Deno.readTextFile(path)).split("\n").filter((line) => {
    try {
      return line.trim() !== "" && JSON.parse(line).step <= step;
    } catch {
      return false;
    }
  });
  await writeAtomic(path, new TextEncoder().encode(keep.map((l) => l + "\n").join("")));
}

/** A permutation of 0..n-1 for `epoch`, the same on every resume. */
export function epochOrder(n: number, seed: number, epoch: number): Int32Array {
  const order = Int32Array.from({ length: n }, (_, k) => k);
  return new Rng((seed * 1_000_003 + epoch * 7919 + 1) >>> 0).shuffle(order) as Int32Array;
}

/** Trains the task's model (DRAW or the classifier) as the options say. */
export async function train(o: TrainOptions): Promise<TrainSummary> {
  const progress = o.progress ?? new Progress();
  const ckptPath = `${o.outDir}/checkpoint.safetensors`;
  await Deno.mkdir(o.outDir, { recursive: true });
  let model: Model;
  let trainer: Trainer;
  let state: TrainState;
  let settings: RunSettings = { batch: o.batch, lr: o.lr, clipNorm: o.clipNorm, seed: o.seed };
  let task = o.task;
  if (o.resume) {
    if (!(await isFile(ckptPath))) {
      throw new RunError(`Cannot resume as ${ckptPath} does not exist: train without --resume first`);
    }
    const ckpt = await loadCheckpoint(ckptPath);
    if (!ckpt.state) throw new RunError(`Cannot resume from ${ckptPath} as it holds no training state`);
    settings = (ckpt.info.settings as RunSettings | undefined) ?? settings;
    checkGeometry(ckpt.config, o.splits.train);
    model = modelFromCheckpoint(ckpt);
    task = ckpt.kind === "classifier"
      ? classifierTask(ckpt.config as ClassifierConfig)
      : drawTask(ckpt.config as DrawConfig);
    model.engine = o.engine ?? TFJS_ENGINE;
    trainer = new Trainer(model, { lr: settings.lr, clipNorm: settings.clipNorm });
    restoreTrainer(trainer, ckpt);
    state = { ...ckpt.state };
    await trimMetrics(o.outDir, state.iteration);
    progress.line(`resuming ${ckptPath} at step ${state.iteration} (${state.examples} examples, epoch ${state.epoch})`);
  } else {
    if (await isFile(ckptPath)) {
      throw new RunError(
        `Cannot start a new run in ${o.outDir} as it already holds a checkpoint: pass --resume to continue it, or choose another --out`,
      );
    }
    model = task.create(o.seed);
    model.engine = o.engine ?? TFJS_ENGINE;
    checkGeometry(model.config, o.splits.train);
    trainer = new Trainer(model, { lr: o.lr, clipNorm: o.clipNorm });
    state = { iteration: 0, examples: 0, epoch: 0, batchInEpoch: 0, noiseRng: (o.seed ^ 0x9e3779b9) >>> 0, seconds: 0 };
    await Deno.writeTextFile(
      `${o.outDir}/config.json`,
      JSON.stringify(
        {
          kind: model.kind,
          model: model.config,
          dataset: o.dataset,
          data_source: o.splits.source,
          comparable_with_paper: o.splits.comparable,
          settings,
          backend: o.backend,
          parameters: model.size,
          started: new Date().toISOString(),
        },
        null,
        2,
      ) + "\n",
    );
  }
  const info = { dataset: o.dataset, settings };
  const train = o.splits.train;
  const batch = Math.min(settings.batch, train.count);
  const perEpoch = Math.floor(train.count / batch);
  const noise = new Rng(0);
  noise.state = state.noiseRng;
  const start = performance.now();
  const startExamples = state.examples;
  const secondsBefore = state.seconds;
  const budget = o.minutes !== undefined ? o.minutes * 60 : Infinity;
  const reserve = Number.isFinite(budget) ? Math.min(0.15 * budget, 120) : 0; // final validation + checkpoint
  const elapsed = () => (performance.now() - start) / 1000;
  let lastCkpt = performance.now();
  const fresh = () => ({
    n: 0,
    loss: 0,
    grad: 0,
    figures: {} as Record<string, number>,
    t: performance.now(),
    examples: state.examples,
  });
  let window = fresh();
  let rate = 0; // examples/s this session
  let stopped: TrainSummary["stopped"] = "epochs";
  let valid: Validation | undefined;
  let message = "";
  progress.line(
    `training ${o.dataset}: ${
      task.describe(model)
    }, ${model.size} parameters; batch ${batch}, Adam lr ${settings.lr}, ` +
      `gradient clipping ${
        settings.clipNorm > 0 ? `at global norm ${settings.clipNorm}` : "off"
      }; backend ${o.backend}`,
  );

  const save = async (why: string) => {
    state.noiseRng = noise.state;
    state.seconds = secondsBefore + elapsed();
    await saveCheckpoint(ckptPath, model, trainer, state, info);
    lastCkpt = performance.now();
    await appendMetric(o.outDir, { kind: "checkpoint", step: state.iteration, examples: state.examples, why });
  };

  const validate = async (limitForBudget: boolean) => {
    let limit = o.validLimit ?? o.splits.valid.count;
    if (limitForBudget && Number.isFinite(budget)) {
      const left = Math.max(reserve * 0.6, budget - elapsed() - reserve * 0.3);
      limit = Math.min(limit, Math.max(50, Math.floor(Math.max(rate, 1) * 2.5 * left)));
    }
    limit = Math.min(limit, o.splits.valid.count);
    const r = await task.validate(model, o.splits.valid, limit, (d, n) => progress.update(`validating ${d}/${n}`));
    const subset = r.count < o.splits.valid.count
      ? ` (on the first ${r.count} of ${o.splits.valid.count} validation images${
        limitForBudget ? ", a subset sized to the time budget" : ""
      })`
      : "";
    progress.line(`${r.text} at ${state.examples} examples${subset}`);
    await appendMetric(o.outDir, {
      kind: "valid",
      step: state.iteration,
      examples: state.examples,
      epoch: state.epoch + state.batchInEpoch / perEpoch,
      ...r.figures,
      count: r.count,
      of: o.splits.valid.count,
    });
    return r;
  };

  outer: while (o.epochs === undefined || state.epoch < o.epochs) {
    const order = epochOrder(train.count, settings.seed, state.epoch);
    for (let b = state.batchInEpoch; b < perEpoch; b++) {
      if (o.signal?.aborted) {
        stopped = "interrupted";
        break outer;
      }
      if (elapsed() > budget - reserve) {
        stopped = "budget";
        break outer;
      }
      const idx = order.subarray(b * batch, (b + 1) * batch);
      // random crops (SVHN's 54×54 of 64×64) from this batch's own seed: the same again on --resume
      const crops = train.stored
        ? new Rng((settings.seed * 7_919 + state.epoch * 104_729 + b * 31 + 17) >>> 0)
        : undefined;
      const x = batchTensor(train, idx, crops);
      const labels = task.labelled ? batchLabels(train, idx) : undefined;
      const r = await trainer.step({ x, labels }, noise);
      tf.dispose([x, labels].filter(Boolean) as tf.Tensor[]);
      if (!Number.isFinite(r.loss) || !Number.isFinite(r.gradNorm)) {
        stopped = "nan";
        message = `Stopped at step ${state.iteration + 1}: the loss is ${r.loss} (gradient norm ${r.gradNorm}). ` +
          `The weights were not updated and ${
            await isFile(ckptPath) ? `the last good checkpoint ${ckptPath} is kept` : "no checkpoint was written"
          }. ` +
          `Try a lower --lr or keep gradient clipping on, then --resume.`;
        break outer;
      }
      state.iteration = trainer.iteration;
      state.examples += batch;
      state.batchInEpoch = b + 1;
      window.n++;
      window.loss += r.loss;
      for (const [k, v] of Object.entries(r.figures)) window.figures[k] = (window.figures[k] ?? 0) + v;
      window.grad += r.gradNorm;
      const now = performance.now();
      rate = (state.examples - startExamples) / elapsed(); // this session's examples/s
      const epochF = state.epoch + state.batchInEpoch / perEpoch;
      const eta = Number.isFinite(budget)
        ? budget - elapsed()
        : o.epochs !== undefined
        ? ((o.epochs * perEpoch - (state.epoch * perEpoch + state.batchInEpoch)) * batch) / Math.max(rate, 1e-9)
        : NaN;
      const status =
        `step ${state.iteration} epoch ${epochF.toFixed(2)} | loss ${r.loss.toFixed(2)} ${task.format(r.figures)} ` +
        `| ${rate.toFixed(1)} ex/s | ETA ${clock(eta)}`;
      if (progress.update(status)) {
        const n = window.n;
        await appendMetric(o.outDir, {
          kind: "train",
          step: state.iteration,
          examples: state.examples,
          epoch: epochF,
          loss: window.loss / n,
          ...Object.fromEntries(Object.entries(window.figures).map(([k, v]) => [k, v / n])),
          grad_norm: window.grad / n,
          examples_per_s: (state.examples - window.examples) / ((now - window.t) / 1000),
          seconds: secondsBefore + elapsed(),
        });
        window = fresh();
      }
      if ((now - lastCkpt) / 60_000 >= (o.checkpointMinutes ?? 5)) await save("periodic");
    }
    state.epoch++;
    state.batchInEpoch = 0;
    valid = await validate(Number.isFinite(budget));
  }
  if (stopped !== "nan") {
    if (stopped !== "epochs" || valid === undefined) {
      if (stopped !== "interrupted") valid = await validate(true);
    }
    await save(stopped === "interrupted" ? "interrupted" : "end");
    message = stopped === "interrupted"
      ? `Interrupted at step ${state.iteration}: checkpoint saved to ${ckptPath}; continue with --resume`
      : `Done at step ${state.iteration} (${state.examples} examples, ${
        (state.examples / train.count).toFixed(2)
      } epochs, ` +
        `${clock(secondsBefore + elapsed())} of training): checkpoint ${ckptPath}`;
  }
  progress.line(message);
  const summary: TrainSummary = {
    stopped,
    state,
    valid,
    message,
    checkpoint: stopped === "nan" ? undefined : ckptPath,
  };
  trainer.dispose();
  model.dispose();
  return summary;
}
