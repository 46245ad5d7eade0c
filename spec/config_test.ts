import {
  CIFAR,
  CLUTTERED,
  MNIST,
  MNIST_NO_ATTENTION,
  PRESETS,
  resolveConfig,
  SVHN,
  TINY,
  validateConfig,
} from "../src/config.ts";
import { paramSpecs, readSize, writeSize } from "../src/draw.ts";
import { fillNoise, Rng } from "../src/random.ts";
import { deepEqual, equal, ok, throws } from "./_assert.ts";

Deno.test("presets hold the numbers of Table 3", () => {
  const row = (c: typeof MNIST) => [c.T, c.hidden, c.z, c.readN, c.writeN, c.width, c.height, c.channels];
  deepEqual(row(MNIST), [64, 256, 100, 2, 5, 28, 28, 1]);
  deepEqual(row(SVHN), [32, 800, 100, 12, 12, 54, 54, 3]);
  deepEqual(row(CIFAR), [64, 400, 200, 5, 5, 32, 32, 3]);
  deepEqual([CLUTTERED.glimpses, CLUTTERED.hidden, CLUTTERED.readN, CLUTTERED.width], [8, 256, 12, 100]);
  deepEqual([MNIST_NO_ATTENTION.readN, MNIST_NO_ATTENTION.writeN], [0, 0]);
  for (const [name, cfg] of Object.entries(PRESETS)) equal(validateConfig(cfg), cfg, name);
  ok(TINY.T < 5);
});

Deno.test("validateConfig() rejects N = 1 and non-integers with messages naming the field", () => {
  throws(() => validateConfig({ ...MNIST, readN: 1 }), /readN must be 0 \(no attention\) or >= 2/);
  throws(() => validateConfig({ ...MNIST, writeN: 1 }), RangeError);
  throws(() => validateConfig({ ...MNIST, T: 0 }), /T must be >= 1: current value is 0/);
  throws(() => validateConfig({ ...MNIST, hidden: 2.5 }), TypeError);
});

Deno.test("resolveConfig(): a base model stands in for the preset unless one is named; data size and flags apply on top", () => {
  const geometry = { width: 32, height: 32, channels: 3 };
  const base = { ...MNIST_NO_ATTENTION, T: 7 };
  deepEqual(resolveConfig({ classify: false, base, overrides: { z: 5 } }, geometry), { ...base, ...geometry, z: 5 });
  deepEqual(resolveConfig({ classify: false, base, preset: "tiny" }, geometry), { ...TINY, ...geometry });
  deepEqual(resolveConfig({ classify: false, overrides: { z: 5 } }, geometry), { ...MNIST, ...geometry, z: 5 });
  const classifier = { ...CLUTTERED, hidden: 16 };
  deepEqual(resolveConfig({ classify: true, base: classifier, overrides: { glimpses: 4 } }, CLUTTERED), {
    ...classifier,
    glimpses: 4,
  });
});

Deno.test("paramSpecs() sizes follow the read and write modes", () => {
  equal(readSize(MNIST), 2 * 2 * 2);
  equal(writeSize(MNIST), 25);
  equal(readSize(MNIST_NO_ATTENTION), 2 * 784);
  equal(writeSize(MNIST_NO_ATTENTION), 784);
  equal(readSize(SVHN), 2 * 12 * 12 * 3);
  const names = paramSpecs(MNIST_NO_ATTENTION).map((p) => p.name);
  ok(!names.includes("read.kernel") && !names.includes("write.window.kernel"));
  const enc = paramSpecs(MNIST).find((p) => p.name === "encoder.kernel")!;
  deepEqual(enc.shape, [8 + 2 * 256, 4 * 256]);
});

/**
 * Checks draws are standard normal: mean 0 and variance 1, and the shape, not just two moments: the
 * share within 1, 2 and 3 standard deviations, and the tail past the ziggurat's base strip (|z| >
 * 3.4426: 2·(1 − Φ(3.4426)) = 5.76e-4 of draws), each within about four standard errors.
 */
function checkStandardNormal(v: Float32Array): void {
  const n = v.length, mean = v.reduce((s, e) => s + e, 0) / n;
  const variance = v.reduce((s, e) => s + (e - mean) ** 2, 0) / n;
  ok(
    Math.abs(mean) < 4 / Math.sqrt(n) && Math.abs(variance - 1) < 6 / Math.sqrt(n),
    `mean ${mean}, variance ${variance}`,
  );
  for (const [k, share] of [[1, 0.682689], [2, 0.954500], [3, 0.997300], [3.442619855899, 0.999424]]) {
    const within = v.filter((e) => Math.abs(e) < k).length / n;
    ok(
      Math.abs(within - share) < 4 * Math.sqrt(share * (1 - share) / n) + 1e-5,
      `${within} of draws within ${k}σ, not ${share}`,
    );
  }
  ok(v.reduce((m, e) => Math.max(m, Math.abs(e)), 0) < 8, "no absurd draws");
}

Deno.test("Rng is deterministic by seed, uniform in [0, 1) and normal with mean 0, variance 1", () => {
  const a = new Rng(5), b = new Rng(5);
  for (let k = 0; k < 10; k++) equal(a.uniform(), b.uniform());
  const v = new Rng(1).fillNormal(new Float32Array(100_001));
  checkStandardNormal(v);
  ok(v[v.length - 1] !== 0, "the last, odd entry filled");
  const r = new Rng(2);
  for (let k = 0; k < 1000; k++) {
    const u = r.uniform();
    ok(u >= 0 && u < 1);
  }
  throws(() => new Rng(NaN), TypeError);
});

Deno.test("fillNoise (DRAW's noise by counter): standard normal, a function of (seed, index) alone", () => {
  const v = fillNoise(11, 0, new Float32Array(200_001));
  checkStandardNormal(v);
  // neighbours are independent: the lag-1 and lag-z correlations of a batch's [T, n, z] layout
  for (const lag of [1, 100]) {
    let c = 0;
    for (let i = lag; i < v.length; i++) c += v[i] * v[i - lag];
    ok(Math.abs(c / (v.length - lag)) < 0.01, `lag-${lag} correlation ${c / (v.length - lag)}`);
  }
  // any slice of the stream is the same values drawn on their own (as each thread draws its share)
  deepEqual(fillNoise(11, 12_345, new Float32Array(777)), v.slice(12_345, 12_345 + 777));
  // another seed, another stream
  const w = fillNoise(12, 0, new Float32Array(1000));
  ok(w.filter((e, i) => e === v[i]).length < 5, "seeds 11 and 12 give different noise");
});

Deno.test("Rng.fillNormal (next32 inlined on a local state) = normal() drawn one by one, slow paths included", () => {
  for (const seed of [0, 7, 0xffffffff, 0x80000000]) {
    const a = new Rng(seed), b = new Rng(seed);
    const v = a.fillNormal(new Float32Array(50_000)); // about 600 wedge and 30 tail draws
    for (let i = 0; i < v.length; i++) if (v[i] !== Math.fround(b.normal())) equal(v[i], b.normal(), `draw ${i}`);
    equal(a.state, b.state, "the same state after");
    equal(a.uniform(), b.uniform(), "the same stream after");
  }
});
