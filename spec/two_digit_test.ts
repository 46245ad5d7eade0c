import type { Dataset } from "../src/data/dataset.ts";
import { batchTensor } from "../src/data/dataset.ts";
import { makeTwoDigit } from "../src/data/two_digit.ts";
import { Rng } from "../src/random.ts";
import { deepEqual, equal, ok } from "./_assert.ts";

/** Solid 28×28 squares of value 200 (so overlap shows as clipping at 255). */
const squares: Dataset = {
  name: "squares",
  count: 3,
  height: 28,
  width: 28,
  channels: 1,
  scale: 1 / 255,
  images: new Uint8Array(3 * 784).fill(200),
  labels: Uint8Array.of(1, 2, 3),
};

Deno.test("makeTwoDigit() places two digits on 60×60, adds them and clips at 1, deterministically by seed", () => {
  const ds = makeTwoDigit(squares, 200, 5);
  deepEqual([ds.count, ds.height, ds.width, ds.channels], [200, 60, 60, 1]);
  let overlapSeen = false;
  for (let n = 0; n < ds.count; n++) {
    const img = ds.images.subarray(n * 3600, (n + 1) * 3600);
    const ink = img.filter((v) => v > 0).length;
    const clipped = img.filter((v) => v === 255).length;
    ok(ink >= 784 && ink <= 2 * 784, `image ${n} has ${ink} inked pixels`);
    ok(img.every((v) => v === 0 || v === 200 || v === 255), "values are 0, one digit (200) or two clipped (255)");
    equal(ink + clipped, 2 * 784, "every digit pixel is counted once, overlaps twice");
    overlapSeen ||= clipped > 0;
    ok(ds.labels![n] >= 11 && ds.labels![n] <= 33);
  }
  ok(overlapSeen, "some pairs overlap");
  deepEqual(makeTwoDigit(squares, 20, 5).images, ds.images.subarray(0, 20 * 3600));
  ok(makeTwoDigit(squares, 20, 6).images.some((v, k) => v !== ds.images[k]));
});

Deno.test("makeTwoDigit(…, { fresh }) draws every training image afresh from the batch's generator; the fixed images stay", () => {
  const fixed = makeTwoDigit(squares, 20, 5), fresh = makeTwoDigit(squares, 20, 5, 60, { fresh: true });
  equal(fixed.draw, undefined, "validation and test splits are fixed");
  deepEqual(fresh.images, fixed.images, "the stored images (validation, test, pictures) are those of the seed");
  const seen = new Set<string>();
  for (let k = 0; k < 30; k++) {
    const img = fresh.draw!(0, new Rng(100 + k));
    deepEqual(img, fresh.draw!(0, new Rng(100 + k)), "the same generator gives the same image");
    const clipped = img.filter((v) => v === 255).length;
    equal(img.filter((v) => v > 0).length + clipped, 2 * 784, "two digits, added and clipped at 1");
    seen.add(img.join());
  }
  equal(seen.size, 30, "a new composite each time, whatever the index");
  // batches cut with a generator (training) are drawn afresh; without one (validation), the stored image
  const noisy = batchTensor(fresh, [3], new Rng(9)).dataSync(), plain = batchTensor(fresh, [3]).dataSync();
  deepEqual(
    Array.from(plain),
    Array.from(fixed.images.subarray(3 * 3600, 4 * 3600), (v) => Math.fround(v * fixed.scale)),
  );
  ok(noisy.some((v, k) => v !== plain[k]), "training sees a new image 3");
});
