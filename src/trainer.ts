/**
 * One training step of DRAW: the Eq 12 loss with a single sample of z, its gradient, clipping by
 * global norm, and an Adam update (Kingma & Ba 2014, as in the paper, Section 4).
 *
 * The optimizer state is named by parameter (`adam.m.<name>`, `adam.v.<name>`) so that a
 * checkpoint restores it exactly.
 *
 * @module
 */
import * as tf from "./tf.ts";
import type { Rng } from "./random.ts";
import { peek32, storageViews } from "./engine/bridge.ts";

/** The global L2 norm of tensors read in place (f64 sums). */
function globalNorm(ts: tf.Tensor[]): number {
  let sum = 0;
  for (const values of ts.map(peek32)) for (let i = 0; i < values.length; i++) sum += values[i] * values[i];
  return Math.sqrt(sum);
}

/**
 * The frozen list of {@link TrainerOptions.frozen}, checked against a model's weights (or their shapes): a
 * map from weight name to its frozen rows [from, to), undefined where the whole weight is. Throws a
 * RangeError that says what is wrong.
 */
export function frozenParts(
  list: string[],
  weights: Record<string, { shape: number[] }>,
): Map<string, [number, number] | undefined> {
  const parts = new Map<string, [number, number] | undefined>();
  const names = Object.keys(weights).join(", ");
  for (const entry of list) {
    const m = /^([^\[\]]+)(?:\[(\d*):(\d*)\])?$/.exec(entry);
    const w = m ? weights[m[1]] : undefined;
    if (!m || !w) throw new RangeError(`Cannot freeze ${entry}: the model's weights are ${names}`);
    if (m[2] === undefined) {
      parts.set(m[1], undefined);
      continue;
    }
    const n = w.shape[0] ?? 1, from = m[2] === "" ? 0 : Number(m[2]), to = m[3] === "" ? n : Number(m[3]);
    if (!(from < to && to <= n)) {
      throw new RangeError(`Cannot freeze ${entry}: ${m[1]} has rows 0 to ${n - 1}, give [a:b] with a < b ≤ ${n}`);
    }
    parts.set(m[1], [from, to]);
  }
  if ([...parts.values()].filter((r) => !r).length === Object.keys(weights).length) {
    throw new RangeError("Cannot train with every weight frozen: leave at least one out of the frozen list");
  }
  return parts;
}

/** One minibatch: images [batch, H, W, C] in [0, 1], and class labels where the task has them. */
export interface Batch {
  /** Images, [batch, H, W, C] in [0, 1]. */
  x: tf.Tensor4D;
  /** Class labels, [batch]. */
  labels?: tf.Tensor1D;
}

/** The objective, its figures, and its gradient with respect to every weight, by weight name. */
export interface ObjectiveGradients {
  /** The objective (a scalar). */
  loss: tf.Scalar;
  /** Figures to log with it, as Trainable.objective gives them. */
  figures: Record<string, tf.Scalar>;
  /** The objective's gradient with respect to each weight, by the weight's name. */
  grads: Record<string, tf.Tensor>;
}

/** What a {@link Trainer} can train: named weights and the objective of one batch. */
export interface Trainable {
  /** The trainable weights, by name. */
  readonly weights: Record<string, tf.Variable>;
  /** The scalar to minimise, and figures to report (scalars, batch means), for one batch. */
  objective(batch: Batch, rng: Rng): { loss: tf.Scalar; figures: Record<string, tf.Scalar> };
  /**
   * The objective and its gradient by weight name in one pass of the model's engine, where the
   * engine has such a pass (the WebGPU engine: one submit); undefined sends the Trainer to
   * tfjs's autodiff of {@link objective}. Same noise from `rng`, same values.
   */
  objectiveGradients?(batch: Batch, rng: Rng): ObjectiveGradients | undefined;
}

/** Optimizer settings. */
export interface TrainerOptions {
  /** Adam step size. Default 1e-3. */
  lr?: number;
  /** Clip the gradient's global L2 norm to this value; 0 turns clipping off. Default 10. */
  clipNorm?: number;
  /** Adam β₁. Default 0.9. */
  beta1?: number;
  /** Adam β₂. Default 0.999. */
  beta2?: number;
  /** Adam ε. Default 1e-8. */
  epsilon?: number;
  /**
   * Where the backend lets tensors be read and written in place (wasm, cpu): the gradient's norm, the
   * clipping and Adam in one pass over each weight's storage, instead of about fifteen tfjs ops per
   * weight. false: the ops everywhere (as on WebGPU). Default true.
   */
  inPlace?: boolean;
  /**
   * Weights held fixed: no update, and no part in the gradient's norm (fine-tuning some weights of a
   * trained model). A name holds a whole weight; `name[a:b]` its rows a to b − 1 (its first axis; a or
   * b left out: from the first or to the last), e.g. `lstm.kernel[144:]`, the recurrent rows of an
   * LSTM whose inputs are 144 wide. Default none.
   */
  frozen?: string[];
  /**
   * Polyak averaging (beyond the paper): keep an exponential moving average of the weights,
   * a ← d·a + (1 − d)·w after every update, with d = min(average, (1 + n)/(10 + n)) for the n-th averaged
   * update, so that the first updates are not buried under the starting weights: d takes effect after about
   * 10/(1 − d) updates (20,000 for 0.9995), and until then every larger decay averages alike. 0 turns it off.
   * Default 0.
   */
  average?: number;
  /**
   * Further decays whose moving averages are kept beside {@link average}'s, each updated the same way, so that a run
   * can choose its decay on validation ({@link withAverage} takes one of them). Each in (0, 1). Default none.
   */
  averageAlso?: number[];
}

/** Figures of one step, read back from the device: batch means (for DRAW, nats per image). */
export interface StepResult {
  /** The objective (for DRAW, Eq 12 with one sample of z). */
  loss: number;
  /** The model's other figures (for DRAW, lx of Eq 9 and lz of Eqs 10–11). */
  figures: Record<string, number>;
  /** The gradient's global norm before clipping. */
  gradNorm: number;
}

/**
 * Trains a model (a {@link Trainable}, such as Draw) with Adam.
 *
 * @example
 * ```ts
 * import * as tf from "./tf.ts";
 * import { Draw, Rng, TINY, Trainer } from "../mod.ts";
 * const model = new Draw(TINY, 1);
 * const trainer = new Trainer(model, { lr: 1e-3 });
 * const x = tf.zeros([2, 5, 6, 1]) as tf.Tensor4D;
 * const result = await trainer.step(x, new Rng(1));
 * ```
 */
export class Trainer {
  /** The model being trained. */
  readonly model: Trainable;
  /** Resolved optimizer settings. */
  readonly options: Required<TrainerOptions>;
  /** Adam's first moments by parameter name. */
  readonly m: Record<string, tf.Variable> = {};
  /** Adam's second moments by parameter name. */
  readonly v: Record<string, tf.Variable> = {};
  /** Number of updates applied so far (the run's step). */
  iteration = 0;
  /**
   * The step at which Adam's moments started from zero: 0, or where a run went on from weights alone (a shipped
   * model) with a fresh optimizer. Adam's bias correction counts from here.
   */
  adamStart = 0;
  /** The weights' moving averages by name, where {@link TrainerOptions.average} is on. */
  readonly avg: Record<string, tf.Variable> = {};
  /** The moving averages of {@link TrainerOptions.averageAlso}'s decays, by decay, then by name. */
  readonly avgAlso: Map<number, Record<string, tf.Variable>> = new Map<number, Record<string, tf.Variable>>();
  /** Updates folded into the averages so far (their warm-up counts these). */
  averaged = 0;
  /** The frozen weights: whole (undefined) or the rows [from, to) of their first axis. */
  private readonly frozen: Map<string, [number, number] | undefined>;
  /** The weights a step updates: all but the wholly frozen ones. */
  private readonly trained: string[];
  /** For the ops path: per partly frozen weight, the mask that zeroes its frozen rows (made once). */
  private readonly masks = new Map<string, tf.Tensor>();

  /** Prepares Adam state for every weight of `model`. */
  constructor(model: Trainable, options: TrainerOptions = {}) {
    this.model = model;
    this.options = {
      lr: options.lr ?? 1e-3,
      clipNorm: options.clipNorm ?? 10,
      beta1: options.beta1 ?? 0.9,
      beta2: options.beta2 ?? 0.999,
      epsilon: options.epsilon ?? 1e-8,
      inPlace: options.inPlace ?? true,
      frozen: options.frozen ?? [],
      average: options.average ?? 0,
      averageAlso: options.averageAlso ?? [],
    };
    const { lr, clipNorm, average, averageAlso } = this.options;
    if (!(average >= 0 && average < 1)) {
      throw new RangeError(`Cannot train as average must be in [0, 1): current value is ${average}`);
    }
    for (const d of averageAlso) {
      if (!(d > 0 && d < 1) || d === average) {
        throw new RangeError(
          `Cannot train as each further average's decay must be in (0, 1) and differ from average's: current value is ${d}`,
        );
      }
    }
    if (!(lr > 0) || !Number.isFinite(lr)) {
      throw new RangeError(`Cannot train as lr must be > 0: current value is ${lr}`);
    }
    if (!(clipNorm >= 0)) {
      throw new RangeError(`Cannot train as clipNorm must be >= 0: current value is ${clipNorm}`);
    }
    this.frozen = frozenParts(this.options.frozen, model.weights);
    this.trained = Object.keys(model.weights).filter((n) => !this.frozen.has(n) || this.frozen.get(n));
    for (const [name, w] of Object.entries(model.weights)) {
      this.m[name] = tf.tidy(() => tf.variable(tf.zerosLike(w), false)); // tidy frees the initial value
      this.v[name] = tf.tidy(() => tf.variable(tf.zerosLike(w), false));
      if (average > 0) this.avg[name] = tf.tidy(() => tf.variable(tf.clone(w), false));
    }
    for (const d of new Set(averageAlso)) {
      this.avgAlso.set(
        d,
        Object.fromEntries(Object.entries(model.weights).map(([n, w]) => [n, tf.variable(tf.clone(w), false)])),
      );
    }
  }

  /** Whether the trainer keeps any moving average of the weights. */
  get averaging(): boolean {
    return this.options.average > 0 || this.avgAlso.size > 0;
  }

  /** Each kept average with the weight of the new weights in its next update, 1 − d (see {@link averageRate}). */
  private averages(): [Record<string, tf.Variable>, number][] {
    const all: [Record<string, tf.Variable>, number][] = [...this.avgAlso].map(([d, a]) => [a, this.averageRate(d)]);
    return this.options.average > 0 ? [[this.avg, this.averageRate(this.options.average)], ...all] : all;
  }

  /** The weight of the new weights in the next update of the average of decay d: 1 − d (less in the warm-up). */
  private averageRate(d: number): number {
    const n = this.averaged;
    return 1 - Math.min(d, (1 + n) / (10 + n));
  }

  /**
   * Runs `fn` with the model holding its averaged weights (validation, evaluation), then gives the raw
   * weights back; without averaging, just runs `fn`. With `decay`, the average of that decay of
   * {@link TrainerOptions.averageAlso} instead.
   */
  async withAverage<T>(fn: () => Promise<T>, decay?: number): Promise<T> {
    const avg = decay === undefined || decay === this.options.average ? this.avg : this.avgAlso.get(decay);
    if (!avg) throw new RangeError(`Cannot use the moving average of decay ${decay}: the trainer does not keep it`);
    if (!Object.keys(avg).length) return await fn();
    const raw = Object.fromEntries(Object.entries(avg).map(([n]) => [n, tf.clone(this.model.weights[n])]));
    for (const [n, a] of Object.entries(avg)) this.model.weights[n].assign(a);
    try {
      return await fn();
    } finally {
      for (const [n, w] of Object.entries(raw)) this.model.weights[n].assign(w);
      tf.dispose(Object.values(raw));
    }
  }

  /**
   * One step on a batch (images `x` [batch, H, W, C], or a {@link Batch} with labels) with fresh
   * noise from `rng`. If the loss or the gradient is not finite, the weights are left untouched
   * and the result reports it.
   */
  async step(batch: tf.Tensor4D | Batch, rng: Rng): Promise<StepResult> {
    const b: Batch = batch instanceof tf.Tensor ? { x: batch } : batch;
    const names = this.trained;
    let kept: Record<string, tf.Scalar> = {};
    const inPlace = this.options.inPlace && storageViews();
    const figures = tf.tidy(() => {
      const direct = this.model.objectiveGradients?.(b, rng);
      if (direct) kept = direct.figures;
      const { value, grads } = direct ? { value: direct.loss, grads: direct.grads } : tf.variableGrads(() => {
        const out = this.model.objective(b, rng);
        kept = Object.fromEntries(Object.entries(out.figures).map(([k, v]) => [k, tf.keep(v)]));
        return out.loss;
      }, names.map((n) => this.model.weights[n]));
      const raw = names.map((n) => grads[direct ? n : this.model.weights[n].name]);
      if (inPlace) return { figures: tf.stack([value, ...Object.values(kept)]), gs: raw };
      const gs = names.map((n, k) => this.unfrozen(n, raw[k]));
      // the global L2 norm (summed through a stack: tfjs-webgpu 4.22 drops an addN of more than 4 tensors)
      const norm = tf.sqrt(tf.sum(tf.stack(gs.map((g) => tf.sum(tf.square(g))))));
      const scale = this.options.clipNorm > 0
        ? tf.minimum(1, tf.div(this.options.clipNorm, tf.maximum(norm, 1e-12)))
        : tf.scalar(1);
      return { figures: tf.stack([value, norm, ...Object.values(kept)]), gs: gs.map((g) => tf.mul(g, scale)) };
    });
    tf.dispose(Object.values(kept)); // kept out of the tape's scope above; stacked copies remain
    const read = Array.from(await figures.figures.data());
    if (inPlace) names.forEach((n, k) => this.zeroFrozenRows(n, figures.gs[k]));
    const [loss, gradNorm, ...rest] = inPlace ? [read[0], globalNorm(figures.gs), ...read.slice(1)] : read;
    if (Number.isFinite(loss) && Number.isFinite(gradNorm)) {
      if (inPlace) this.applyInPlace(names, figures.gs, this.clipScale(gradNorm));
      else this.apply(names, figures.gs);
    }
    tf.dispose([figures.figures, ...figures.gs]);
    return { loss, gradNorm, figures: Object.fromEntries(Object.keys(kept).map((k, i) => [k, rest[i]])) };
  }

  /**
   * Gradient `g` of weight `name` with its frozen rows zeroed: with a zero gradient from the first step,
   * Adam's m stays 0 and the rows do not move, bit for bit.
   */
  private unfrozen(name: string, g: tf.Tensor): tf.Tensor {
    const rows = this.frozen.get(name);
    if (!rows) return g;
    let mask = this.masks.get(name);
    if (!mask) {
      const [from, to] = rows, n = g.shape[0];
      const keep = Float32Array.from({ length: n }, (_, i) => (i >= from && i < to ? 0 : 1));
      mask = tf.keep(tf.tensor(keep, [n, ...g.shape.slice(1).map(() => 1)]));
      this.masks.set(name, mask);
    }
    return tf.mul(g, mask);
  }

  /** {@link unfrozen} in place, on a gradient of the step's own that a backend lets us write. */
  private zeroFrozenRows(name: string, g: tf.Tensor): void {
    const rows = this.frozen.get(name);
    if (!rows) return;
    const cols = g.size / g.shape[0];
    peek32(g).fill(0, rows[0] * cols, rows[1] * cols);
  }

  /** The Adam update with bias correction folded into the step size. */
  private apply(names: string[], grads: tf.Tensor[]): void {
    const { lr, beta1, beta2, epsilon } = this.options;
    this.iteration++;
    const t = this.iteration - this.adamStart;
    const stepSize = lr * Math.sqrt(1 - beta2 ** t) / (1 - beta1 ** t);
    const averages = this.averages();
    tf.tidy(() => {
      names.forEach((name, k) => {
        const g = grads[k];
        const m = tf.add(tf.mul(this.m[name], beta1), tf.mul(g, 1 - beta1));
        const v = tf.add(tf.mul(this.v[name], beta2), tf.mul(tf.square(g), 1 - beta2));
        this.m[name].assign(m);
        this.v[name].assign(v);
        const w = this.model.weights[name];
        w.assign(tf.sub(w, tf.mul(tf.div(m, tf.add(tf.sqrt(v), epsilon)), stepSize)));
        for (const [avg, rate] of averages) {
          const a = avg[name];
          a.assign(tf.add(a, tf.mul(tf.sub(w, a), rate)));
        }
      });
    });
    if (averages.length) this.averaged++;
  }

  /** The factor that clips a gradient of global norm `norm` (1 without clipping). */
  private clipScale(norm: number): number {
    const c = this.options.clipNorm;
    return c > 0 ? Math.min(1, c / Math.max(norm, 1e-12)) : 1;
  }

  /**
   * {@link apply}'s update with the gradients scaled by `scale`, in one pass per weight over the
   * tensors' storage (a backend with {@link storageViews}): new w, m and v are written into fresh
   * tensors, which the variables then take.
   */
  private applyInPlace(names: string[], grads: tf.Tensor[], scale: number): void {
    const { lr, beta1, beta2, epsilon } = this.options;
    this.iteration++;
    const t = this.iteration - this.adamStart;
    const stepSize = lr * Math.sqrt(1 - beta2 ** t) / (1 - beta1 ** t);
    const averages = this.averages();
    names.forEach((name, k) => {
      const w = this.model.weights[name], m = this.m[name], v = this.v[name];
      // made first: the views come after
      const next = [tf.zerosLike(w), tf.zerosLike(m), tf.zerosLike(v), ...averages.map(([a]) => tf.zerosLike(a[name]))];
      const [g, w0, m0, v0, w1, m1, v1] = [grads[k], w, m, v, ...next].map(peek32);
      for (let i = 0; i < g.length; i++) {
        const gi = g[i] * scale;
        m1[i] = beta1 * m0[i] + (1 - beta1) * gi;
        v1[i] = beta2 * v0[i] + (1 - beta2) * gi * gi;
        w1[i] = w0[i] - stepSize * m1[i] / (Math.sqrt(v1[i]) + epsilon);
      }
      averages.forEach(([avg, rate], j) => {
        const a = avg[name], a0 = peek32(a), a1 = peek32(next[3 + j]);
        for (let i = 0; i < g.length; i++) a1[i] = a0[i] + rate * (w1[i] - a0[i]);
        a.assign(next[3 + j]);
      });
      w.assign(next[0]);
      m.assign(next[1]);
      v.assign(next[2]);
      tf.dispose(next);
    });
    if (averages.length) this.averaged++;
  }

  /** Frees the optimizer state (not the model). */
  dispose(): void {
    const all = [
      ...Object.values(this.m),
      ...Object.values(this.v),
      ...Object.values(this.avg),
      ...[...this.avgAlso.values()].flatMap((a) => Object.values(a)),
      ...this.masks.values(),
    ];
    for (const t of all) t.dispose();
  }
}
