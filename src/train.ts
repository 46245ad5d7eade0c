/**
 * The training loop behind `cli.ts train`: epochs or a time budget, progress, metrics.jsonl,
 * atomic checkpoints every few minutes and at the end, clean stop on SIGINT, refusal to go on
 * after a non-finite loss, and exact resume.
 *
 * @module
 */
import type { DrawConfig } from "./config.ts";
import { batchTensor, type Dataset } from "./data/dataset.ts";
import type { Splits } from "./data/mnist.ts";
import { isFile } from "./data/files.ts";
import { Draw } from "./draw.ts";
import { type EvalResult, evaluate } from "./evaluate.ts";
import { loadCheckpoint, modelFromCheckpoint, restoreTrainer, saveCheckpoint, type TrainState } from "./checkpoint.ts";
import { clock, Progress } from "./progress.ts";
import { Rng } from "./random.ts";
import { Trainer } from "./trainer.ts";

/** Hyper-parameters of a run that must stay fixed across resumes. */
export interface RunSettings {
  batch: number;
  lr: number;
  clipNorm: number;
  seed: number;
}

/** Options of {@link train}. */
export interface TrainOptions extends RunSettings {
  config: DrawConfig;
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
  signal?: AbortSignal;
  progress?: Progress;
}

/** How a run ended, and its last validation figures. */
export interface TrainSummary {
  stopped: "epochs" | "budget" | "interrupted" | "nan";
  state: TrainState;
  valid?: EvalResult;
  message: string;
  checkpoint?: string;
}

/** An error in the options or the run directory; the CLI prints it as a usage-level failure. */
export class RunError extends Error {
  override name = "RunError";
}

function checkGeometry(config: DrawConfig, ds: Dataset): void {
  const want = `${ds.height}×${ds.width}×${ds.channels}`;
  const have = `${config.height}×${config.width}×${config.channels}`;
  if (want !== have) throw new RunError(`Cannot train a ${have} model on ${ds.name}, whose images are ${want}`);
}

/** Appends one JSON line to metrics.jsonl. */
async function appendMetric(outDir: string, record: Record<string, unknown>): Promise<void> {
  await Deno.writeTextFile(`${outDir}/metrics.jsonl`, JSON.stringify(record) + "\n", { append: true });
}

/** A permutation of 0..n-1 for `epoch`, the same on every resume. */
export function epochOrder(n: number, seed: number, epoch: number): Int32Array {
  const order = Int32Array.from({ length: n }, (_, k) => k);
  return new Rng((seed * 1_000_003 + epoch * 7919 + 1) >>> 0).shuffle(order) as Int32Array;
}

/** Trains DRAW as the options say. */
export async function train(o: TrainOptions): Promise<TrainSummary> {
  const progress = o.progress ?? new Progress();
  const ckptPath = `${o.outDir}/checkpoint.safetensors`;
  await Deno.mkdir(o.outDir, { recursive: true });
  let model: Draw;
  let trainer: Trainer;
  let state: TrainState;
  let settings: RunSettings = { batch: o.batch, lr: o.lr, clipNorm: o.clipNorm, seed: o.seed };
  if (o.resume) {
    if (!(await isFile(ckptPath))) {
      throw new RunError(`Cannot resume as ${ckptPath} does not exist: train without --resume first`);
    }
    const ckpt = await loadCheckpoint(ckptPath);
    if (!ckpt.state) throw new RunError(`Cannot resume from ${ckptPath} as it holds no training state`);
    settings = (ckpt.info.settings as RunSettings | undefined) ?? settings;
    checkGeometry(ckpt.config, o.splits.train);
    model = modelFromCheckpoint(ckpt);
    trainer = new Trainer(model, { lr: settings.lr, clipNorm: settings.clipNorm });
    restoreTrainer(trainer, ckpt);
    state = { ...ckpt.state };
    progress.line(`resuming ${ckptPath} at step ${state.iteration} (${state.examples} examples, epoch ${state.epoch})`);
  } else {
    if (await isFile(ckptPath)) {
      throw new RunError(
        `Cannot start a new run in ${o.outDir} as it already holds a checkpoint: pass --resume to continue it, or choose another --out`,
      );
    }
    checkGeometry(o.config, o.splits.train);
    model = new Draw(o.config, o.seed);
    trainer = new Trainer(model, { lr: o.lr, clipNorm: o.clipNorm });
    state = { iteration: 0, examples: 0, epoch: 0, batchInEpoch: 0, noiseRng: (o.seed ^ 0x9e3779b9) >>> 0, seconds: 0 };
    await Deno.writeTextFile(
      `${o.outDir}/config.json`,
      JSON.stringify(
        {
          model: o.config,
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
  let window = { n: 0, loss: 0, lx: 0, lz: 0, grad: 0, t: performance.now(), examples: state.examples };
  let rate = 0; // examples/s this session
  let stopped: TrainSummary["stopped"] = "epochs";
  let valid: EvalResult | undefined;
  let message = "";
  progress.line(
    `training ${o.dataset}: T=${model.config.T} LSTM ${model.config.hidden} z ${model.config.z} read ${
      model.config.readN || "full"
    } ` +
      `write ${model.config.writeN || "full"}, ${model.size} parameters; batch ${batch}, Adam lr ${settings.lr}, ` +
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
    const r = await evaluate(model, o.splits.valid, {
      limit,
      seed: 1,
      onProgress: (d, n) => progress.update(`validating ${d}/${n}`),
    });
    const subset = r.count < o.splits.valid.count
      ? ` (on the first ${r.count} of ${o.splits.valid.count} validation images${
        limitForBudget ? ", a subset sized to the time budget" : ""
      })`
      : "";
    progress.line(
      `validation ELBO ${r.elbo.toFixed(2)} nats (Lx ${r.lx.toFixed(2)}, Lz ${
        r.lz.toFixed(2)
      }) at ${state.examples} examples${subset}`,
    );
    await appendMetric(o.outDir, {
      kind: "valid",
      step: state.iteration,
      examples: state.examples,
      epoch: state.epoch + state.batchInEpoch / perEpoch,
      elbo: r.elbo,
      lx: r.lx,
      lz: r.lz,
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
      const x = batchTensor(train, order.subarray(b * batch, (b + 1) * batch));
      const r = await trainer.step(x, noise);
      x.dispose();
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
      window.lx += r.lx;
      window.lz += r.lz;
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
        `step ${state.iteration} epoch ${epochF.toFixed(2)} | loss ${r.loss.toFixed(2)} Lx ${r.lx.toFixed(2)} ` +
        `Lz ${r.lz.toFixed(2)} | ${rate.toFixed(1)} ex/s | ETA ${clock(eta)}`;
      if (progress.update(status)) {
        const n = window.n;
        await appendMetric(o.outDir, {
          kind: "train",
          step: state.iteration,
          examples: state.examples,
          epoch: epochF,
          loss: window.loss / n,
          lx: window.lx / n,
          lz: window.lz / n,
          grad_norm: window.grad / n,
          examples_per_s: (state.examples - window.examples) / ((now - window.t) / 1000),
          seconds: secondsBefore + elapsed(),
        });
        window = { n: 0, loss: 0, lx: 0, lz: 0, grad: 0, t: now, examples: state.examples };
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
