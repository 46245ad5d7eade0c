/**
 * DRAW's tensors as every engine and the model see them: the weights by name, the loss and the sample a pass gives,
 * images in the internal (row, channel, column) order and back, and the checks of weights, images and noise. Below
 * both the model (src/draw.ts) and the engines (src/engine/), so that neither imports the other's.
 *
 * @module
 */
import * as tf from "./tf.ts";
import type { DrawConfig } from "./config.ts";
import { type ParamSpec, paramSpecs } from "./params.ts";

/** The weights of a DRAW network, by parameter name. */
export type DrawWeights = Record<string, tf.Tensor>;

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

export function checkImages(x: tf.Tensor, config: DrawConfig): void {
  const want = [config.height, config.width, config.channels];
  if (x.rank !== 4 || x.shape.slice(1).join() !== want.join()) {
    throw new TypeError(
      `Cannot run DRAW as images must be [batch, ${want}]: current shape is [${x.shape}]`,
    );
  }
}

export function checkNoise(eps: tf.Tensor, config: DrawConfig, batch: number): void {
  const want = [config.T, batch, config.z];
  if (eps.rank !== 3 || eps.shape.join() !== want.join()) {
    throw new TypeError(
      `Cannot run DRAW as noise must be [T, batch, z] = [${want}]: current shape is [${eps.shape}]`,
    );
  }
}

export function checkWeights(weights: DrawWeights, config: DrawConfig): void {
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
export function generativeSpecs(config: DrawConfig): ParamSpec[] {
  return paramSpecs(config).filter((s) => !ENCODER_ONLY.some((prefix) => s.name.startsWith(prefix)));
}

/** Throws unless every weight generation reads is present with its shape. */
export function checkGenerative(weights: DrawWeights, config: DrawConfig): void {
  for (const spec of generativeSpecs(config)) {
    const w = weights[spec.name];
    if (!w || w.shape.join() !== spec.shape.join()) {
      throw new TypeError(`Cannot generate as weight ${spec.name} must be [${spec.shape}]`);
    }
  }
}

/** A DrawSample from an engine's final canvases (logits [n, D], made inside the tidy): c_T and σ(c_T). */
export function sampleOf(canvas: () => tf.Tensor2D, config: DrawConfig): DrawSample {
  return tf.tidy(() => {
    const logits = toImages(canvas(), config);
    return { logits, means: tf.sigmoid(logits) as tf.Tensor4D } as unknown as tf.TensorContainer;
  }) as unknown as DrawSample;
}
