import { batchTensor, type Dataset, imageBytes } from "../src/data/dataset.ts";
import { CLUTTER_100, CLUTTER_60, makeCluttered } from "../src/data/cluttered.ts";
import { Rng } from "../src/random.ts";
import { deepEqual, equal, ok, throws } from "./_assert.ts";

/** `n` binary 28×28 "digits" (scale 1), each a different random pattern, labelled 0..n−1. */
function digits(n: number): Dataset {
  const rng = new Rng(9);
  const images = Uint8Array.from({ length: n * 784 }, () => rng.uniform() < 0.2 ? 1 : 0);
  return {
    name: "digits",
    count: n,
    height: 28,
    width: 28,
    channels: 1,
    scale: 1,
    images,
    labels: Uint8Array.from({ length: n }, (_, i) => i),
  };
}

/** Solid 28×28 digits of value 1, so sums count pixels exactly (no clipping below 255). */
const ones: Dataset = {
  name: "ones",
  count: 5,
  height: 28,
  width: 28,
  channels: 1,
  scale: 1 / 255,
  images: new Uint8Array(5 * 784).fill(1),
  labels: Uint8Array.of(3, 1, 4, 1, 5),
};

Deno.test("makeCluttered() holds one whole digit and the stated clutter per image, labels preserved", () => {
  for (const o of [CLUTTER_100, CLUTTER_60]) {
    const ds = makeCluttered(ones, 40, 9, o);
    deepEqual([ds.count, ds.height, ds.width, ds.channels], [40, o.size, o.size, 1]);
    for (let n = 0; n < ds.count; n++) {
      const img = ds.images.subarray(n * o.size * o.size, (n + 1) * o.size * o.size);
      const total = img.reduce((s, v) => s + v, 0);
      equal(total, 784 + o.pieces * o.pieceSize * o.pieceSize, `image ${n}: one digit plus ${o.pieces} pieces`);
      equal(ds.labels![n], ones.labels![n % ones.count]);
    }
  }
});

Deno.test("makeCluttered() clips at 1, is deterministic by seed, and refuses unlabelled sources", () => {
  const bright: Dataset = { ...ones, images: new Uint8Array(5 * 784).fill(200) };
  const ds = makeCluttered(bright, 30, 2);
  ok(ds.images.every((v) => v <= 255));
  ok(ds.images.some((v) => v === 255), "overlaps clip at 1");
  deepEqual(makeCluttered(bright, 30, 2).images, ds.images);
  ok(makeCluttered(bright, 30, 3).images.some((v, k) => v !== ds.images[k]));
  throws(() => makeCluttered({ ...ones, labels: undefined }, 3, 1), /has no labels/);
});

Deno.test("makeCluttered({ fresh }) draws each training image afresh: new clutter per draw, same digit, fixed by seed", async () => {
  const src = digits(6);
  const ds = makeCluttered(src, 6, 1, CLUTTER_60, { fresh: true });
  ok(ds.draw, "a fresh data set draws");
  equal(makeCluttered(src, 6, 1, CLUTTER_60).draw, undefined, "a fixed one does not");
  const a = ds.draw!(2, new Rng(5)), b = ds.draw!(2, new Rng(6)), again = ds.draw!(2, new Rng(5));
  ok(a.some((v, i) => v !== b[i]), "another generator, another image");
  deepEqual(Array.from(again), Array.from(a), "the same generator, the same image (so --resume repeats it)");
  const ink = (img: Uint8Array) => img.reduce((s, v) => s + v, 0);
  ok(ink(a) >= ink(imageBytes(src, 2)), "the whole digit is in it");
  ok(a.every((v) => v <= 1), "clipped at 1");
  // batches: with a generator they draw; without (validation, pictures) they read the fixed images
  const fixed = await batchTensor(ds, [2]).data();
  deepEqual(Array.from(fixed), Array.from(imageBytes(ds, 2)));
  const drawn = await batchTensor(ds, [2], new Rng(5)).data();
  deepEqual(Array.from(drawn), Array.from(a));
});
