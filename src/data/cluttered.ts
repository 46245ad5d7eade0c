/**
 * Cluttered translated MNIST (Mnih et al. 2014), the task of the paper's Section 4.1: each image
 * holds one MNIST digit at a uniformly random position plus clutter, random 8×8 crops of other
 * digits at random positions, intensities added and clipped to [0, 1]. Seeded and deterministic.
 *
 * @module
 */
import type { Dataset } from "./dataset.ts";
import { imageBytes } from "./dataset.ts";
import { Rng } from "../random.ts";

/** Generator settings: 100×100 with 8 pieces for the paper's task; 60×60 with 4 for quick runs. */
export interface ClutterOptions {
  /** Side of the square image, pixels. */
  size: number;
  /** Pieces of clutter per image. */
  pieces: number;
  /** Side of each square piece, pixels. */
  pieceSize: number;
}

/** The paper's task (Table 1). */
export const CLUTTER_100: ClutterOptions = { size: 100, pieces: 8, pieceSize: 8 };
/** The smaller variant for quick runs. */
export const CLUTTER_60: ClutterOptions = { size: 60, pieces: 4, pieceSize: 8 };

/** Checks that `source` can be cluttered as `o` asks: single-channel, labelled, digits that fit. */
function checkSource(source: Dataset, o: ClutterOptions): void {
  const { height: h, width: w } = source;
  if (!source.labels) throw new TypeError(`Cannot make cluttered images from ${source.name}: it has no labels`);
  if (source.channels !== 1) {
    throw new TypeError(`Cannot make cluttered images from ${source.name}: it has ${source.channels} channels`);
  }
  if (o.size < Math.max(h, w) || o.pieceSize > Math.min(h, w)) {
    throw new RangeError(`Cannot place ${h}×${w} digits on ${o.size}×${o.size}`);
  }
}

/**
 * Draws digit `d` of `source` at a random place on `canvas` (size × size, zeros) among `o.pieces`
 * random 8×8 pieces of other digits, intensities added and clipped.
 */
function clutter(canvas: Uint8Array, source: Dataset, d: number, rng: Rng, o: ClutterOptions): void {
  const { height: h, width: w } = source, { size, pieceSize: p } = o;
  const full = Math.round(1 / source.scale);
  const add = (at: number, v: number) => (canvas[at] = Math.min(full, canvas[at] + v));
  for (let k = 0; k < o.pieces; k++) {
    let e = rng.int(source.count);
    if (e === d && source.count > 1) e = (e + 1) % source.count; // clutter comes from other digits
    const other = imageBytes(source, e);
    const cy = rng.int(h - p + 1), cx = rng.int(w - p + 1);
    const y0 = rng.int(size - p + 1), x0 = rng.int(size - p + 1);
    for (let y = 0; y < p; y++) for (let x = 0; x < p; x++) add((y0 + y) * size + x0 + x, other[(cy + y) * w + cx + x]);
  }
  const digit = imageBytes(source, d);
  const y0 = rng.int(size - h + 1), x0 = rng.int(size - w + 1);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) add((y0 + y) * size + x0 + x, digit[y * w + x]);
}

/**
 * Makes `count` cluttered images from `source` (single-channel MNIST with labels): image n holds
 * digit n mod count of the source (so every digit is used), its label preserved. With `fresh`,
 * the data set also draws each image afresh for training (see {@link Dataset.draw}): the same
 * digit and label, at a new place among new clutter from the batch's generator.
 */
export function makeCluttered(
  source: Dataset,
  count: number,
  seed: number,
  o: ClutterOptions = CLUTTER_100,
  { fresh = false }: { fresh?: boolean } = {},
): Dataset {
  checkSource(source, o);
  const rng = new Rng(seed), size = o.size;
  const images = new Uint8Array(count * size * size);
  const labels = new Uint8Array(count);
  for (let n = 0; n < count; n++) {
    labels[n] = source.labels![n % source.count];
    clutter(images.subarray(n * size * size, (n + 1) * size * size), source, n % source.count, rng, o);
  }
  const draw = (index: number, r: Rng) => {
    const canvas = new Uint8Array(size * size);
    clutter(canvas, source, index % source.count, r, o);
    return canvas;
  };
  return {
    name: `cluttered MNIST ${size}×${size} (${count} from ${source.name}${fresh ? ", drawn afresh in training" : ""})`,
    count,
    height: size,
    width: size,
    channels: 1,
    scale: source.scale,
    images,
    labels,
    ...(fresh ? { draw } : {}),
  };
}
