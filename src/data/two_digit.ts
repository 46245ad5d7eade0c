/**
 * Two-digit MNIST (Section 4.3): 60×60 images holding two 28×28 MNIST digits at uniformly random
 * positions, their intensities added and clipped at 1. Seeded and deterministic.
 *
 * @module
 */
import type { Dataset } from "./dataset.ts";
import { imageBytes } from "./dataset.ts";
import { Rng } from "../random.ts";

/**
 * Makes `count` two-digit images from the digits of `source` (single-channel, 8-bit), each digit
 * chosen uniformly at random; labels are the first digit's label times 10 plus the second's. With
 * `fresh`, training draws every image afresh (see {@link Dataset.draw}): two digits chosen at random
 * at random places from the batch's generator, as Section 4.3 describes the data, so that no
 * composite is seen twice; validation, test and pictures use the fixed `images`.
 */
export function makeTwoDigit(
  source: Dataset,
  count: number,
  seed: number,
  size = 60,
  { fresh = false }: { fresh?: boolean } = {},
): Dataset {
  const { height: h, width: w } = source;
  if (source.channels !== 1) {
    throw new TypeError(`Cannot make two-digit images from ${source.name}: it has ${source.channels} channels, not 1`);
  }
  if (size < Math.max(h, w)) throw new RangeError(`Cannot place ${h}×${w} digits on a ${size}×${size} canvas`);
  const rng = new Rng(seed);
  const images = new Uint8Array(count * size * size);
  const labels = new Uint8Array(count);
  const full = Math.round(1 / source.scale); // the byte value of intensity 1
  /** Two digits from `r` on `canvas`, added and clipped at 1; their picks. */
  const place = (canvas: Uint8Array, r: Rng): number[] => {
    const picks = [r.int(source.count), r.int(source.count)];
    for (const pick of picks) {
      const digit = imageBytes(source, pick);
      const y0 = r.int(size - h + 1), x0 = r.int(size - w + 1);
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const at = (y0 + y) * size + x0 + x;
          canvas[at] = Math.min(full, canvas[at] + digit[y * w + x]); // add, clip at 1
        }
      }
    }
    return picks;
  };
  for (let n = 0; n < count; n++) {
    const picks = place(images.subarray(n * size * size, (n + 1) * size * size), rng);
    if (source.labels) labels[n] = source.labels[picks[0]] * 10 + source.labels[picks[1]];
  }
  const draw = (_index: number, r: Rng) => {
    const canvas = new Uint8Array(size * size);
    place(canvas, r);
    return canvas;
  };
  return {
    ...(fresh ? { draw } : {}),
    name: `two-digit MNIST (${count} from ${source.name}${fresh ? ", drawn afresh in training" : ""})`,
    count,
    height: size,
    width: size,
    channels: 1,
    scale: source.scale,
    images,
    labels: source.labels ? labels : undefined,
  };
}
