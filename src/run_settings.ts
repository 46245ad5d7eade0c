/**
 * A run's settings: the hyper-parameters that stay fixed across resumes, the step-size schedule, the seeds a run
 * derives from its own, and what a resume may change (a warm restart, a new decay, the averages it keeps).
 *
 * @module
 */
import type { Checkpoint } from "./checkpoint.ts";
import { Rng } from "./random.ts";
import type { TrainerOptions } from "./trainer.ts";

/** Hyper-parameters of a run that must stay fixed across resumes. */
export interface RunSettings {
  /** Examples per step. */
  batch: number;
  /** Adam's step size (where it decays: at the decay's start). */
  lr: number;
  /** The global gradient norm the step clips to (0: no clipping). */
  clipNorm: number;
  /** Seeds the weights, the order of every epoch and the noise of every step. */
  seed: number;
  /** Where the step size decays to, exponentially, by the end of `decayEpochs` (absent: constant). */
  lrFinal?: number;
  /** The epochs of the decay (the run's --epochs when it started). */
  decayEpochs?: number;
  /** The epoch the decay starts at: 0, or where `--lr-final` on a resume began annealing a constant run. */
  decayStart?: number;
  /** Weights held fixed (fine-tuning the rest of a model started from another's weights: `train`'s `init`). */
  freeze?: string[];
  /** Where the run's first weights came from (a model name, run directory or checkpoint), when not fresh. */
  initFrom?: string;
  /**
   * Polyak averaging's decay (beyond the paper; {@link TrainerOptions.average}): the run keeps a moving average
   * of its weights, validates it, and a checkpoint holds it beside the raw weights. Absent or 0: off.
   */
  average?: number;
  /**
   * Further decays whose moving averages the run keeps and validates beside {@link average}'s, to choose the decay
   * on validation ({@link TrainerOptions.averageAlso}); `--resume --average D` with one of them makes it the run's.
   */
  averageAlso?: number[];
}

/**
 * Adam's step size after `epochs` (fractional) of a run: `lr`, or with a decay
 * lr·(lrFinal/lr)^((epochs − decayStart)/decayEpochs), `lr` before decayStart (0 unless set) and held at
 * lrFinal after the decay's end.
 *
 * @example
 * ```ts
 * import { scheduledLr } from "./run_settings.ts";
 * scheduledLr({ batch: 100, lr: 1e-3, clipNorm: 10, seed: 0, lrFinal: 1e-4, decayEpochs: 10 }, 5); // ≈ 3.16e-4
 * ```
 */
export function scheduledLr(s: RunSettings, epochs: number): number {
  if (s.lrFinal === undefined || !s.decayEpochs) return s.lr;
  const t = (epochs - (s.decayStart ?? 0)) / s.decayEpochs;
  return s.lr * (s.lrFinal / s.lr) ** Math.min(1, Math.max(0, t));
}

/** The epoch at which a run's step-size decay ends (where a resume without --epochs stops), if it has one. */
export function decayEnd(s: RunSettings): number | undefined {
  return s.lrFinal !== undefined && s.decayEpochs ? (s.decayStart ?? 0) + s.decayEpochs : undefined;
}

/** What a new run trains with where `train`'s options leave a setting out. */
export const TRAIN_DEFAULTS = { batch: 100, lr: 1e-3, clipNorm: 10, seed: 0 } as const;

/**
 * An error in the options or the run directory. `usage` marks options that contradict the run they resume (the
 * CLI exits 2 on those, as on any usage error, and 1 on the rest).
 */
export class RunError extends Error {
  /** "RunError". */
  override name = "RunError";
  /** Whether the options contradict the run they resume (a usage error). */
  readonly usage: boolean;
  /** The error with its one-line message, a usage error where `usage`. */
  constructor(message: string, usage = false) {
    super(message);
    this.usage = usage;
  }
}

/**
 * The seeds a run derives from its own `seed`, one stream per purpose, the same on every resume
 * (so that a resumed run repeats exactly what an unbroken one would do).
 */
export const RUN_SEEDS = {
  /** The order of the training set in `epoch`. */
  epochOrder: (seed: number, epoch: number): number => (seed * 1_000_003 + epoch * 7919 + 1) >>> 0,
  /** Batch `batch`'s random crops (SVHN's 54×54 of 64×64) or fresh clutter (cluttered MNIST). */
  crops: (seed: number, epoch: number, batch: number): number =>
    (seed * 7_919 + epoch * 104_729 + batch * 31 + 17) >>> 0,
  /** The posterior noise ε of every step (its state is saved in checkpoints). */
  noise: (seed: number): number => (seed ^ 0x9e3779b9) >>> 0,
};

/** A permutation of 0..n-1 for `epoch`, the same on every resume. */
export function epochOrder(n: number, seed: number, epoch: number): Int32Array {
  const order = Int32Array.from({ length: n }, (_, k) => k);
  return new Rng(RUN_SEEDS.epochOrder(seed, epoch)).shuffle(order) as Int32Array;
}

/**
 * A resumed run's settings: its own; with `lr` given on resume, that step size from here on (the old schedule
 * dropped); and where `lrFinal` is given, a new decay from the step size the run goes on at (`lr`, else where its
 * schedule has brought it) to lrFinal, from the run's current epoch to --epochs: annealing a run that has stopped
 * improving, going on below the end of its first decay, or a warm restart at a larger step that anneals again.
 */
export function resumedSettings(saved: RunSettings, o: SettingsChange, epoch: number): RunSettings {
  if (o.average !== undefined) saved = { ...saved, average: o.average };
  if (o.averageAlso !== undefined) {
    const { averageAlso: _a, ...rest } = saved;
    saved = o.averageAlso.length ? { ...rest, averageAlso: o.averageAlso } : rest;
  }
  const { lrFinal: _f, decayEpochs: _e, decayStart: _s, ...kept } = saved;
  if (o.lrFinal === undefined) return o.lr === undefined ? saved : { ...kept, lr: o.lr };
  if (o.epochs === undefined || !(o.epochs > epoch)) {
    throw new RunError(
      `--lr-final on --resume anneals from the run's epoch ${epoch} to --epochs: give --epochs above ${epoch}`,
    );
  }
  const lr = o.lr ?? scheduledLr(saved, epoch);
  return { ...kept, lr, lrFinal: o.lrFinal, decayStart: epoch, decayEpochs: o.epochs - epoch };
}

/** The Trainer's options for a run's settings. */
export function trainerOptions(s: RunSettings): TrainerOptions {
  return { lr: s.lr, clipNorm: s.clipNorm, frozen: s.freeze, average: s.average ?? 0, averageAlso: s.averageAlso };
}

/** A new run's batch, step size, clip and seed: the options', or the defaults. */
export function newSettings(o: ResumeOptions & { lr?: number }): RunSettings {
  const d = TRAIN_DEFAULTS;
  return { batch: o.batch ?? d.batch, lr: o.lr ?? d.lr, clipNorm: o.clipNorm ?? d.clipNorm, seed: o.seed ?? d.seed };
}

/** A new run's settings: {@link newSettings}, with the decay, frozen weights, first weights and averages it asks for. */
export function newRunSettings(
  o: ResumeOptions & SettingsChange & { freeze?: string[]; initFrom?: string },
): RunSettings {
  const settings = newSettings(o);
  if (o.lrFinal !== undefined) Object.assign(settings, { lrFinal: o.lrFinal, decayEpochs: o.epochs });
  if (o.freeze?.length) settings.freeze = o.freeze;
  if (o.initFrom !== undefined) settings.initFrom = o.initFrom;
  if (o.average) settings.average = o.average;
  if (o.averageAlso?.length) settings.averageAlso = o.averageAlso;
  return settings;
}

/**
 * Refuses to resume a run on another data set, or with a batch, clip or seed other than the run's own (they stay
 * fixed across resumes, so that a resumed run ends where an uninterrupted one would).
 */
export function checkResumed(o: ResumeOptions, dataset: unknown, saved: RunSettings): void {
  if (typeof dataset === "string" && dataset !== o.dataset) {
    throw new RunError(`Cannot resume the run in ${o.outDir} on ${o.dataset} as it trained on ${dataset}`, true);
  }
  const fixed = [["--batch", "batch"], ["--clip", "clipNorm"], ["--seed", "seed"]] as const;
  for (const [flag, key] of fixed) {
    if (o[key] !== undefined && o[key] !== saved[key]) {
      throw new RunError(
        `Cannot resume the run in ${o.outDir} with ${flag} ${o[key]} as it trains with ${flag} ${saved[key]} on ` +
          `every resume: drop ${flag}, or start a new run from its weights with --init-from ${o.outDir}`,
        true,
      );
    }
  }
}

/** What `checkResume` (train.ts) compares with the run it resumes. */
export interface ResumeOptions {
  /** The run's directory. */
  outDir: string;
  /** The data set the resume trains on (the run's own, or refused). */
  dataset: string;
  /** Examples per step: the run's own, or refused (left out: the run's). */
  batch?: number;
  /** The gradient-norm clip: the run's own, or refused (left out: the run's). */
  clipNorm?: number;
  /** The seed: the run's own, or refused (left out: the run's). */
  seed?: number;
}

/** What a resume may change in a run's settings (the options of `train` by the same names). */
export interface SettingsChange {
  /** Go on at this step size: constant from here, or decaying to `lrFinal`. */
  lr?: number;
  /** Decay from here to this step size by `epochs`. */
  lrFinal?: number;
  /** Where a new decay ends. */
  epochs?: number;
  /** The run's averaging decay from here on. */
  average?: number;
  /** The further averages kept beside it from here on (empty: none). */
  averageAlso?: number[];
}

/** The settings a checkpoint's run trains with (a checkpoint from before they were recorded: the options'). */
export function savedSettings(ckpt: Checkpoint, o: ResumeOptions): RunSettings {
  return (ckpt.info.settings as RunSettings | undefined) ?? newSettings(o);
}
