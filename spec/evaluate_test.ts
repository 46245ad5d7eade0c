import * as tf from "../src/tf.ts";
import { selectBackend } from "../src/backend.ts";
import { TINY } from "../src/config.ts";
import type { Dataset } from "../src/data/dataset.ts";
import { Draw, drawLoss, drawNoise, initWeights } from "../src/draw.ts";
import { evaluate, evaluateClassifier, meanStdErr, pairedDifference } from "../src/evaluate.ts";
import { Classifier, classifierForward } from "../src/classifier.ts";
import type { ClassifierConfig } from "../src/config.ts";
import { Rng } from "../src/random.ts";
import { plusMinus } from "../src/eval_report.ts";
import { assertClose, ok } from "./_assert.ts";
import { refDraw, type RefWeights } from "./_reference.ts";
import { equal, throws } from "node:assert/strict";

Deno.test("drawLoss() logRatio averages to −Lz over the noise (log p(z) − log q(z|x), Monte Carlo)", async () => {
  await selectBackend("wasm");
  const n = 4000;
  const weights = initWeights(TINY, 2);
  const one = Float32Array.from({ length: 30 }, (_, k) => (k * 7) % 3 === 0 ? 1 : 0);
  const x = tf.tensor4d(Float32Array.from({ length: n * 30 }, (_, k) => one[k % 30]), [n, 5, 6, 1]);
  const eps = drawNoise(TINY, n, new Rng(3));
  const out = drawLoss(weights, TINY, x, eps, { logWeights: true });
  const [lr, lz] = [await out.logRatio!.data(), await out.lz.data()];
  const mean = (v: ArrayLike<number>) => Array.from(v).reduce((s, e) => s + e, 0) / v.length;
  const sd = Math.sqrt(mean(Array.from(lr, (v) => (v - mean(lr)) ** 2)) / n);
  ok(Math.abs(mean(lr) + mean(lz)) < 4 * sd + 1e-4, `mean log ratio ${mean(lr)} ± ${sd} vs −Lz ${-mean(lz)}`);
  tf.dispose([x, eps, out.lx, out.lz, out.loss, out.logRatio!, ...Object.values(weights)]);
});

Deno.test("evaluate() importance-weighted bound is −log mean exp of the float64 reference's log weights, image by image", async () => {
  await selectBackend("wasm");
  const rng = new Rng(9);
  const n = 12, K = 8;
  const images = Uint8Array.from({ length: n * 30 }, () => (rng.uniform() < 0.3 ? 1 : 0));
  const ds: Dataset = { name: "random 0/1", count: n, height: 5, width: 6, channels: 1, scale: 1, images };
  const model = new Draw(TINY, 4);
  const r = await evaluate(model, ds, { samples: K, batch: n, seed: 1 });
  // The same noise stream as evaluate(): one batch, K draws of [T, n, z] from Rng(seed); the log weights
  // log p(x|z) + log p(z) − log q(z|x) = −Lx + log ratio from the float64 reference (spec/_reference.ts), not drawLoss.
  const noise = new Rng(1);
  const ref: RefWeights = Object.fromEntries(
    Object.entries(model.weights).map(([k, w]) => [k, Float64Array.from(w.dataSync())]),
  );
  const logW: number[][] = [], elbo: number[] = new Array(n).fill(0);
  for (let s = 0; s < K; s++) {
    const eps = drawNoise(TINY, n, noise);
    const e = await eps.data() as Float32Array;
    eps.dispose();
    const row: number[] = [];
    for (let k = 0; k < n; k++) {
      const epsK = Array.from(
        { length: TINY.T },
        (_, t) => Array.from(e.slice((t * n + k) * TINY.z, (t * n + k + 1) * TINY.z)),
      );
      const r = refDraw(ref, TINY, images.subarray(k * 30, (k + 1) * 30), epsK); // C = 1: (b, c, a) is row-major
      row.push(r.logRatio - r.lx);
      elbo[k] += (r.lx + r.lz) / K;
    }
    logW.push(row);
  }
  const iw = Array.from({ length: n }, (_, k) => {
    const w = logW.map((row) => row[k]);
    const m = Math.max(...w);
    return -(m + Math.log(w.reduce((acc, v) => acc + Math.exp(v - m), 0) / K));
  });
  const want = iw.reduce((a, v) => a + v, 0) / n;
  // float32 against float64 over T·z terms of order 1 each: agreement to ~1e-5 relative
  assertClose(r.iwBound!, want, { rtol: 2e-5, what: "IW bound against the reference's" });
  // Per image, and the standard errors: sample standard deviation over √n, computed here the textbook way.
  const se = (v: number[]) => {
    const m = v.reduce((a, e) => a + e, 0) / v.length;
    return Math.sqrt(v.reduce((a, e) => a + (e - m) ** 2, 0) / (v.length - 1) / v.length);
  };
  assertClose(Array.from(r.perImage.elbo), elbo, { rtol: 1e-5, what: "per-image Eq 12 bound" });
  assertClose(Array.from(r.perImage.iw!), iw, { rtol: 1e-5, what: "per-image IW bound" });
  assertClose(r.elboSe, se(elbo), { rtol: 1e-4, what: "standard error of the Eq 12 bound" });
  assertClose(r.iwSe!, se(iw), { rtol: 1e-4, what: "standard error of the IW bound" });
  ok(r.elboSe > 0, `images differ, so does their bound: se ${r.elboSe}`);
  ok(r.iwBound! < r.elbo + 0.5, "the IW bound is near or below the Eq 12 bound");
  const single = await evaluate(model, ds, { samples: 1, batch: n, seed: 1 });
  ok(single.iwBound === undefined && single.iwSe === undefined && single.perImage.iw === undefined);
  // In batches of 5 (the last one short), every image's figure lands in its own place.
  const split = await evaluate(model, ds, { samples: 2, batch: 5, seed: 1 });
  for (
    const [what, v, mean] of [["Eq 12", split.perImage.elbo, split.elbo], [
      "IW",
      split.perImage.iw!,
      split.iwBound!,
    ]] as const
  ) {
    ok(v.every((e) => e > 0), `every image has its ${what} bound`);
    assertClose(meanStdErr(v).mean, mean, { rtol: 1e-9, what: `mean of the per-image ${what} bounds` });
  }
  model.dispose();
});

Deno.test("meanStdErr() is the mean and the sample standard deviation over √n, exact for hand cases", () => {
  const one = meanStdErr([5]);
  equal(one.mean, 5);
  equal(one.se, 0);
  const r = meanStdErr([1, 2, 3, 4]); // deviations ±1.5, ±0.5: Σ² = 5, s² = 5/3, se = √(5/3/4)
  equal(r.mean, 2.5);
  assertClose(r.se, Math.sqrt(5 / 12), { rtol: 1e-15 });
  // A binomial count: 3 misses of 10 gives √(p(1 − p)/(n − 1)) with p = 0.3.
  assertClose(meanStdErr([1, 1, 1, 0, 0, 0, 0, 0, 0, 0]).se, Math.sqrt(0.3 * 0.7 / 9), { rtol: 1e-15 });
  // Large offsets do not cancel: the spread of 1e8 + {0, 1, 2} is that of {0, 1, 2}.
  assertClose(meanStdErr([1e8, 1e8 + 1, 1e8 + 2]).se, meanStdErr([0, 1, 2]).se, { rtol: 1e-12 });
  throws(() => meanStdErr([]), /Cannot take the mean of no values/);
});

Deno.test("pairedDifference() is the mean and standard error of a − b image by image; unequal lengths are refused", () => {
  // a − b = [1, 2, 3, 4] whatever the images' own spread (1e3 · k): the spread cancels.
  const b = [0, 1000, 2000, 3000], a = b.map((v, k) => v + k + 1);
  const d = pairedDifference(a, b);
  equal(d.mean, 2.5);
  assertClose(d.se, Math.sqrt(5 / 12), { rtol: 1e-15 });
  ok(meanStdErr(a).se > 100 * d.se, "unpaired, the images' spread would swamp the difference");
  throws(() => pairedDifference([1, 2], [1]), /Cannot pair 2 figures with 1: evaluate both on the same images/);
});

Deno.test("plusMinus() shows the standard error's first significant digit, two places at least", () => {
  equal(plusMinus(-0.1534, 0.0214), "−0.15 ± 0.02");
  equal(plusMinus(-0.00049, 0.00041, 4), "−0.0005 ± 0.0004");
  equal(plusMinus(0.0000412, 0.0000398, 4), "+0.00004 ± 0.00004"); // the no-attention card's rounding
  equal(plusMinus(0.0031, 0.0094), "+0.003 ± 0.009");
  equal(plusMinus(0, 0), "+0.00 ± 0.00"); // a model against itself
  equal(plusMinus(1e-12, 1e-12), "+0.00000000 ± 0.00000000"); // at most eight places
});

Deno.test("evaluateClassifier() error, its standard error and the cross-entropy match the logits image by image", async () => {
  await selectBackend("wasm");
  const cfg: ClassifierConfig = { width: 12, height: 10, channels: 1, glimpses: 2, hidden: 3, readN: 3, classes: 4 };
  const rng = new Rng(5);
  const n = 23; // not a multiple of the batch: the last batch is short
  const images = Uint8Array.from({ length: n * 120 }, () => Math.floor(rng.uniform() * 256));
  const labels = Uint8Array.from({ length: n }, (_, k) => k % 4);
  const ds: Dataset = { name: "random", count: n, height: 10, width: 12, channels: 1, scale: 1 / 255, images, labels };
  const model = new Classifier(cfg, 3);
  const r = await evaluateClassifier(model, ds, { batch: 10 });
  const x = tf.tensor4d(Float32Array.from(images, (v) => v / 255), [n, 10, 12, 1]);
  const { logits } = classifierForward(model.weights, cfg, x);
  const z = Array.from(await logits.data());
  let wrong = 0, loss = 0;
  for (let k = 0; k < n; k++) {
    const row = z.slice(4 * k, 4 * k + 4), m = Math.max(...row);
    if (row.indexOf(m) !== labels[k]) wrong++;
    loss += (m + Math.log(row.reduce((a, v) => a + Math.exp(v - m), 0)) - row[labels[k]]) / n;
  }
  const p = wrong / n;
  equal(r.count, n);
  equal(r.error, p);
  equal(r.perImage.reduce((a, v) => a + v, 0), wrong);
  ok(p > 0 && p < 1, `a random model misses some and hits some: ${wrong} of ${n}`);
  assertClose(r.errorSe, Math.sqrt(p * (1 - p) / (n - 1)), { rtol: 1e-12, what: "binomial standard error" });
  assertClose(r.loss, loss, { rtol: 1e-5, what: "mean cross-entropy" });
  tf.dispose([x, logits]);
  model.dispose();
});
