/**
 * The parameters of a DRAW network: names, shapes and initial values (docs/checkpoint.md gives
 * the layout). Free of tfjs, so that worker threads can use it.
 *
 * @module
 */
import {
  checkParameters,
  type ClassifierConfig,
  type DrawConfig,
  imageSize,
  validateClassifierConfig,
  validateConfig,
} from "./config.ts";
import type { Rng } from "./random.ts";

/** One named parameter tensor: its shape, and how {@link initWeights} fills it. */
export interface ParamSpec {
  /** The parameter's name, as stored in checkpoints. */
  name: string;
  /** Its shape; kernels are [in, out]. */
  shape: number[];
  /** "kernel": U(±1/√fan-in); "zeros"; "lstm-bias": zeros with forget-gate biases at 1; "values": `values`. */
  init: "kernel" | "zeros" | "lstm-bias" | "values";
  /** The initial values, for init "values". */
  values?: number[];
}

/** Length of the encoder's read vector r_t (Eq 17 or Eq 27). */
export function readSize(config: DrawConfig): number {
  return config.readN > 0 ? 2 * config.readN * config.readN * config.channels : 2 * imageSize(config);
}

/** Length of the write output: an N×N×C patch (Eq 28) or a whole image (Eq 18). */
export function writeSize(config: DrawConfig): number {
  return config.writeN > 0 ? config.writeN * config.writeN * config.channels : imageSize(config);
}

/**
 * Every parameter of a DRAW network, in checkpoint order (docs/checkpoint.md gives the layout).
 *
 * @example
 * ```ts
 * import { MNIST } from "./config.ts";
 * import { paramSpecs } from "./params.ts";
 * console.log(paramSpecs(MNIST).map((p) => p.name));
 * ```
 */
export function paramSpecs(config: DrawConfig): ParamSpec[] {
  validateConfig(config);
  const { hidden: H, z } = config;
  const specs: ParamSpec[] = [
    { name: "canvas0", shape: [imageSize(config)], init: "zeros" },
    { name: "encoder.h0", shape: [H], init: "zeros" },
    { name: "decoder.h0", shape: [H], init: "zeros" },
    { name: "encoder.kernel", shape: [readSize(config) + 2 * H, 4 * H], init: "kernel" },
    { name: "encoder.bias", shape: [4 * H], init: "lstm-bias" },
    { name: "posterior.kernel", shape: [H, 2 * z], init: "kernel" },
    { name: "posterior.bias", shape: [2 * z], init: "zeros" },
    { name: "decoder.kernel", shape: [z + H, 4 * H], init: "kernel" },
    { name: "decoder.bias", shape: [4 * H], init: "lstm-bias" },
  ];
  if (config.readN > 0) {
    specs.push(
      { name: "read.kernel", shape: [H, 5], init: "kernel" },
      { name: "read.bias", shape: [5], init: "zeros" },
    );
  }
  if (config.writeN > 0) {
    specs.push(
      { name: "write.window.kernel", shape: [H, 5], init: "kernel" },
      { name: "write.window.bias", shape: [5], init: "zeros" },
    );
  }
  specs.push(
    { name: "write.kernel", shape: [H, writeSize(config)], init: "kernel" },
    { name: "write.bias", shape: [writeSize(config)], init: "zeros" },
  );
  return checkedCount(specs);
}

/** `specs`, after refusing a model too large to allocate ({@link checkParameters}). */
function checkedCount(specs: ParamSpec[]): ParamSpec[] {
  checkParameters(specs.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0));
  return specs;
}

/** Fills one parameter as its spec says, from a seeded stream. */
export function initValues(spec: ParamSpec, rng: Rng): Float32Array {
  const size = spec.shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(size);
  if (spec.init === "kernel") {
    const bound = 1 / Math.sqrt(spec.shape[0]);
    for (let k = 0; k < size; k++) out[k] = (2 * rng.uniform() - 1) * bound;
  } else if (spec.init === "values") {
    out.set(spec.values ?? []);
  } else if (spec.init === "lstm-bias") {
    const H = size / 4;
    out.fill(1, H, 2 * H); // forget gates start open (gate order i, f, o, g)
  }
  return out;
}

/** Every parameter of the classifier, in checkpoint order. */
export function classifierSpecs(config: ClassifierConfig): ParamSpec[] {
  validateClassifierConfig(config);
  const { hidden: H, readN: N, channels: C } = config;
  // The first window covers the image (Eqs 22–24 at 0); its σ starts at half the stride, so the
  // first glimpse is a smooth low-resolution view of the whole image rather than N×N isolated
  // points σ = 1 pixel wide. (The paper does not say how it initialised σ.)
  const stride = (Math.max(config.width, config.height) - 1) / (N - 1);
  return checkedCount([
    { name: "h0", shape: [H], init: "zeros" },
    { name: "lstm.kernel", shape: [N * N * C + H, 4 * H], init: "kernel" },
    { name: "lstm.bias", shape: [4 * H], init: "lstm-bias" },
    { name: "read.kernel", shape: [H, 5], init: "kernel" },
    { name: "read.bias", shape: [5], init: "values", values: [0, 0, Math.log((stride / 2) ** 2), 0, 0] },
    { name: "out.kernel", shape: [H, config.classes], init: "kernel" },
    { name: "out.bias", shape: [config.classes], init: "zeros" },
  ]);
}
