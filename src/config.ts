/**
 * Model configurations: the rows of the paper's Table 3 as typed presets.
 *
 * Image geometry follows the paper: an image is A pixels wide and B pixels high
 * (Eqs 22–26), with `channels` colour planes that share one set of filters.
 *
 * @module
 */

/** Hyper-parameters of one DRAW network. */
export interface DrawConfig {
  /** Image width A in pixels (Eq 22). */
  readonly width: number;
  /** Image height B in pixels (Eq 23). */
  readonly height: number;
  /** Colour channels: 1 for MNIST, 3 for SVHN and CIFAR-10. */
  readonly channels: number;
  /** Number of glimpses T (Eqs 3–8). */
  readonly T: number;
  /** LSTM size of both the encoder and the decoder (Table 3, "LSTM #h"). */
  readonly hidden: number;
  /** Latent size |z| per step (Table 3, "#z"). */
  readonly z: number;
  /** Read patch size N (Eq 27); 0 reads the whole image (Eq 17, "DRAW without attention"). */
  readonly readN: number;
  /** Write patch size N (Eq 29); 0 writes the whole canvas (Eq 18). */
  readonly writeN: number;
}

/** Hyper-parameters of the "Differentiable RAM" classifier of Section 4.1 (Table 3, first row). */
export interface ClassifierConfig {
  /** Image width in pixels. */
  readonly width: number;
  /** Image height in pixels. */
  readonly height: number;
  /** Colour channels. */
  readonly channels: number;
  /** Number of glimpses before the softmax layer classifies. */
  readonly glimpses: number;
  /** LSTM size. */
  readonly hidden: number;
  /** Read patch size N (image only, no error image). */
  readonly readN: number;
  /** Number of classes. */
  readonly classes: number;
}

/** Table 3, "MNIST Model": T=64, LSTM 256, z 100, read 2×2, write 5×5 on 28×28. */
export const MNIST: DrawConfig = Object.freeze({
  width: 28,
  height: 28,
  channels: 1,
  T: 64,
  hidden: 256,
  z: 100,
  readN: 2,
  writeN: 5,
});

/** Table 2, "DRAW without attention": the MNIST model with Eqs 17–18 for read and write. */
export const MNIST_NO_ATTENTION: DrawConfig = Object.freeze({
  ...MNIST,
  readN: 0,
  writeN: 0,
});

/** Table 3, "SVHN Model": T=32, LSTM 800, z 100, read and write 12×12 on 54×54×3 crops. */
export const SVHN: DrawConfig = Object.freeze({
  width: 54,
  height: 54,
  channels: 3,
  T: 32,
  hidden: 800,
  z: 100,
  readN: 12,
  writeN: 12,
});

/** Table 3, "CIFAR Model": T=64, LSTM 400, z 200, read and write 5×5 on 32×32×3. */
export const CIFAR: DrawConfig = Object.freeze({
  width: 32,
  height: 32,
  channels: 3,
  T: 64,
  hidden: 400,
  z: 200,
  readN: 5,
  writeN: 5,
});

/** A tiny model for tests: every code path of the MNIST model at a few hundred parameters' cost. */
export const TINY: DrawConfig = Object.freeze({
  width: 6,
  height: 5,
  channels: 1,
  T: 3,
  hidden: 4,
  z: 2,
  readN: 2,
  writeN: 3,
});

/** Table 3, "100×100 MNIST Classification": 8 glimpses, LSTM 256, read 12×12. */
export const CLUTTERED: ClassifierConfig = Object.freeze({
  width: 100,
  height: 100,
  channels: 1,
  glimpses: 8,
  hidden: 256,
  readN: 12,
  classes: 10,
});

/** A tiny classifier for tests. */
export const TINY_CLASSIFIER: ClassifierConfig = Object.freeze({
  width: 60,
  height: 60,
  channels: 1,
  glimpses: 2,
  hidden: 8,
  readN: 3,
  classes: 10,
});

/** Classifier presets by the name the CLI takes (image size always comes from the data). */
export const CLASSIFIER_PRESETS: Readonly<Record<string, ClassifierConfig>> = Object.freeze({
  cluttered: CLUTTERED,
  tiny: TINY_CLASSIFIER,
});

/** Generative presets by the name the CLI takes. */
export const PRESETS: Readonly<Record<string, DrawConfig>> = Object.freeze({
  mnist: MNIST,
  "mnist-no-attention": MNIST_NO_ATTENTION,
  svhn: SVHN,
  cifar: CIFAR,
  tiny: TINY,
});

/**
 * The largest value of each size in a configuration, from a flag or from a file: checked before any memory is
 * taken, so that a size in the billions is a one-line error and not an allocation that fills the machine. Each
 * is well above what the paper uses (T 64, LSTM 800, z 100, 100×100 images, 12×12 glimpses).
 */
export const LIMITS = Object.freeze({
  /** Image width and height. */
  side: 1024,
  /** Colour planes. */
  channels: 4,
  /** DRAW's steps, or the classifier's glimpses. */
  T: 1000,
  /** LSTM width. */
  hidden: 4096,
  /** Latent width. */
  z: 1024,
  /** Attention grid side N (read, write, glimpse). */
  N: 256,
  /** Classes. */
  classes: 1000,
  /** Weights in all (4 bytes each): 100M, 400 MB. */
  parameters: 100_000_000,
});

function checkInt(what: string, value: unknown, min: number, max = Infinity): void {
  if (typeof value !== "number" || !Number.isInteger(value)) {
    throw new TypeError(
      `Cannot use config as ${what} must be an integer: current value is ${String(value)}`,
    );
  }
  if (value < min) {
    throw new RangeError(
      `Cannot use config as ${what} must be >= ${min}: current value is ${value}`,
    );
  }
  if (value > max) {
    throw new RangeError(`Cannot use config as ${what} must be <= ${max}: current value is ${value}`);
  }
}

/** The most memory one pass (forward and backward, its T steps kept) may take: 8 GiB. */
export const MAX_PASS_BYTES = 8 * 2 ** 30;

/**
 * About the bytes a pass of `batch` images keeps for its backward pass: per image and step, the LSTMs' gates and
 * states (about 12 × hidden), the latent's mean, log σ, noise and sample (4 × z), the canvas, its sigmoid and the
 * error image, and the glimpse (float32). An estimate to refuse absurd sizes with, within a factor of two of the
 * engines' arenas (the WebGPU engine's is 156 MiB at MNIST's batch 100, where this says 150 MB).
 */
export function passBytes(config: DrawConfig | ClassifierConfig, batch: number): number {
  const image = config.width * config.height * config.channels;
  const perStep = "T" in config
    ? 12 * config.hidden + 4 * config.z + 3 * image + 2 * (config.readN ? config.readN ** 2 * config.channels : image)
    : 12 * config.hidden + config.readN ** 2 * config.channels;
  const steps = "T" in config ? config.T : config.glimpses;
  return 4 * batch * steps * perStep + 4 * batch * image;
}

/**
 * Refuses a pass of `batch` images that would take more than {@link MAX_PASS_BYTES}, naming `flag` (the option that
 * sets the batch), before any memory is taken.
 */
export function checkPass(config: DrawConfig | ClassifierConfig, batch: number, flag: string): void {
  const bytes = passBytes(config, batch);
  if (bytes > MAX_PASS_BYTES) {
    const fits = Math.max(1, Math.floor(batch * MAX_PASS_BYTES / bytes));
    throw new RangeError(
      `Cannot run ${batch} images at once with this model: a pass would take about ${
        (bytes / 2 ** 30).toFixed(1)
      } GiB, more than the ${MAX_PASS_BYTES / 2 ** 30} GiB allowed; give ${flag} ${fits} or less`,
    );
  }
}

/**
 * Checks a configuration's image geometry and hidden width, then each of `more` ([field, min, max]): integers within
 * their bounds ({@link LIMITS}), or a TypeError or RangeError that names the field.
 */
function checkSizes<C extends object>(config: C, more: [keyof C & string, number, number][]): void {
  const c = config as Record<string, unknown>;
  const all: [string, number, number][] = [
    ["width", 1, LIMITS.side],
    ["height", 1, LIMITS.side],
    ["channels", 1, LIMITS.channels],
    ["hidden", 1, LIMITS.hidden],
    ...more,
  ];
  for (const [key, min, max] of all) checkInt(key, c[key], min, max);
}

/** Refuses a model of more than {@link LIMITS}.parameters weights, before they are allocated. */
export function checkParameters(count: number): void {
  if (count > LIMITS.parameters) {
    throw new RangeError(
      `Cannot build a model of ${count.toLocaleString("en")} weights: at most ${
        LIMITS.parameters.toLocaleString("en")
      } (smaller images, LSTM or latent, or attention)`,
    );
  }
}

/**
 * Checks a configuration and returns it unchanged.
 *
 * @example
 * ```ts
 * import { MNIST, validateConfig } from "./config.ts";
 * validateConfig({ ...MNIST, T: 10 });
 * ```
 */
export function validateConfig(config: DrawConfig): DrawConfig {
  checkSizes(config, [["T", 1, LIMITS.T], ["z", 1, LIMITS.z], ["readN", 0, LIMITS.N], ["writeN", 0, LIMITS.N]]);
  for (const key of ["readN", "writeN"] as const) {
    if (config[key] === 1) {
      throw new RangeError(
        `Cannot build filterbank as ${key} must be 0 (no attention) or >= 2 (Eq 24 divides by N - 1): current value is 1`,
      );
    }
  }
  return config;
}

/** Checks a classifier configuration and returns it unchanged. */
export function validateClassifierConfig(config: ClassifierConfig): ClassifierConfig {
  checkSizes(config, [["glimpses", 1, LIMITS.T], ["readN", 2, LIMITS.N], ["classes", 2, LIMITS.classes]]);
  return config;
}

/** What a training run asks for: a preset (or the data set's default) and per-field overrides. */
export interface ConfigRequest {
  /** A classifier (Section 4.1) rather than DRAW. */
  classify: boolean;
  /** The preset asked for (`--preset`); when absent, `dataDefault`, else mnist (cluttered to classify). */
  preset?: string;
  /** The data set's own preset (see data/registry.ts). */
  dataDefault?: string;
  /** Read and write whole images (Eqs 17–18): the mnist-no-attention preset when none is named. */
  noAttention?: boolean;
  /** Per-field overrides (`--T`, `--hidden`, …), already parsed as numbers. */
  overrides?: Partial<Record<"T" | "hidden" | "z" | "readN" | "writeN" | "glimpses", number>>;
  /**
   * A trained model's configuration (of this kind) to start from in place of the preset when no preset is named
   * (`--init-from`): the data's image size and the overrides still apply on top.
   */
  base?: DrawConfig | ClassifierConfig;
}

/**
 * The preset a request names, checked: a RangeError that lists the presets when it names none.
 *
 * @example
 * ```ts
 * import { presetName } from "./config.ts";
 * presetName({ classify: false, noAttention: true }); // "mnist-no-attention"
 * ```
 */
export function presetName(r: ConfigRequest): string {
  const presets: Record<string, unknown> = r.classify ? CLASSIFIER_PRESETS : PRESETS;
  const name = r.preset ?? (r.classify ? "cluttered" : r.noAttention ? "mnist-no-attention" : r.dataDefault ?? "mnist");
  if (!Object.hasOwn(presets, name)) { // among the presets' own keys: not "constructor" or "toString"
    throw new RangeError(
      `unknown ${r.classify ? "classifier " : ""}preset "${name}": choose one of ${Object.keys(presets).join(", ")}`,
    );
  }
  return name;
}

/**
 * The checked configuration a request resolves to on images of the given geometry: the preset (or the
 * request's `base` model when it names no preset), the image size of the data, then the overrides.
 *
 * @example
 * ```ts
 * import { resolveConfig } from "./config.ts";
 * resolveConfig({ classify: false, overrides: { T: 8 } }, { width: 28, height: 28, channels: 1 });
 * ```
 */
export function resolveConfig(
  r: ConfigRequest,
  geometry: { width: number; height: number; channels: number },
): DrawConfig | ClassifierConfig {
  const name = presetName(r), o = r.overrides ?? {};
  const { width, height, channels } = geometry; // only these (a Dataset may be passed as the geometry)
  geometry = { width, height, channels };
  const base = r.preset ? undefined : r.base; // a named preset wins over the base model
  if (r.classify) {
    const p = base ? base as ClassifierConfig : CLASSIFIER_PRESETS[name];
    return validateClassifierConfig({
      ...p,
      ...geometry,
      glimpses: o.glimpses ?? p.glimpses,
      hidden: o.hidden ?? p.hidden,
      readN: o.readN ?? p.readN,
    });
  }
  const from = base ? base as DrawConfig : PRESETS[name];
  const p: DrawConfig = { ...from, ...geometry, ...(r.noAttention ? { readN: 0, writeN: 0 } : {}) };
  return validateConfig({
    ...p,
    T: o.T ?? p.T,
    hidden: o.hidden ?? p.hidden,
    z: o.z ?? p.z,
    readN: o.readN ?? p.readN,
    writeN: o.writeN ?? p.writeN,
  });
}

/** Number of values in one image: height × width × channels. */
export function imageSize(config: DrawConfig): number {
  return config.height * config.width * config.channels;
}
