/**
 * The fused engine (src/engine/) against the plain tfjs composition, values and every gradient,
 * at the paper's layer sizes, with the wasm kernels' products and with a CBLAS library's where
 * one is found; the threaded pool against one thread; the classifier; the engine's choice; and a
 * script that never disposes its pool still exits. (spec/draw_test.ts checks the engine against
 * the float64 reference and finite differences at tiny sizes; spec/kernels_test.ts each kernel.)
 */
// deno-lint-ignore no-import-prefix -- tests only: kept out of deno.json, whose every entry a first run installs
import fc from "npm:fast-check@3.23.2";
import * as tf from "../src/tf.ts";
import { selectBackend } from "../src/backend.ts";
import { CIFAR, CLUTTERED, type DrawConfig, MNIST, MNIST_NO_ATTENTION } from "../src/config.ts";
import { Classifier, classifierForward, classifierSpecs } from "../src/classifier.ts";
import { Draw, drawGenerate, drawLoss, drawNoise, paramSpecs, toInternal } from "../src/draw.ts";
import type { Batch, Trainable } from "../src/trainer.ts";
import type { FusedDrawPasses } from "../src/engine/fused/passes.ts";
import { createEngine, type Engine } from "../src/engine/engine.ts";
import { engineContext } from "../src/engine/fused/context.ts";
import { FusedClassifier } from "../src/engine/program/classifier.ts";
import { FusedDraw } from "../src/engine/program/draw.ts";
import { loadKernels, newArena } from "../src/engine/fused/wasm.ts";
import { ClassifierPool, CONTROL, FusedPool, MIN_SHARE } from "../src/engine/fused/pool.ts";
import { checkBounds, jsGemm, openCblas } from "../src/engine/fused/cblas.ts";
import { Team, TeamFailure } from "../src/engine/program/team.ts";
import { fillNoise, Rng } from "../src/random.ts";
import { drawProblem, randomParams } from "./_problem.ts";
import { assertClose, assertNormClose, deepEqual, equal, ok, throws } from "./_assert.ts";

const SEED = 20151120;
const blas = openCblas();
const module = await loadKernels();
/** The products each test runs with: the kernels', and a CBLAS library's where one opens. */
const PRODUCTS = blas ? [undefined, { gemm: blas.gemm, path: blas.path }] : [undefined];
const label = (b: unknown) => b ? "CBLAS products" : "wasm products";

/** One thread's context on a fresh arena. */
function context(b?: { gemm: typeof jsGemm; path: string }) {
  return engineContext(module, newArena(module), b);
}

Deno.test("cblas: the TypeScript reference product is exact on small integers, every transpose", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 6 }),
      fc.integer({ min: 1, max: 6 }),
      fc.integer({ min: 0, max: 6 }),
      fc.boolean(),
      fc.boolean(),
      fc.constantFrom(0 as const, 1 as const),
      (M, N, K, tA, tB, beta) => {
        const A = Float32Array.from({ length: M * K }, (_, i) => (i % 5) - 2);
        const B = Float32Array.from({ length: K * N }, (_, i) => (i % 3) - 1);
        const C = Float32Array.from({ length: M * N }, (_, i) => i);
        const want = new Float32Array(M * N);
        for (let i = 0; i < M; i++) {
          for (let j = 0; j < N; j++) {
            let s = beta * C[i * N + j];
            for (let k = 0; k < K; k++) s += (tA ? A[k * M + i] : A[i * K + k]) * (tB ? B[j * K + k] : B[k * N + j]);
            want[i * N + j] = s;
          }
        }
        jsGemm(tA, tB, M, N, K, A, tA ? M : K, B, tB ? K : N, beta, C, N);
        assertClose(C, want, { atol: 0, what: `${M}x${N}x${K} ${tA} ${tB}` });
      },
    ),
    { seed: SEED, numRuns: 200 },
  );
});

Deno.test({
  name: "cblas: native sgemm agrees with the TypeScript reference product",
  ignore: !blas,
  fn: () => {
    const rng = new Rng(1);
    for (const [M, N, K] of [[3, 5, 7], [100, 1024, 520], [520, 1024, 64], [1, 1, 1], [4, 3, 0]]) {
      for (const tA of [false, true]) {
        for (const tB of [false, true]) {
          const A = rng.fillNormal(new Float32Array(M * K)), B = rng.fillNormal(new Float32Array(K * N));
          const C1 = rng.fillNormal(new Float32Array(M * N)), C2 = C1.slice();
          jsGemm(tA, tB, M, N, K, A, tA ? M : K, B, tB ? K : N, 1, C1, N);
          blas!.gemm(tA, tB, M, N, K, A, tA ? M : K, B, tB ? K : N, 1, C2, N);
          assertClose(C2, C1, { rtol: 1e-4, atol: 1e-3, what: `${M}x${N}x${K}` });
        }
      }
    }
  },
});

Deno.test("cblas: a product that would run past A, B or C is refused before any native code runs", () => {
  const four = new Float32Array(4), three = new Float32Array(3);
  const products = blas ? [jsGemm, blas.gemm] : [jsGemm];
  throws(() => checkBounds(false, false, 2, 2, 2, four, 2, four, 2, 0, three, 2), /C holds 3 values/);
  for (const gemm of products) {
    throws(() => gemm(false, false, 2, 2, 2, four, 2, four, 2, 0, three, 2), {
      name: "RangeError",
      message: /C holds 3 values/,
    });
    throws(() => gemm(true, false, 2, 2, 2, three, 2, four, 2, 0, four, 2), {
      name: "RangeError",
      message: /A holds 3 values/,
    });
    throws(() => gemm(false, true, 2, 2, 2, four, 2, four, 1, 0, four, 2), {
      name: "RangeError",
      message: /B holds 4 values/,
    });
    gemm(false, false, 2, 2, 2, four, 2, four, 2, 0, four, 2); // exact fit
  }
});

Deno.test({
  name: "cblas: OpenBLAS runs one thread per product (no server threads to race at exit)",
  ignore: !blas,
  fn: () => equal(blas!.threads, 1),
});

/** The MNIST and CIFAR models of Table 3 at few steps and a small batch: every layer at full size. */
const FULL: Record<string, DrawConfig> = {
  mnist: { ...MNIST, T: 3 },
  cifar: { ...CIFAR, T: 2 },
  "mnist without attention": { ...MNIST_NO_ATTENTION, T: 2 },
};

for (const [name, cfg] of Object.entries(FULL)) {
  for (const b of PRODUCTS) {
    Deno.test(`fused engine = tfjs composition, values and every gradient (${name} layer sizes, ${label(b)})`, async () => {
      await selectBackend("cpu");
      const batch = 3;
      const { w, x, eps, dlx, dlz } = drawProblem(cfg, paramSpecs(cfg), batch, 7);
      const engine = new FusedDraw(cfg, batch, context(b));
      const got = engine.forward(w, x, eps);
      const grads = engine.backward(dlx, dlz);
      // the tfjs graph on the same inputs (x in [batch, H, W, C] order)
      const specs = paramSpecs(cfg);
      const ws = specs.map((s) => tf.tensor(w[s.name], s.shape));
      const { height: B, width: A, channels: C } = cfg;
      const img = tf.tidy(() =>
        C === 1
          ? tf.tensor4d(x, [batch, B, A, 1])
          : tf.transpose(tf.tensor4d(x, [batch, B, C, A]), [0, 1, 3, 2]) as tf.Tensor4D
      );
      const roundTrip = toInternal(img);
      assertClose(await roundTrip.data() as Float32Array, x, { atol: 0, what: "layout" });
      roundTrip.dispose();
      const e = tf.tensor3d(eps, [cfg.T, batch, cfg.z]);
      const wx = tf.tensor1d(dlx), wz = tf.tensor1d(dlz);
      const out = drawLoss(Object.fromEntries(specs.map((s, i) => [s.name, ws[i]])), cfg, img, e);
      assertClose(await out.lx.data() as Float32Array, got.lx, { rtol: 1e-4, what: "Lx" });
      assertClose(await out.lz.data() as Float32Array, got.lz, { rtol: 1e-4, atol: 1e-3, what: "Lz" });
      tf.dispose(Object.values(out) as tf.Tensor[]);
      const g = tf.grads((...v: tf.Tensor[]) => {
        const o = drawLoss(Object.fromEntries(specs.map((s, i) => [s.name, v[i]])), cfg, img, e);
        return tf.add(tf.sum(tf.mul(o.lx, wx)), tf.sum(tf.mul(o.lz, wz))) as tf.Scalar;
      })(ws);
      for (let i = 0; i < specs.length; i++) {
        assertNormClose(grads[specs[i].name], await g[i].data() as Float32Array, {
          rtol: 1e-4,
          atol: 1e-6,
          what: `∂/∂${specs[i].name}`,
        });
      }
      tf.dispose([...ws, ...g, img, e, wx, wz]);
    });
  }
}

/** Small models, with attention and without (x read whole: its share of the gates once per pass). */
const SMALL: Record<string, DrawConfig> = {
  attention: { ...MNIST, T: 4, hidden: 32, z: 8 },
  "no attention": { ...MNIST_NO_ATTENTION, T: 4, hidden: 32, z: 8 },
};

for (const [kind, cfg] of Object.entries(SMALL)) {
  for (const b of PRODUCTS) {
    Deno.test(`FusedPool: the batch split over threads on one memory = one thread (${kind}, ${label(b)})`, () => {
      const batch = 50; // not a multiple of 3 threads
      const { w, x, eps, dlx, dlz } = drawProblem(cfg, paramSpecs(cfg), batch, 3);
      const one = new FusedDraw(cfg, batch, context(b));
      const copy = (g: Record<string, Float32Array>) =>
        Object.fromEntries(Object.entries(g).map(([k, v]) => [k, v.slice()]));
      const a = one.forward(w, x, eps), ga = copy(one.backward(dlx, dlz)), sa = one.generate(w, eps);
      const seed = 0x9e3779b9, values = fillNoise(seed, 0, new Float32Array(eps.length));
      const c = one.forward(w, x, values), gc = copy(one.backward(dlx, dlz)), sc = one.generate(w, values);
      for (const threads of [2, 3]) {
        const pool = FusedPool.create(cfg, batch, threads, module, b);
        ok(pool, `a pool of ${threads} threads starts`);
        // deno-lint-ignore no-explicit-any -- reaching into the pool: its threads share the LSTMs' products by columns
        ok((pool as any).threads.main.team, "a training pool's threads are a team (team.ts)");
        try {
          const r = pool.forward(w, x, eps);
          assertClose(r.lx, a.lx, { rtol: 1e-6, what: "Lx" });
          assertClose(r.lz, a.lz, { rtol: 1e-6, what: "Lz" });
          assertClose(r.logRatio, a.logRatio, { rtol: 1e-5, atol: 1e-5, what: "log ratio" });
          const gb = pool.backward(dlx, dlz);
          for (const name of Object.keys(ga)) assertNormClose(gb[name], ga[name], { rtol: 1e-5, what: name });
          assertClose(pool.generate(w, eps), sa, { rtol: 1e-6, atol: 1e-6, what: "samples" });
          // given a seed, each thread draws its own images' noise: fillNoise's values, as one thread given them
          const lx = pool.forward(w, x, seed).lx;
          assertClose(lx, c.lx, { rtol: 1e-6, what: "Lx, seeded" });
          const gd = pool.backward(dlx, dlz);
          for (const name of Object.keys(gc)) {
            assertNormClose(gd[name], gc[name], { rtol: 1e-5, what: `${name}, seeded` });
          }
          assertClose(pool.generate(w, seed), sc, { rtol: 1e-6, atol: 1e-6, what: "samples, seeded" });
          assertClose(pool.forward(w, x, eps).lx, a.lx, { rtol: 1e-6, what: "Lx from values after a seed" });
        } finally {
          pool.dispose();
        }
      }
      ok(
        FusedPool.create(cfg, 2 * MIN_SHARE - 1, 2, module, b) === undefined,
        "a batch too small to split: one thread",
      );
    });
  }
}

Deno.test("Team: a failed thread's partners throw at their next barrier instead of waiting; reset clears it", () => {
  const arena = newArena(module), sizes = { T: 2, E: 8, Q: 4, G: 16, X: 0 };
  const place = { ptr: Team.allocate(arena, 10, sizes), batch: 10, first: 0, n: 5, size: 2, rank: 0 };
  const team = new Team(arena, place, sizes);
  deepEqual([team.columns(16), team.columns(10), new Team(arena, { ...place, rank: 1 }, sizes).columns(10)], [
    [0, 8],
    [0, 8],
    [8, 10],
  ]);
  team.fail();
  throws(() => team.barrier(), TeamFailure);
  team.reset();
  const alone = new Team(arena, { ...place, size: 1 }, sizes);
  alone.barrier(); // the last (only) thread to arrive passes at once
});

Deno.test("FusedPool: when the main thread's share throws, the woken workers are waited for, and the pool goes on", () => {
  const cfg: DrawConfig = { ...MNIST, T: 6, hidden: 32, z: 8 };
  const batch = 64;
  const { w, x, eps } = drawProblem(cfg, paramSpecs(cfg), batch, 5);
  const pool = FusedPool.create(cfg, batch, 2, module);
  ok(pool, "a pool of 2 threads starts");
  try {
    const want = pool.forward(w, x, eps).lx;
    // deno-lint-ignore no-explicit-any -- reaching into the pool to plant a failure on the main thread
    const threads = (pool as any).threads, main = threads.main as FusedDraw, run = main.runForward;
    main.runForward = () => {
      throw new Error("planted");
    };
    throws(() => pool.forward(w, x, eps), /planted/);
    const share = threads.shares[0];
    equal(Atomics.load(share.ctrl, CONTROL.DONE), share.seq, "the worker had finished its share when forward threw");
    main.runForward = run;
    assertClose(pool.forward(w, x, eps).lx, want, { atol: 0, what: "Lx after the failure" });
  } finally {
    pool.dispose();
  }
});

for (const b of PRODUCTS) {
  Deno.test(`ClassifierPool: the classifier's batch split over threads = one thread (${label(b)})`, () => {
    const cfg = { ...CLUTTERED, width: 30, height: 24, glimpses: 3, hidden: 20, readN: 6 };
    const batch = 50, rng = new Rng(9), specs = classifierSpecs(cfg); // 50: not a multiple of 3
    const w = randomParams(specs, rng);
    const x = Float32Array.from({ length: batch * 30 * 24 }, () => rng.uniform());
    const dL = rng.fillNormal(new Float32Array(batch * cfg.classes));
    const one = new FusedClassifier(cfg, batch, context(b));
    const logits = one.forward(w, x), grads = one.backward(dL);
    for (const threads of [2, 3]) {
      const pool = ClassifierPool.create(cfg, batch, threads, module, b, 60_000);
      ok(threads * MIN_SHARE > batch ? pool === undefined : pool, `${threads} threads for ${batch} images`);
      if (!pool) continue;
      try {
        assertClose(pool.forward(w, x), logits, { rtol: 1e-6, atol: 1e-6, what: "logits" });
        const g = pool.backward(dL);
        for (const name of Object.keys(grads)) assertNormClose(g[name], grads[name], { rtol: 1e-5, what: name });
      } finally {
        pool.dispose();
      }
    }
  });
}

for (const [kind, small] of Object.entries(SMALL)) {
  Deno.test(`a forward-only runner (evaluation, generation) gives the same losses and samples in less memory (${kind})`, () => {
    const cfg: DrawConfig = { ...small, T: 5 };
    const batch = 40;
    const { w, x, eps } = drawProblem(cfg, paramSpecs(cfg), batch, 4);
    const full = context(), lean = context();
    const a = new FusedDraw(cfg, batch, full), b = new FusedDraw(cfg, batch, lean, { training: false });
    const la = a.forward(w, x, eps), lb = b.forward(w, x, eps);
    assertClose(lb.lx, la.lx, { atol: 0, what: "Lx" });
    assertClose(lb.lz, la.lz, { atol: 0, what: "Lz" });
    assertClose(lb.logRatio, la.logRatio, { atol: 0, what: "log ratio" });
    assertClose(b.generate(w, eps), a.generate(w, eps), { atol: 0, what: "samples" });
    ok(lean.arena.used < 0.5 * full.arena.used, `${lean.arena.used} bytes against ${full.arena.used}`);
    throws(() => b.backward(new Float32Array(batch), new Float32Array(batch)), /forward-only/);
    const pool = FusedPool.create(cfg, batch, 2, module, undefined, false);
    ok(pool, "a forward-only pool starts");
    try {
      assertClose(pool.forward(w, x, eps).lx, la.lx, { rtol: 1e-6, what: "pooled Lx" });
    } finally {
      pool.dispose();
    }
  });
}

Deno.test("Draw.generate and Draw.loss for evaluation on the fused engine (noise drawn by its threads from a seed) = the same of drawNoise", async () => {
  await selectBackend("wasm");
  const engine = await createEngine("fused", { threads: 2 });
  try {
    const cfg: DrawConfig = { ...MNIST, T: 4, hidden: 32, z: 8 };
    const model = new Draw(cfg, 2);
    model.engine = engine;
    for (const n of [60, 7, 60]) {
      const [a, b] = [new Rng(n), new Rng(n)];
      const got = model.generate(n, a);
      const eps = drawNoise(cfg, n, b);
      const want = drawGenerate(model.weights, cfg, eps, { engine });
      assertClose(await got.logits.data() as Float32Array, await want.logits.data() as Float32Array, {
        atol: 0,
        what: `logits of ${n}`,
      });
      equal(a.state, b.state, "the same draws taken from rng");
      tf.dispose([got.logits, got.means, want.logits, want.means, eps]);
      // evaluation (eval, importance weights): Lx, Lz and log p(z) − log q(z|x) of the same noise
      const x = tf.tidy(() => tf.cast(tf.less(tf.randomUniform([n, 28, 28, 1], 0, 1, "float32", n), 0.3), "float32"));
      const [c, d] = [new Rng(n + 1), new Rng(n + 1)];
      const lost = model.loss(x as tf.Tensor4D, c, { inference: true, logWeights: true });
      const epsL = drawNoise(cfg, n, d);
      const ref = drawLoss(model.weights, cfg, x as tf.Tensor4D, epsL, { engine, inference: true, logWeights: true });
      for (const k of ["lx", "lz", "logRatio"] as const) {
        assertClose(await lost[k]!.data() as Float32Array, await ref[k]!.data() as Float32Array, {
          atol: 0,
          what: `${k} of ${n}`,
        });
      }
      equal(c.state, d.state, "the same draws taken from rng (loss)");
      tf.dispose([x, epsL, lost.lx, lost.lz, lost.loss, lost.logRatio!, ref.lx, ref.lz, ref.loss, ref.logRatio!]);
    }
    model.dispose();
  } finally {
    engine.dispose();
  }
});

Deno.test("the fused engine gives evaluation and generation a forward-only runner, training a full one", async () => {
  await selectBackend("cpu");
  const cfg: DrawConfig = { ...MNIST, T: 4, hidden: 32, z: 8 };
  for (const threads of [1, 2]) {
    const engine = await createEngine("fused", { threads });
    try {
      const batch = 40, { w, x, eps, dlx, dlz } = drawProblem(cfg, paramSpecs(cfg), batch, 6);
      const lean = (engine.draw(cfg, batch, { training: false }) as FusedDrawPasses).runner;
      const full = (engine.draw(cfg, batch) as FusedDrawPasses).runner;
      ok(lean !== full, `${threads} thread(s): two runners`);
      ok(
        engine.draw(cfg, batch, { training: true }) === engine.draw(cfg, batch),
        "the training runner is the default, cached",
      );
      ok((engine.draw(cfg, batch) as FusedDrawPasses).runner === full, "its passes hold that runner");
      lean.forward(w, x, eps);
      throws(() => lean.backward(dlx, dlz), /forward-only/);
      full.forward(w, x, eps);
      full.backward(dlx, dlz);
    } finally {
      engine.dispose();
    }
  }
});

Deno.test("engine choice: names are checked, auto is fused on CPU backends with or without BLAS", async () => {
  await selectBackend("cpu");
  const rejects = async (p: Promise<unknown>, re: RegExp) => {
    try {
      await p;
    } catch (e) {
      ok(re.test(String(e)), String(e));
      return;
    }
    throw new Error(`expected a rejection matching ${re}`);
  };
  await rejects(
    createEngine("fast" as never),
    /engine as it must be one of auto, fused, webgpu, tfjs: current value is fast/,
  );
  await rejects(
    createEngine("webgpu", { backend: "wasm" }),
    /runs on the webgpu backend, not wasm: add --backend webgpu/,
  );
  await rejects(createEngine("webgpu"), /WebGPU engine on the cpu backend: select --backend webgpu/);
  await rejects(createEngine("fused", { threads: 0 }), /threads must be an integer >= 1/);
  equal((await createEngine("tfjs")).name, "tfjs");
  const auto: Engine = await createEngine("auto", { backend: "wasm" });
  equal(auto.name, "fused");
  ok(auto.description.includes(blas ? blas.path : "wasm SIMD kernels (no CBLAS found)"), auto.description);
  const wasmOnly = await createEngine("fused", { products: "wasm", threads: 1 });
  ok(/wasm SIMD kernels/.test(wasmOnly.description), wasmOnly.description);
  auto.dispose();
});

for (const b of PRODUCTS) {
  Deno.test(`fused classifier = tfjs composition, logits and every gradient (cluttered model's sizes, ${label(b)})`, async () => {
    await selectBackend("cpu");
    const cfg = { ...CLUTTERED, glimpses: 2 };
    const batch = 3, rng = new Rng(8);
    const specs = classifierSpecs(cfg);
    const w = randomParams(specs, rng);
    const x = Float32Array.from({ length: batch * 100 * 100 }, () => rng.uniform());
    const dL = rng.fillNormal(new Float32Array(batch * cfg.classes));
    const engine = new FusedClassifier(cfg, batch, context(b));
    const logits = engine.forward(w, x);
    const grads = engine.backward(dL);
    const ws = specs.map((s) => tf.tensor(w[s.name], s.shape));
    const img = tf.tensor4d(x, [batch, 100, 100, 1]), td = tf.tensor2d(dL, [batch, cfg.classes]);
    const named = (v: tf.Tensor[]) => Object.fromEntries(specs.map((s, i) => [s.name, v[i]]));
    const ref = classifierForward(named(ws), cfg, img).logits;
    assertClose(logits, await ref.data() as Float32Array, { rtol: 1e-4, atol: 1e-5, what: "logits" });
    const g = tf.grads((...v: tf.Tensor[]) => tf.sum(tf.mul(classifierForward(named(v), cfg, img).logits, td)))(ws);
    for (let i = 0; i < specs.length; i++) {
      assertNormClose(grads[specs[i].name], await g[i].data() as Float32Array, {
        rtol: 1e-4,
        atol: 1e-6,
        what: `∂/∂${specs[i].name}`,
      });
    }
    tf.dispose([...ws, ...g, img, td, ref]);
  });
}

/** A trainable model's objectiveGradients against tfjs's autodiff of its objective, on the same engine. */
async function checkObjectiveGradients(
  model: Trainable,
  batch: Batch,
  what: string,
): Promise<void> {
  const names = Object.keys(model.weights);
  const direct = model.objectiveGradients!(batch, new Rng(3));
  ok(direct, `${what}: the fused engine answers objectiveGradients`);
  const first = Object.fromEntries(names.map((n) => [n, direct.grads[n].dataSync().slice()]));
  // passes on other noise in between and after must not change gradients already handed out (copies)
  const other = [model.objectiveGradients!(batch, new Rng(4))!];
  let figures: Record<string, tf.Scalar> = {};
  const taped = tf.variableGrads(() => {
    const out = model.objective(batch, new Rng(3));
    figures = Object.fromEntries(Object.entries(out.figures).map(([k, v]) => [k, tf.keep(v)]));
    return out.loss;
  }, names.map((n) => model.weights[n]));
  other.push(model.objectiveGradients!(batch, new Rng(4))!);
  assertClose(await direct.loss.data() as Float32Array, await taped.value.data() as Float32Array, {
    rtol: 1e-6,
    what: `${what} loss`,
  });
  for (const [k, v] of Object.entries(figures)) {
    assertClose(await direct.figures[k].data() as Float32Array, await v.data() as Float32Array, {
      rtol: 1e-6,
      what: `${what} ${k}`,
    });
  }
  for (const n of names) {
    const got = await direct.grads[n].data() as Float32Array;
    assertClose(got, first[n], { atol: 0, what: `${what} ∂/∂${n} kept after later passes` });
    const want = await taped.grads[model.weights[n].name].data() as Float32Array;
    assertNormClose(got, want, { rtol: 1e-5, what: `${what} ∂/∂${n}` });
  }
  for (const r of [direct, ...other]) tf.dispose([r.loss, ...Object.values(r.figures), ...Object.values(r.grads)]);
  tf.dispose([taped.value, ...Object.values(figures), ...Object.values(taped.grads)]);
}

for (const backend of ["cpu", "wasm"] as const) {
  // The plumbing of the no-tape path: objectiveGradients (one fused pass, tensors read in place) gives what the tfjs
  // tape gives when it runs objective through the bridge, whose gradient is the same fused backward pass. This
  // checks the plumbing (copies, noise, figures, threads), not the backward pass itself: draw_test and
  // classifier_test check the fused gradients against central differences of the float64 reference.
  Deno.test(`objectiveGradients on the fused engine (no tape) = the tape through the fused bridge: the plumbing (${backend})`, async () => {
    await selectBackend(backend);
    for (const threads of [1, 2]) {
      const engine = await createEngine("fused", { threads });
      try {
        const cfg: DrawConfig = { ...MNIST, T: 4, hidden: 32, z: 8 };
        const draw = new Draw(cfg, 1);
        draw.engine = engine;
        const x = tf.tidy(() =>
          tf.cast(tf.less(tf.randomUniform([60, 28, 28, 1], 0, 1, "float32", 5), 0.2), "float32")
        );
        await checkObjectiveGradients(draw, { x: x as tf.Tensor4D }, `DRAW, ${threads} thread(s)`);
        const ccfg = { ...CLUTTERED, width: 40, height: 40, glimpses: 2, hidden: 16 };
        const classifier = new Classifier(ccfg, 2);
        classifier.engine = engine;
        const cx = tf.randomUniform([60, 40, 40, 1], 0, 1, "float32", 6) as tf.Tensor4D;
        const labels = tf.tensor1d(Array.from({ length: 60 }, (_, i) => (i * 7) % 10), "int32");
        await checkObjectiveGradients(classifier, { x: cx, labels }, `classifier, ${threads} thread(s)`);
        tf.dispose([x, cx, labels]);
        draw.dispose();
        classifier.dispose();
      } finally {
        engine.dispose();
      }
    }
  });
}

Deno.test({
  name: "a script that trains on the worker pool and never disposes it still exits, with status 0",
  fn: async () => {
    const at = (p: string) => JSON.stringify(new URL(p, import.meta.url).href);
    const script = `
      import * as tf from ${at("../src/tf.ts")};
      import { selectBackend } from ${at("../src/backend.ts")};
      import { MNIST } from ${at("../src/config.ts")};
      import { Draw } from ${at("../src/draw.ts")};
      import { createEngine } from ${at("../src/engine/engine.ts")};
      import { Rng } from ${at("../src/random.ts")};
      import { Trainer } from ${at("../src/trainer.ts")};
      await selectBackend("cpu");
      const model = new Draw({ ...MNIST, T: 4, hidden: 32, z: 8 }, 0);
      model.engine = await createEngine("fused", { threads: 2 });
      const r = await new Trainer(model).step(tf.randomUniform([100, 28, 28, 1]), new Rng(1));
      console.log(model.engine.description, Number.isFinite(r.loss));`;
    const file = await Deno.makeTempFile({ suffix: ".ts" });
    try {
      await Deno.writeTextFile(file, script);
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--config", new URL("../deno.json", import.meta.url).pathname, file],
        env: { NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
        signal: AbortSignal.timeout(60_000),
      }).output();
      const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
      equal(out.code, 0, text);
      ok(/2 thread\(s\) true/.test(text), text);
    } finally {
      await Deno.remove(file);
    }
  },
});
