/**
 * An in-memory image dataset: bytes plus a scale, so binary MNIST and 8-bit colour images share
 * one form, and a batch is cut from it as a [batch, H, W, C] tensor.
 *
 * @module
 */
import * as tf from "../tf.ts";

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

/** The values of one image, length height × width × channels. */
export function imageBytes(ds: Dataset, index: number): Uint8Array {
  const size = ds.height * ds.width * ds.channels;
  return ds.images.subarray(index * size, (index + 1) * size);
}

/** Images `indices` of `ds` as a [batch, H, W, C] float tensor in [0, 1]. */
export function batchTensor(ds: Dataset, indices: ArrayLike<number>): tf.Tensor4D {
  const size = ds.height * ds.width * ds.channels;
  const out = new Float32Array(indices.length * size);
  for (let k = 0; k < indices.length; k++) {
    const src = imageBytes(ds, indices[k]);
    for (let p = 0; p < size; p++) out[k * size + p] = src[p] * ds.scale;
  }
  return tf.tensor4d(out, [indices.length, ds.height, ds.width, ds.channels]);
}

/** The first `n` images of `ds` (all of them if n ≥ count). */
export function head(ds: Dataset, n: number): Dataset {
  if (n >= ds.count) return ds;
  const size = ds.height * ds.width * ds.channels;
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
