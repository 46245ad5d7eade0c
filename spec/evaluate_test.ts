import * as tf from "../src/tf.ts";
import { selectBackend } from "../src/backend.ts";
import { TINY } from "../src/config.ts";
import type { Dataset } from "../src/data/dataset.ts";
import { Draw, drawLoss, drawNoise, initWeights } from "../src/draw.ts";
import { evaluate } from "../src/evaluate.ts";
import { Rng } from "../src/random.ts";
import { ok } from "./_assert.ts";

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

Deno.test("evaluate() importance-weighted bound is −log mean exp of independently computed log weights", async () => {
  await selectBackend("wasm");
  const rng = new Rng(9);
  const n = 12, K = 8;
  const images = Uint8Array.from({ length: n * 30 }, () => (rng.uniform() < 0.3 ? 1 : 0));
  const ds: Dataset = { name: "random 0/1", count: n, height: 5, width: 6, channels: 1, scale: 1, images };
  const model = new Draw(TINY, 4);
  const r = await evaluate(model, ds, { samples: K, batch: n, seed: 1 });
  // The same noise stream as evaluate(): one batch, K draws of [T, n, z] from Rng(seed).
  const noise = new Rng(1);
  const x = tf.tensor4d(Float32Array.from(images), [n, 5, 6, 1]);
  const logW: number[][] = [];
  for (let s = 0; s < K; s++) {
    const eps = drawNoise(TINY, n, noise);
    const out = drawLoss(model.weights, TINY, x, eps, { logWeights: true });
    const [lx, lr] = [await out.lx.data(), await out.logRatio!.data()];
    logW.push(Array.from(lr, (v, k) => v - lx[k]));
    tf.dispose([eps, out.lx, out.lz, out.loss, out.logRatio!]);
  }
  let want = 0;
  for (let k = 0; k < n; k++) {
    const w = logW.map((row) => row[k]);
    const m = Math.max(...w);
    want += -(m + Math.log(w.reduce((acc, v) => acc + Math.exp(v - m), 0) / K)) / n;
  }
  ok(Math.abs(r.iwBound! - want) < 1e-4, `IW bound ${r.iwBound} vs independent ${want}`);
  ok(r.iwBound! < r.elbo + 0.5, "the IW bound is near or below the Eq 12 bound");
  const single = await evaluate(model, ds, { samples: 1, batch: n, seed: 1 });
  ok(single.iwBound === undefined);
  x.dispose();
  model.dispose();
});
