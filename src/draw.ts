/**
 * The DRAW network (Section 2): the unrolled encoder–decoder recurrence, its loss, and generation.
 *
 * Functions here are pure: weights and noise ε are arguments. {@link Draw} owns a set of variables
 * and calls them. Images enter and leave as [batch, height, width, channels] with values in [0, 1];
 * inside, they are [batch, B, C, A] (see attention.ts), flattened to [batch, D] with D = B·C·A.
 *
 * @module
 */
import * as tf from "./tf.ts";
import { attentionWindow, filterbank, readPatch, windowSummary, writePatch } from "./attention.ts";
import { type DrawConfig, validateConfig } from "./config.ts";
import { linear } from "./linear.ts";
import { lstmCell, type LstmState } from "./lstm.ts";
import { bernoulliNll, klStandardNormal } from "./loss.ts";
import { fillNoise, Rng } from "./random.ts";
import { type Engine, TFJS_ENGINE } from "./engine/engine.ts";
import type { DrawPasses } from "./engine/passes.ts";
import type { ObjectiveGradients } from "./trainer.ts";
import { initValues, type ParamSpec, paramSpecs, readSize, writeSize } from "./params.ts";

export { initValues, type ParamSpec, paramSpecs, readSize, writeSize };
export * from "./shapes.ts"; // what the model and every engine share, as draw.ts exported it
import {
  checkGenerative,
  checkImages,
  checkNoise,
  checkWeights,
  type DrawLoss,
  type DrawSample,
  type DrawWeights,
  toImages,
  toInternal,
} from "./shapes.ts";

/** Trainable variables for `specs`, filled from `seed`, named `<scope>/<name>/<unique id>`. */
export function createVariables(specs: ParamSpec[], seed: number, scope: string): Record<string, tf.Variable> {
  const rng = new Rng(seed);
  const out: Record<string, tf.Variable> = {};
  for (const spec of specs) {
    out[spec.name] = tf.tidy(() =>
      tf.variable(tf.tensor(initValues(spec, rng), spec.shape), true, `${scope}/${spec.name}/${crypto.randomUUID()}`)
    );
  }
  return out;
}

/** Initial weights for `config`, reproducible from `seed`. */
export function initWeights(config: DrawConfig, seed: number): DrawWeights {
  const rng = new Rng(seed);
  const weights: DrawWeights = {};
  for (const spec of paramSpecs(config)) {
    weights[spec.name] = tf.tensor(initValues(spec, rng), spec.shape);
  }
  return weights;
}

/** Tiles a learned [H] initial state to [batch, H]. */
function tileRow(v: tf.Tensor, batch: number): tf.Tensor2D {
  return tf.tile(tf.reshape(v, [1, v.shape[0]]), [batch, 1]);
}

/**
 * The decoder's outputs at step t in one product: the write window (Eq 21, 5 values), the write
 * output w_t (Eq 28 or 18), and the read window for step t+1 (Eq 21 on h^dec_t, 5 values).
 */
interface DecoderHead {
  kernel: tf.Tensor2D;
  bias: tf.Tensor1D;
  sizes: number[];
}

function decoderHead(weights: DrawWeights, config: DrawConfig, withRead: boolean): DecoderHead {
  const parts: [string, number][] = [];
  if (config.writeN > 0) parts.push(["write.window", 5]);
  parts.push(["write", writeSize(config)]);
  if (withRead && config.readN > 0) parts.push(["read", 5]);
  return {
    kernel: tf.concat(parts.map(([n]) => weights[`${n}.kernel`] as tf.Tensor2D), 1),
    bias: tf.concat(parts.map(([n]) => weights[`${n}.bias`] as tf.Tensor1D), 0),
    sizes: parts.map(([, s]) => s),
  };
}

/** Splits the head's output into its parts (a fresh array; one part is returned as is, since
 * tfjs's split gradient fails for a single piece). */
function headOutputs(h: tf.Tensor2D, head: DecoderHead): tf.Tensor2D[] {
  const out = linear(h, head.kernel, head.bias); // [batch, Σ sizes]
  return head.sizes.length === 1 ? [out] : [...tf.split(out, head.sizes, 1)] as tf.Tensor2D[];
}

/** Eqs 8, 18, 28–29: the canvas update write(h^dec_t), given the head's outputs. [batch, D] */
function write(
  config: DrawConfig,
  outputs: tf.Tensor2D[],
  windows: tf.Tensor2D[] | undefined,
): tf.Tensor2D {
  const batch = outputs[0].shape[0];
  if (config.writeN === 0) return outputs[0]; // Eq 18
  const [raw, w] = outputs;
  const { writeN: N, width: A, height: B, channels: C } = config;
  const win = attentionWindow(raw, N, A, B); // Eq 21 on h^dec_t
  if (windows) windows.push(windowSummary(win));
  const patch = tf.reshape(w, [batch, N, C, N]) as tf.Tensor4D; // Eq 28, [batch, N, C, N]
  const image = writePatch(patch, filterbank(win, N, A, B), win.gamma); // Eq 29, [batch, B, C, A]
  return tf.reshape(image, [batch, B * C * A]);
}

/** Eqs 4, 17, 27: the read vector r_t. [batch, readSize] */
function read(
  config: DrawConfig,
  x: tf.Tensor2D,
  xHat: tf.Tensor2D,
  raw: tf.Tensor2D | undefined,
  windows: tf.Tensor2D[] | undefined,
): tf.Tensor2D {
  if (config.readN === 0 || !raw) return tf.concat([x, xHat], 1); // Eq 17
  const { readN: N, width: A, height: B, channels: C } = config;
  const batch = x.shape[0];
  const win = attentionWindow(raw, N, A, B); // Eq 21 on h^dec_{t-1}
  if (windows) windows.push(windowSummary(win));
  // x and x̂ side by side as 2C channels: one pair of products reads both with the same filters.
  const both = tf.concat([tf.reshape(x, [batch, B, C, A]), tf.reshape(xHat, [batch, B, C, A])], 2);
  const patch = readPatch(both as tf.Tensor4D, filterbank(win, N, A, B), win.gamma); // [batch, N, 2C, N]
  return tf.reshape(patch, [batch, N * 2 * C * N]);
}

/** Options of {@link drawLoss} and {@link drawGenerate}. */
export interface TraceOptions {
  /** Also return per-step windows and canvases (costs memory; off for training). */
  trace?: boolean;
  /** Also return {@link DrawLoss.logRatio}, for importance-weighted bounds. */
  logWeights?: boolean;
  /** What computes it (default: the tfjs graph, the reference); `trace` always runs the graph. */
  engine?: Engine;
  /** No gradient will be taken (evaluation): the engine may keep less for a backward pass. */
  inference?: boolean;
}

/**
 * DRAW Eqs 1–12: runs the encoder–decoder recurrence on images `x` with noise `eps` and returns
 * the loss terms. A fresh ε_t is used at every step: z_t = μ_t + σ_t ⊙ ε_t (Eq 6, reparameterised).
 *
 * @param x images [batch, height, width, channels] in [0, 1]
 * @param eps standard normal noise [T, batch, z]
 *
 * @example
 * ```ts
 * import * as tf from "./tf.ts";
 * import { TINY } from "./config.ts";
 * import { drawLoss, initWeights } from "./draw.ts";
 * const w = initWeights(TINY, 1);
 * const out = drawLoss(w, TINY, tf.zeros([2, 5, 6, 1]), tf.randomNormal([3, 2, 2]));
 * out.loss.print();
 * ```
 */
export function drawLoss(
  weights: DrawWeights,
  config: DrawConfig,
  x: tf.Tensor4D,
  eps: tf.Tensor3D,
  options: TraceOptions = {},
): DrawLoss {
  checkWeights(weights, config);
  checkImages(x, config);
  const batch = x.shape[0];
  checkNoise(eps, config, batch);
  const engine = options.engine ?? TFJS_ENGINE;
  const passes = options.trace ? undefined : engine.draw(config, batch, { training: !options.inference });
  if (passes) return passes.loss(weights, config, x, eps, options.logWeights ?? false);
  return tf.tidy(() => {
    const H = config.hidden;
    const readWindows = options.trace && config.readN > 0 ? [] as tf.Tensor2D[] : undefined;
    const writeWindows = options.trace && config.writeN > 0 ? [] as tf.Tensor2D[] : undefined;
    const canvases = options.trace ? [] as tf.Tensor2D[] : undefined;
    const xf = toInternal(x); // [batch, D]
    // Step T needs no next read window, so it uses a head without one.
    const head = decoderHead(weights, config, true);
    const lastHead = config.readN > 0 ? decoderHead(weights, config, false) : head;
    const noise = tf.unstack(eps, 0) as tf.Tensor2D[]; // T × [batch, z]
    let enc: LstmState = { h: tileRow(weights["encoder.h0"], batch), c: tf.zeros([batch, H]) };
    let dec: LstmState = { h: tileRow(weights["decoder.h0"], batch), c: tf.zeros([batch, H]) };
    let c = tf.tile(tf.reshape(weights["canvas0"], [1, -1]), [batch, 1]) as tf.Tensor2D; // c_0
    let readRaw: tf.Tensor2D | undefined = config.readN > 0
      ? linear(dec.h, weights["read.kernel"] as tf.Tensor2D, weights["read.bias"] as tf.Tensor1D)
      : undefined; // Eq 21 on h^dec_0
    const mus: tf.Tensor2D[] = [];
    const logSigmas: tf.Tensor2D[] = [];
    for (let t = 0; t < config.T; t++) {
      const xHat = tf.sub(xf, tf.sigmoid(c)) as tf.Tensor2D; // Eq 3
      const r = read(config, xf, xHat, readRaw, readWindows); // Eq 4
      enc = lstmCell([r, dec.h], enc, weights["encoder.kernel"] as tf.Tensor2D, weights["encoder.bias"] as tf.Tensor1D); // Eq 5
      const q = linear(enc.h, weights["posterior.kernel"] as tf.Tensor2D, weights["posterior.bias"] as tf.Tensor1D); // [batch, 2z]
      const [mu, logSigma] = tf.split(q, 2, 1) as tf.Tensor2D[]; // Eqs 1–2
      mus.push(mu);
      logSigmas.push(logSigma);
      const zt = tf.add(mu, tf.mul(tf.exp(logSigma), noise[t])) as tf.Tensor2D; // Eq 6
      dec = lstmCell([zt], dec, weights["decoder.kernel"] as tf.Tensor2D, weights["decoder.bias"] as tf.Tensor1D); // Eq 7
      const h = t === config.T - 1 ? lastHead : head;
      const outs = headOutputs(dec.h, h); // a fresh array: the tape keeps split's own
      if (h !== lastHead) readRaw = outs.pop();
      c = tf.add(c, write(config, outs, writeWindows)) as tf.Tensor2D; // Eq 8
      if (canvases) canvases.push(c);
    }
    const lx = bernoulliNll(c, xf); // Eq 9
    const lz = klStandardNormal(tf.stack(mus, 1), tf.stack(logSigmas, 1)); // Eqs 10–11, [batch, T, z]
    const out: DrawLoss = { lx, lz, loss: tf.mean(tf.add(lx, lz)) as tf.Scalar };
    if (readWindows) out.readWindows = tf.stack(readWindows, 1) as tf.Tensor3D;
    if (writeWindows) out.writeWindows = tf.stack(writeWindows, 1) as tf.Tensor3D;
    if (canvases) out.canvases = stackCanvases(canvases, config);
    if (options.logWeights) {
      // log N(z; 0, 1) − log N(z; μ, σ) = −z²/2 + ε²/2 + log σ, with z = μ + σε. [batch, T, z]
      const mu = tf.stack(mus, 1), ls = tf.stack(logSigmas, 1), e = tf.transpose(eps, [1, 0, 2]);
      const z = tf.add(mu, tf.mul(tf.exp(ls), e));
      const terms = tf.add(tf.mul(tf.sub(tf.square(e), tf.square(z)), 0.5), ls);
      out.logRatio = tf.sum(terms, [1, 2]) as tf.Tensor1D;
    }
    return out as unknown as tf.TensorContainer;
  }) as unknown as DrawLoss;
}

function stackCanvases(canvases: tf.Tensor2D[], config: DrawConfig): tf.Tensor5D {
  return tf.stack(canvases.map((c) => toImages(c, config)), 0) as tf.Tensor5D;
}

/**
 * DRAW Eqs 13–16: generates images from prior noise `eps` [T, n, z]. The encoder is not used.
 *
 * @example
 * ```ts
 * import * as tf from "./tf.ts";
 * import { TINY } from "./config.ts";
 * import { drawGenerate, initWeights } from "./draw.ts";
 * const s = drawGenerate(initWeights(TINY, 1), TINY, tf.randomNormal([3, 4, 2]));
 * ```
 */
export function drawGenerate(
  weights: DrawWeights,
  config: DrawConfig,
  eps: tf.Tensor3D,
  options: TraceOptions = {},
): DrawSample {
  const n = eps.shape[1];
  checkNoise(eps, config, n);
  checkGenerative(weights, config);
  const passes = options.trace ? undefined : (options.engine ?? TFJS_ENGINE).draw(config, n, { training: false });
  if (passes) return passes.generate(weights, config, eps);
  return tf.tidy(() => {
    const H = config.hidden;
    const writeWindows = options.trace && config.writeN > 0 ? [] as tf.Tensor2D[] : undefined;
    const canvases = options.trace ? [] as tf.Tensor2D[] : undefined;
    const head = decoderHead(weights, config, false);
    const noise = tf.unstack(eps, 0) as tf.Tensor2D[];
    let dec: LstmState = { h: tileRow(weights["decoder.h0"], n), c: tf.zeros([n, H]) };
    let c = tf.tile(tf.reshape(weights["canvas0"], [1, -1]), [n, 1]) as tf.Tensor2D;
    for (let t = 0; t < config.T; t++) {
      dec = lstmCell([noise[t]], dec, weights["decoder.kernel"] as tf.Tensor2D, weights["decoder.bias"] as tf.Tensor1D); // Eq 14
      const outs = headOutputs(dec.h, head);
      c = tf.add(c, write(config, outs, writeWindows)) as tf.Tensor2D; // Eq 15
      if (canvases) canvases.push(c);
    }
    const logits = toImages(c, config);
    const out: DrawSample = { logits, means: tf.sigmoid(logits) as tf.Tensor4D };
    if (canvases) out.canvases = stackCanvases(canvases, config);
    if (writeWindows) out.writeWindows = tf.stack(writeWindows, 1) as tf.Tensor3D;
    return out as unknown as tf.TensorContainer;
  }) as unknown as DrawSample;
}

/**
 * Prior or posterior noise for T steps of `batch` images: [T, batch, z] standard normals, random.ts's
 * fillNoise from one seed drawn from `rng` ({@link noiseSeed}). The fused engine is given the seed
 * alone and draws the same values on its threads.
 */
export function drawNoise(config: DrawConfig, batch: number, rng: Rng): tf.Tensor3D {
  const values = fillNoise(noiseSeed(rng), 0, new Float32Array(config.T * batch * config.z));
  return tf.tensor3d(values, [config.T, batch, config.z]);
}

/** The seed of a pass's noise: the next 32 bits of `rng` (one draw, whatever the batch). */
export function noiseSeed(rng: Rng): number {
  return rng.next32() >>> 0;
}

/**
 * A DRAW network that owns its weights as tfjs variables.
 *
 * @example
 * ```ts
 * import { Draw, TINY, Rng } from "../mod.ts";
 * const model = new Draw(TINY, 42);
 * const sample = model.generate(4, new Rng(1));
 * sample.means.dispose(); sample.logits.dispose();
 * model.dispose();
 * ```
 */
export class Draw {
  /** The model kind, as stored in checkpoints. */
  readonly kind = "draw";
  /** The configuration this network was built for. */
  readonly config: DrawConfig;
  /** The trainable weights, by name (see {@link paramSpecs}). */
  readonly weights: Record<string, tf.Variable>;
  /** What computes its passes (see engine/engine.ts); the tfjs graph unless set. */
  engine: Engine = TFJS_ENGINE;

  /** Builds a network with fresh weights from `seed`. */
  constructor(config: DrawConfig, seed = 0) {
    this.config = validateConfig(config);
    this.weights = createVariables(paramSpecs(config), seed, "draw");
  }

  /**
   * The engine's forward-only passes for `n` images where they draw a pass's noise themselves from drawNoise's
   * seed (the fused engine's threads); undefined where the noise must be a tensor.
   */
  private seededPasses(n: number): DrawPasses | undefined {
    const passes = this.engine.draw(this.config, n, { training: false });
    return passes?.seeded ? passes : undefined;
  }

  /** Eqs 1–12 on images `x` [batch, H, W, C] with noise drawn from `rng`. */
  loss(x: tf.Tensor4D, rng: Rng, options: TraceOptions = {}): DrawLoss {
    const passes = options.inference && !options.trace ? this.seededPasses(x.shape[0]) : undefined;
    if (passes) return passes.loss(this.weights, this.config, x, noiseSeed(rng), options.logWeights ?? false);
    const eps = drawNoise(this.config, x.shape[0], rng);
    try {
      return drawLoss(this.weights, this.config, x, eps, { engine: this.engine, ...options });
    } finally {
      eps.dispose();
    }
  }

  /** The training objective of one batch: Eq 12 with one sample of z, and the means of Lx and Lz. */
  objective(batch: { x: tf.Tensor4D }, rng: Rng): { loss: tf.Scalar; figures: Record<string, tf.Scalar> } {
    const out = this.loss(batch.x, rng);
    return { loss: out.loss, figures: { lx: tf.mean(out.lx) as tf.Scalar, lz: tf.mean(out.lz) as tf.Scalar } };
  }

  /**
   * The objective and its gradient in one pass, where the engine has one (the WebGPU engine: a
   * training step in one submit; the fused engine: forward and backward without tfjs's tape);
   * undefined on the tfjs graph (the Trainer then differentiates {@link objective}). The same noise
   * is drawn from `rng` either way.
   */
  objectiveGradients(batch: { x: tf.Tensor4D }, rng: Rng): ObjectiveGradients | undefined {
    const n = batch.x.shape[0];
    const passes = this.engine.draw(this.config, n, { training: true });
    if (!passes) return undefined;
    if (passes.seeded) return passes.step(this.weights, this.config, batch.x, noiseSeed(rng)); // drawNoise's values
    const eps = drawNoise(this.config, n, rng);
    try {
      return passes.step(this.weights, this.config, batch.x, eps);
    } finally {
      eps.dispose();
    }
  }

  /** The parameters of this network (see {@link paramSpecs}). */
  specs(): ParamSpec[] {
    return paramSpecs(this.config);
  }

  /** Eqs 13–16: `n` images from prior noise drawn from `rng`. */
  generate(n: number, rng: Rng, options: TraceOptions = {}): DrawSample {
    if (!Number.isInteger(n) || n < 1) {
      throw new RangeError(`Cannot generate as n must be an integer >= 1: current value is ${n}`);
    }
    const passes = options.trace ? undefined : this.seededPasses(n);
    if (passes) return passes.generate(this.weights, this.config, noiseSeed(rng)); // drawn by the engine's threads
    const eps = drawNoise(this.config, n, rng);
    try {
      return drawGenerate(this.weights, this.config, eps, { engine: this.engine, ...options });
    } finally {
      eps.dispose();
    }
  }

  /** Number of trainable values. */
  get size(): number {
    return Object.values(this.weights).reduce((s, w) => s + w.size, 0);
  }

  /** Frees the weights. */
  dispose(): void {
    for (const w of Object.values(this.weights)) w.dispose();
  }
}
