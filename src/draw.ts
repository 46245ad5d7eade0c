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
import { type DrawConfig, imageSize, validateConfig } from "./config.ts";
import { linear } from "./linear.ts";
import { lstmCell, type LstmState } from "./lstm.ts";
import { bernoulliNll, klStandardNormal } from "./loss.ts";
import { fillNoise, Rng } from "./random.ts";
import { type Engine, TFJS_ENGINE } from "./engine/engine.ts";
import { engineOp, peek32, tensorCopy, values32 } from "./engine/bridge.ts";
import type { FusedLoss, FusedRunner, Noise } from "./engine/fused_draw.ts";
import { WebGpuDraw } from "./engine/webgpu_draw.ts";
import type { ObjectiveGradients } from "./trainer.ts";
import { bufferOf, flushTfjs, gpuEngineOp, tensorFrom } from "./engine/webgpu_bridge.ts";
import { initValues, type ParamSpec, paramSpecs, readSize, writeSize } from "./params.ts";

export { initValues, type ParamSpec, paramSpecs, readSize, writeSize };

/** The weights of a DRAW network, by parameter name. */
export type DrawWeights = Record<string, tf.Tensor>;

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

/** [batch, H, W, C] → [batch, D] in the internal (row, channel, column) order. */
export function toInternal(images: tf.Tensor4D): tf.Tensor2D {
  return tf.tidy(() => {
    const [batch, H, W, C] = images.shape;
    const hcw = C === 1 ? images : tf.transpose(images, [0, 1, 3, 2]);
    return tf.reshape(hcw, [batch, H * W * C]);
  });
}

/** [batch, D] in internal order → [batch, H, W, C]. */
export function toImages(flat: tf.Tensor2D, config: DrawConfig): tf.Tensor4D {
  return tf.tidy(() => {
    const { height: H, width: W, channels: C } = config;
    const batch = flat.shape[0];
    if (C === 1) return tf.reshape(flat, [batch, H, W, 1]);
    return tf.transpose(tf.reshape(flat, [batch, H, C, W]), [0, 1, 3, 2]);
  });
}

function checkImages(x: tf.Tensor, config: DrawConfig): void {
  const want = [config.height, config.width, config.channels];
  if (x.rank !== 4 || x.shape.slice(1).join() !== want.join()) {
    throw new TypeError(
      `Cannot run DRAW as images must be [batch, ${want}]: current shape is [${x.shape}]`,
    );
  }
}

function checkNoise(eps: tf.Tensor, config: DrawConfig, batch: number): void {
  const want = [config.T, batch, config.z];
  if (eps.rank !== 3 || eps.shape.join() !== want.join()) {
    throw new TypeError(
      `Cannot run DRAW as noise must be [T, batch, z] = [${want}]: current shape is [${eps.shape}]`,
    );
  }
}

function checkWeights(weights: DrawWeights, config: DrawConfig): void {
  for (const spec of paramSpecs(config)) {
    const w = weights[spec.name];
    if (!w) throw new TypeError(`Cannot run DRAW as weight ${spec.name} is missing`);
    if (w.shape.join() !== spec.shape.join()) {
      throw new TypeError(
        `Cannot run DRAW as weight ${spec.name} must be [${spec.shape}]: current shape is [${w.shape}]`,
      );
    }
  }
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

/** The result of {@link drawLoss}. Lx and Lz are per image, in nats. */
export interface DrawLoss {
  /** Eq 9 per image. [batch] */
  lx: tf.Tensor1D;
  /** Eqs 10–11 per image. [batch] */
  lz: tf.Tensor1D;
  /** Eq 12 with one sample of z, averaged over the batch. Scalar. */
  loss: tf.Scalar;
  /** With `trace`: the read windows (g_X, g_Y, δ, σ, γ) for t = 1..T. [batch, T, 5] */
  readWindows?: tf.Tensor3D;
  /** With `trace`: the write windows for t = 1..T. [batch, T, 5] */
  writeWindows?: tf.Tensor3D;
  /** With `trace`: the canvas c_t after every step, as logits. [T, batch, H, W, C] */
  canvases?: tf.Tensor5D;
  /**
   * With `logWeights`: log p(z) − log q(z | x) of the sample drawn, per image, so that −Lx plus
   * this is one importance weight log p(x, z)/q(z | x). Its mean over ε is −Lz. [batch]
   */
  logRatio?: tf.Tensor1D;
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
  const runner = options.trace ? undefined : engine.draw(config, batch, { training: !options.inference });
  if (runner instanceof WebGpuDraw) return webgpuLoss(runner, weights, config, x, eps, options);
  if (runner) return fusedLoss(runner, weights, config, x, eps, options);
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

/**
 * drawLoss on the fused engine: one tfjs op whose forward and backward passes are the engine's,
 * so that tf.variableGrads and the Trainer work unchanged. The noise is a tensor [T, n, z] or the
 * seed of drawNoise's values, which the engine's threads then draw themselves.
 */
function fusedLoss(
  runner: FusedRunner,
  weights: DrawWeights,
  config: DrawConfig,
  x: tf.Tensor4D,
  eps: tf.Tensor3D | number,
  options: TraceOptions,
): DrawLoss {
  const specs = paramSpecs(config);
  const batch = x.shape[0];
  const xt = toInternal(x);
  const xv = peek32(xt).slice();
  xt.dispose();
  const ev: Noise = typeof eps === "number" ? eps : values32(eps);
  let logRatio: Float32Array = new Float32Array(0);
  let pass = -1;
  return tf.tidy(() => {
    const pair = engineOp(specs.map((s) => weights[s.name]), [batch, 2], {
      run: (values) => {
        const r = runner.forward(Object.fromEntries(specs.map((s, i) => [s.name, values[i]])), xv, ev);
        pass = runner.passes;
        logRatio = r.logRatio;
        const out = new Float32Array(2 * batch); // [batch, (Lx, Lz)]
        for (let b = 0; b < batch; b++) [out[2 * b], out[2 * b + 1]] = [r.lx[b], r.lz[b]];
        return out;
      },
      grad: (d) => {
        const dlx = new Float32Array(batch), dlz = new Float32Array(batch);
        for (let b = 0; b < batch; b++) [dlx[b], dlz[b]] = [d[2 * b], d[2 * b + 1]];
        const g = runner.backward(dlx, dlz);
        return specs.map((s) => g[s.name]);
      },
      stale: () => runner.passes !== pass,
    });
    const [lx, lz] = tf.unstack(pair, 1) as tf.Tensor1D[];
    const out: DrawLoss = { lx, lz, loss: tf.mean(tf.add(lx, lz)) as tf.Scalar };
    if (options.logWeights) out.logRatio = tf.tensor1d(logRatio);
    return out as unknown as tf.TensorContainer;
  }) as unknown as DrawLoss;
}

/**
 * drawLoss on the WebGPU engine: one tfjs op on the tensors' GPU buffers, whose forward and
 * backward passes are the engine's, one submit each.
 */
function webgpuLoss(
  runner: WebGpuDraw,
  weights: DrawWeights,
  config: DrawConfig,
  x: tf.Tensor4D,
  eps: tf.Tensor3D,
  options: TraceOptions,
): DrawLoss {
  const specs = paramSpecs(config);
  const batch = x.shape[0];
  let logRatio: GPUBuffer | undefined;
  let pass = -1;
  return tf.tidy(() => {
    const pair = gpuEngineOp(specs.map((s) => weights[s.name]), [toInternal(x), eps], [batch, 2], {
      run: (buffers) => {
        const n = specs.length, out = runner.forward(buffers.slice(0, n), buffers[n], buffers[n + 1]);
        pass = runner.passes;
        logRatio = out.logRatio;
        return out.pair;
      },
      grad: (dy) => runner.backward(dy),
      stale: () => runner.passes !== pass,
    });
    const [lx, lz] = tf.unstack(pair, 1) as tf.Tensor1D[];
    const out: DrawLoss = { lx, lz, loss: tf.mean(tf.add(lx, lz)) as tf.Scalar };
    if (options.logWeights) out.logRatio = tensorFrom(logRatio!, [batch]) as tf.Tensor1D;
    return out as unknown as tf.TensorContainer;
  }) as unknown as DrawLoss;
}

/** A training step on the WebGPU engine in one submit: Eq 12's batch mean, its figures and every weight's gradient. */
function webgpuStep(
  runner: WebGpuDraw,
  weights: DrawWeights,
  config: DrawConfig,
  x: tf.Tensor4D,
  eps: tf.Tensor3D,
): ObjectiveGradients {
  checkWeights(weights, config);
  checkImages(x, config);
  checkNoise(eps, config, x.shape[0]);
  const specs = paramSpecs(config);
  return tf.tidy(() => {
    const xt = toInternal(x);
    const buffers = specs.map((s) => bufferOf(weights[s.name]));
    const [xb, eb] = [bufferOf(xt), bufferOf(eps)];
    flushTfjs();
    const out = runner.step(buffers, xb, eb);
    const [lx, lz] = tf.unstack(tensorFrom(out.pair, [x.shape[0], 2]), 1);
    const grads = Object.fromEntries(specs.map((s, i) => [s.name, tensorFrom(out.grads[i], s.shape)]));
    return {
      loss: tf.mean(tf.add(lx, lz)) as tf.Scalar,
      figures: { lx: tf.mean(lx) as tf.Scalar, lz: tf.mean(lz) as tf.Scalar },
      grads,
    } as unknown as tf.TensorContainer;
  }) as unknown as ObjectiveGradients;
}

/**
 * A training step's objective (Eq 12's batch mean) and its gradient on the fused engine, forward and
 * backward in one go without tfjs's tape: the weights and images are read in place, the noise
 * `eps` [T, n, z] is given as values or their seed (see drawNoise), and ∂(mean)/∂Lx_b = ∂(mean)/∂Lz_b = 1/n.
 */
function fusedStep(
  runner: FusedRunner,
  weights: DrawWeights,
  config: DrawConfig,
  x: tf.Tensor4D,
  eps: Noise,
): ObjectiveGradients {
  checkWeights(weights, config);
  checkImages(x, config);
  const specs = paramSpecs(config), n = x.shape[0];
  const xt = toInternal(x);
  let r: FusedLoss;
  try {
    r = runner.forward(Object.fromEntries(specs.map((s) => [s.name, peek32(weights[s.name])])), peek32(xt), eps);
  } finally {
    xt.dispose();
  }
  return tf.tidy(() => {
    const [lx, lz] = [tf.tensor1d(r.lx), tf.tensor1d(r.lz)];
    const d = new Float32Array(n).fill(1 / n);
    const g = runner.backward(d, d);
    return {
      loss: tf.mean(tf.add(lx, lz)) as tf.Scalar,
      figures: { lx: tf.mean(lx) as tf.Scalar, lz: tf.mean(lz) as tf.Scalar },
      grads: Object.fromEntries(specs.map((s) => [s.name, tensorCopy(g[s.name], s.shape)])),
    } as unknown as tf.TensorContainer;
  }) as unknown as ObjectiveGradients;
}

function stackCanvases(canvases: tf.Tensor2D[], config: DrawConfig): tf.Tensor5D {
  return tf.stack(canvases.map((c) => toImages(c, config)), 0) as tf.Tensor5D;
}

/** The result of {@link drawGenerate}. */
export interface DrawSample {
  /** The final canvas c_T as logits. [n, H, W, C] */
  logits: tf.Tensor4D;
  /** The Bernoulli means σ(c_T) (Eq 16), the images shown in Fig 6. [n, H, W, C] */
  means: tf.Tensor4D;
  /** With `trace`: the canvas after every step, as logits. [T, n, H, W, C] */
  canvases?: tf.Tensor5D;
  /** With `trace` and write attention: (g_X, g_Y, δ, σ, γ) of each write. [n, T, 5] */
  writeWindows?: tf.Tensor3D;
}

/** The weights that generation (Eqs 13–16) does not read, by name prefix. */
const ENCODER_ONLY = ["encoder.", "posterior.", "read."];

/** The weights generation reads (Eqs 13–16: the decoder, the write, c_0). */
function generativeSpecs(config: DrawConfig): ParamSpec[] {
  return paramSpecs(config).filter((s) => !ENCODER_ONLY.some((prefix) => s.name.startsWith(prefix)));
}

/** Throws unless every weight generation reads is present with its shape. */
function checkGenerative(weights: DrawWeights, config: DrawConfig): void {
  for (const spec of generativeSpecs(config)) {
    const w = weights[spec.name];
    if (!w || w.shape.join() !== spec.shape.join()) {
      throw new TypeError(`Cannot generate as weight ${spec.name} must be [${spec.shape}]`);
    }
  }
}

/** drawGenerate on the fused engine, from noise values [T, n, z] or their seed (see drawNoise). */
function fusedGenerate(runner: FusedRunner, weights: DrawWeights, config: DrawConfig, eps: Noise): DrawSample {
  const fw: Record<string, Float32Array> = {};
  for (const spec of generativeSpecs(config)) fw[spec.name] = peek32(weights[spec.name]);
  const canvas = runner.generate(fw, eps);
  return sampleOf(() => tf.tensor2d(canvas, [runner.batch, imageSize(config)]), config);
}

/** A DrawSample from an engine's final canvases (logits [n, D], made inside the tidy): c_T and σ(c_T). */
function sampleOf(canvas: () => tf.Tensor2D, config: DrawConfig): DrawSample {
  return tf.tidy(() => {
    const logits = toImages(canvas(), config);
    return { logits, means: tf.sigmoid(logits) as tf.Tensor4D } as unknown as tf.TensorContainer;
  }) as unknown as DrawSample;
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
  const runner = options.trace ? undefined : (options.engine ?? TFJS_ENGINE).draw(config, n, { training: false });
  if (runner instanceof WebGpuDraw) {
    const buffers = paramSpecs(config).map((s) => weights[s.name] ? bufferOf(weights[s.name]) : undefined);
    const noise = bufferOf(eps);
    flushTfjs();
    const canvas = runner.generate(buffers, noise);
    return sampleOf(() => tensorFrom(canvas, [n, imageSize(config)]) as tf.Tensor2D, config);
  }
  if (runner) return fusedGenerate(runner, weights, config, peek32(eps));
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
   * The fused engine's forward-only runner for `n` images, which draws a pass's noise itself from
   * drawNoise's seed; undefined on other engines.
   */
  private fusedRunner(n: number): FusedRunner | undefined {
    const runner = this.engine.draw(this.config, n, { training: false });
    return runner instanceof WebGpuDraw ? undefined : runner;
  }

  /** Eqs 1–12 on images `x` [batch, H, W, C] with noise drawn from `rng`. */
  loss(x: tf.Tensor4D, rng: Rng, options: TraceOptions = {}): DrawLoss {
    const runner = options.inference && !options.trace ? this.fusedRunner(x.shape[0]) : undefined;
    if (runner) { // drawNoise's values, drawn by the engine's threads
      checkWeights(this.weights, this.config);
      checkImages(x, this.config);
      return fusedLoss(runner, this.weights, this.config, x, noiseSeed(rng), options);
    }
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
    const runner = this.engine.draw(this.config, n, { training: true });
    if (!runner) return undefined;
    if (!(runner instanceof WebGpuDraw)) {
      return fusedStep(runner, this.weights, this.config, batch.x, noiseSeed(rng)); // drawNoise's values
    }
    const eps = drawNoise(this.config, n, rng);
    try {
      return webgpuStep(runner, this.weights, this.config, batch.x, eps);
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
    const runner = options.trace ? undefined : this.fusedRunner(n);
    if (runner) { // drawNoise's values, drawn by the engine's threads
      checkGenerative(this.weights, this.config);
      return fusedGenerate(runner, this.weights, this.config, noiseSeed(rng));
    }
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
