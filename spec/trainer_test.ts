import * as tf from "../src/tf.ts";
import { TINY } from "../src/config.ts";
import { Draw } from "../src/draw.ts";
import { Rng } from "../src/random.ts";
import { Trainer } from "../src/trainer.ts";
import { assertClose, deepEqual, equal, ok, rejects, throws } from "./_assert.ts";
import { testEveryBackend } from "./_backends.ts";

function batch(seed: number): tf.Tensor4D {
  const rng = new Rng(seed);
  const v = Float32Array.from({ length: 8 * 5 * 6 }, () => (rng.uniform() < 0.3 ? 1 : 0));
  return tf.tensor4d(v, [8, 5, 6, 1]);
}

testEveryBackend(
  "Trainer.step() leaks no tensors: the count is constant from the third step on",
  async (_b, _r, engine) => {
    const model = new Draw(TINY, 1);
    model.engine = engine;
    const trainer = new Trainer(model);
    const x = batch(2);
    const rng = new Rng(3);
    const counts: number[] = [];
    for (let s = 0; s < 6; s++) {
      await trainer.step(x, rng);
      counts.push(tf.memory().numTensors);
    }
    deepEqual(counts.slice(2), Array(4).fill(counts[2]), `tensor counts by step: ${counts}`);
    x.dispose();
    trainer.dispose();
    model.dispose();
  },
);

testEveryBackend("Trainer.step() is reproducible: the same seeds give the same losses", async (_b, _r, engine) => {
  const run = async () => {
    const model = new Draw(TINY, 4);
    model.engine = engine;
    const trainer = new Trainer(model, { lr: 1e-2 });
    const x = batch(5);
    const rng = new Rng(6);
    const losses = [];
    for (let s = 0; s < 4; s++) losses.push((await trainer.step(x, rng)).loss);
    x.dispose();
    trainer.dispose();
    model.dispose();
    return losses;
  };
  deepEqual(await run(), await run());
});

testEveryBackend("Trainer.step() lowers the loss on a fixed batch", async (_b, _r, engine) => {
  const model = new Draw(TINY, 7);
  model.engine = engine;
  const trainer = new Trainer(model, { lr: 3e-2 });
  const x = batch(8);
  const first = (await trainer.step(x, new Rng(1))).loss;
  let last = first;
  for (let s = 0; s < 40; s++) last = (await trainer.step(x, new Rng(1))).loss;
  ok(last < first - 1, `loss went from ${first} to ${last}`);
  x.dispose();
  trainer.dispose();
  model.dispose();
});

Deno.test("Trainer.step() applies Adam as Kingma & Ba define it, with the gradient clipped by global norm", async () => {
  await (await import("../src/backend.ts")).selectBackend("cpu");
  const model = new Draw(TINY, 9);
  const trainer = new Trainer(model, { lr: 0.1, clipNorm: 1e-3 });
  const x = batch(10);
  const before = Object.fromEntries(Object.entries(model.weights).map(([k, w]) => [k, w.dataSync().slice()]));
  const r = await trainer.step(x, new Rng(2));
  ok(r.gradNorm > 1e-3, "the test needs a gradient larger than the clip");
  // First Adam step: m̂ = g, v̂ = g², so each weight moves by lr·g/(|g| + ε) ≈ ±lr, whatever the
  // clipping (clipping scales g, and the ratio g/|g| is unchanged) unless g is tiny next to ε.
  let moved = 0, total = 0;
  for (const [k, w] of Object.entries(model.weights)) {
    const after = w.dataSync();
    for (let i = 0; i < after.length; i++) {
      const d = Math.abs(after[i] - before[k][i]);
      total++;
      if (d > 0) {
        moved++;
        ok(d <= 0.1 + 1e-6, `${k}[${i}] moved ${d} > lr`);
      }
    }
  }
  ok(moved > total / 2, `only ${moved} of ${total} weights moved`);
  equal(trainer.iteration, 1);
  x.dispose();
  trainer.dispose();
  model.dispose();
});

for (const backend of ["cpu", "wasm"] as const) {
  Deno.test(`Trainer.step(): norm, clipping and Adam in place = the same through tfjs ops, clipped or not (${backend})`, async () => {
    await (await import("../src/backend.ts")).selectBackend(backend);
    for (const clipNorm of [0.05, 0]) {
      const runs = [true, false].map((inPlace) => {
        const model = new Draw(TINY, 11);
        return { model, trainer: new Trainer(model, { lr: 1e-2, clipNorm, inPlace }) };
      });
      const x = batch(12);
      for (let s = 0; s < 3; s++) {
        const [a, b] = [await runs[0].trainer.step(x, new Rng(s)), await runs[1].trainer.step(x, new Rng(s))];
        assertClose([a.loss, a.gradNorm], [b.loss, b.gradNorm], { rtol: 1e-5, what: `step ${s} loss and norm` });
        if (clipNorm > 0) ok(a.gradNorm > clipNorm, "the gradient is clipped");
      }
      for (const name of Object.keys(runs[0].model.weights)) {
        const [p, q] = runs.map((r) => r.trainer);
        for (
          const [what, u, w] of [["w", runs[0].model.weights, runs[1].model.weights], ["m", p.m, q.m], ["v", p.v, q.v]]
        ) {
          const got = (u as Record<string, tf.Tensor>)[name].dataSync(),
            want = (w as Record<string, tf.Tensor>)[name].dataSync();
          assertClose(got, want, { rtol: 1e-4, atol: 1e-7, what: `${what} of ${name}, clip ${clipNorm}` });
        }
      }
      equal(runs[0].trainer.iteration, 3);
      x.dispose();
      for (const r of runs) {
        r.trainer.dispose();
        r.model.dispose();
      }
    }
  });
}

Deno.test("Trainer.step() leaves the weights untouched when the loss is not finite", async () => {
  const model = new Draw(TINY, 1);
  const trainer = new Trainer(model);
  const x = tf.fill([2, 5, 6, 1], NaN) as tf.Tensor4D;
  const before = model.weights["write.kernel"].dataSync().slice();
  const r = await trainer.step(x, new Rng(1));
  ok(!Number.isFinite(r.loss));
  assertClose(model.weights["write.kernel"].dataSync(), before, { rtol: 0, atol: 0 });
  equal(trainer.iteration, 0);
  x.dispose();
  trainer.dispose();
  model.dispose();
});

Deno.test("Trainer rejects a learning rate that is not positive", () => {
  const model = new Draw(TINY, 1);
  throws(() => new Trainer(model, { lr: 0 }), /lr must be > 0: current value is 0/);
  throws(() => new Trainer(model, { clipNorm: -1 }), RangeError);
  model.dispose();
});

for (const inPlace of [true, false]) {
  Deno.test(
    `Trainer({ frozen }): frozen weights and rows stay bit for bit, the rest move as without freezing, the norm is the rest's (${
      inPlace ? "in place" : "tfjs ops"
    })`,
    async () => {
      await (await import("../src/backend.ts")).selectBackend("wasm");
      const make = (frozen: string[]) => {
        const model = new Draw(TINY, 13);
        return { model, trainer: new Trainer(model, { lr: 1e-2, clipNorm: 0, inPlace, frozen }) };
      };
      const [part, all] = [make(["encoder.kernel[2:5]", "write.bias"]), make([])];
      // which values are frozen, by weight: rows 2–4 of encoder.kernel, all of write.bias
      const isFrozen = (k: string, i: number) => {
        const w = part.model.weights[k], cols = w.size / w.shape[0];
        return k === "write.bias" || (k === "encoder.kernel" && i >= 2 * cols && i < 5 * cols);
      };
      const x = batch(14);
      const before = Object.fromEntries(Object.entries(part.model.weights).map(([k, w]) => [k, w.dataSync().slice()]));
      // the full gradient, to split its norm into the frozen values' part and the rest
      const { grads } = tf.variableGrads(() => all.model.objective({ x }, new Rng(1)).loss);
      let frozenSq = 0, restSq = 0;
      for (const k of Object.keys(all.model.weights)) {
        grads[all.model.weights[k].name].dataSync().forEach((g, i) =>
          isFrozen(k, i) ? frozenSq += g * g : restSq += g * g
        );
      }
      const a = await part.trainer.step(x, new Rng(1)), b = await all.trainer.step(x, new Rng(1));
      assertClose([b.gradNorm], [Math.sqrt(frozenSq + restSq)], { rtol: 1e-4, what: "the full norm" });
      assertClose([a.gradNorm], [Math.sqrt(restSq)], { rtol: 1e-4, what: "the norm without the frozen values" });
      let moved = 0;
      for (const k of Object.keys(part.model.weights)) {
        const [got, free] = [part.model.weights[k].dataSync(), all.model.weights[k].dataSync()];
        got.forEach((w, i) => {
          if (isFrozen(k, i)) equal(w, before[k][i], `${k}[${i}] is frozen`);
          else {
            assertClose([w], [free[i]], { rtol: 1e-5, atol: 1e-7, what: `${k}[${i}]` });
            if (w !== before[k][i]) moved++;
          }
        });
      }
      ok(moved > 100, `${moved} values moved`);
      tf.dispose([x, ...Object.values(grads)]);
      for (const r of [part, all]) {
        r.trainer.dispose();
        r.model.dispose();
      }
    },
  );
}

Deno.test("Trainer({ frozen }) refuses a name that is no weight, and freezing every weight", () => {
  const model = new Draw(TINY, 1);
  throws(() => new Trainer(model, { frozen: ["lstm.kernel"] }), /Cannot freeze lstm\.kernel: the model's weights are /);
  throws(() => new Trainer(model, { frozen: Object.keys(model.weights) }), /Cannot train with every weight frozen/);
  throws(
    () => new Trainer(model, { frozen: ["write.bias[3:2]"] }),
    /write\.bias has rows 0 to \d+, give \[a:b\] with a < b/,
  );
  throws(
    () => new Trainer(model, { frozen: ["write.bias[1-2]"] }),
    /Cannot freeze write\.bias\[1-2\]: the model's weights are/,
  );
  model.dispose();
});

/**
 * A model whose gradient is given: loss = Σ g_s ⊙ w for step s's g_s, so that the update can be computed by hand.
 */
function linearModel(w0: number[], gs: number[][]) {
  const w = tf.variable(tf.tensor1d(w0), true, `w${Math.random()}`);
  let s = 0;
  return {
    weights: { w } as Record<string, tf.Variable>,
    objective: () => {
      const g = tf.tensor1d(gs[s++]);
      const loss = tf.sum(tf.mul(w, g)) as tf.Scalar;
      return { loss, figures: {} };
    },
    dispose: () => w.dispose(),
  };
}

/**
 * Adam as Kingma & Ba's Algorithm 1 in its efficient form (their Section 2's last paragraph, as the code runs it:
 * α_t = α·√(1 − β₂ᵗ)/(1 − β₁ᵗ), w ← w − α_t·m/(√v + ε)), after clipping g to global norm c, and the moving average
 * a ← a + (1 − d_n)(w − a) with d_n = min(d, (1 + n)/(10 + n)), all in float64, step by step.
 */
function adamByHand(w0: number[], gs: number[][], o: { lr: number; clip: number; average: number }) {
  const [b1, b2, eps] = [0.9, 0.999, 1e-8];
  const w = w0.slice(), m = w0.map(() => 0), v = w0.map(() => 0), a = w0.slice();
  gs.forEach((g0, k) => {
    const t = k + 1, norm = Math.hypot(...g0), scale = o.clip > 0 ? Math.min(1, o.clip / norm) : 1;
    const step = o.lr * Math.sqrt(1 - b2 ** t) / (1 - b1 ** t);
    const d = 1 - Math.min(o.average, (1 + k) / (10 + k));
    for (let i = 0; i < w.length; i++) {
      const g = g0[i] * scale;
      m[i] = b1 * m[i] + (1 - b1) * g;
      v[i] = b2 * v[i] + (1 - b2) * g * g;
      w[i] -= step * m[i] / (Math.sqrt(v[i]) + eps);
      a[i] += d * (w[i] - a[i]);
    }
  });
  return { w, m, v, a };
}

for (const inPlace of [true, false]) {
  Deno.test(
    `Trainer.step(): two Adam steps, bias correction, a clipped norm and the moving average equal a step by hand (${
      inPlace ? "in place" : "tfjs ops"
    })`,
    async () => {
      await (await import("../src/backend.ts")).selectBackend("cpu");
      // step 1's gradient has norm 13 (clipped to 2), step 2's norm 1.5 (kept); a sign-SGD or an Adam without bias
      // correction or clipping moves the weights elsewhere by far more than float32 rounding
      const w0 = [0.5, -1, 2, 0.25], gs = [[3, -4, 12, 0], [0.3, 1.2, -0.6, 0.6]];
      const o = { lr: 0.1, clip: 2, average: 0.95 };
      const model = linearModel(w0, gs);
      // and a further average of decay 0.5 beside it (kept to choose the decay on validation)
      const trainer = new Trainer(model, {
        lr: o.lr,
        clipNorm: o.clip,
        average: o.average,
        averageAlso: [0.5],
        inPlace,
      });
      const x = tf.zeros([1, 1, 1, 1]) as tf.Tensor4D;
      const norms = [];
      for (let s = 0; s < gs.length; s++) norms.push((await trainer.step(x, new Rng(s))).gradNorm);
      const want = adamByHand(w0, gs, o);
      // float32 rounding of a handful of operations per value: a few ulps of values of order 1
      const tol = { rtol: 1e-6, atol: 1e-7 };
      assertClose(norms, [13, 1.5], { ...tol, what: "gradient norms before clipping" });
      assertClose(model.weights.w.dataSync(), want.w, { ...tol, what: "w" });
      assertClose(trainer.m.w.dataSync(), want.m, { ...tol, what: "m" });
      assertClose(trainer.v.w.dataSync(), want.v, { ...tol, what: "v" });
      assertClose(trainer.avg.w.dataSync(), want.a, { ...tol, what: "the moving average" });
      const half = adamByHand(w0, gs, { ...o, average: 0.5 }).a;
      assertClose(trainer.avgAlso.get(0.5)!.w.dataSync(), half, { ...tol, what: "the moving average of decay 0.5" });
      equal(trainer.averaged, 2);
      // withAverage: the averages inside, the raw weights back after
      const inside = await trainer.withAverage(() => Promise.resolve(model.weights.w.dataSync().slice()));
      assertClose(inside, want.a, { ...tol, what: "weights inside withAverage" });
      assertClose(model.weights.w.dataSync(), want.w, { ...tol, what: "w after withAverage" });
      const other = await trainer.withAverage(() => Promise.resolve(model.weights.w.dataSync().slice()), 0.5);
      assertClose(other, half, { ...tol, what: "weights inside withAverage(…, 0.5)" });
      assertClose(model.weights.w.dataSync(), want.w, { ...tol, what: "w after withAverage(…, 0.5)" });
      await rejects(() => trainer.withAverage(() => Promise.resolve(0), 0.7), /does not keep it/);
      x.dispose();
      trainer.dispose();
      model.dispose();
    },
  );
}

Deno.test("Trainer: Adam's bias correction counts from adamStart (a run continued from weights alone)", async () => {
  await (await import("../src/backend.ts")).selectBackend("cpu");
  const w0 = [1, -1], gs = [[0.2, -0.1], [0.05, 0.4]];
  const model = linearModel(w0, gs);
  const trainer = new Trainer(model, { lr: 0.01, clipNorm: 0 });
  [trainer.iteration, trainer.adamStart] = [500, 500];
  const x = tf.zeros([1, 1, 1, 1]) as tf.Tensor4D;
  for (let s = 0; s < 2; s++) await trainer.step(x, new Rng(s));
  equal(trainer.iteration, 502);
  assertClose(model.weights.w.dataSync(), adamByHand(w0, gs, { lr: 0.01, clip: 0, average: 0 }).w, {
    rtol: 1e-6,
    atol: 1e-7,
    what: "w",
  });
  throws(() => new Trainer(model, { average: 1 }), /average must be in \[0, 1\)/);
  throws(() => new Trainer(model, { average: 0.9, averageAlso: [0.9] }), /differ from average's/);
  throws(() => new Trainer(model, { averageAlso: [0] }), /further average's decay must be in \(0, 1\)/);
  x.dispose();
  trainer.dispose();
  model.dispose();
});
