/**
 * The fused engine (fused.ts, fused_pool.ts, gemm.ts) against the plain tfjs composition, values
 * and gradients, at the paper's layer sizes; the native product against the TypeScript one; the
 * threaded pool against one thread. (spec/draw_test.ts checks the engine against the float64
 * reference and finite differences at tiny sizes.)
 */
import fc from "fast-check";
import * as tf from "../src/tf.ts";
import { selectBackend } from "../src/backend.ts";
import { CIFAR, CLUTTERED, type DrawConfig, imageSize, MNIST } from "../src/config.ts";
import { classifierForward, classifierSpecs } from "../src/classifier.ts";
import { FusedClassifier } from "../src/fused_classifier.ts";
import { drawLoss, paramSpecs, toInternal } from "../src/draw.ts";
import { disposeEngine, engineInUse, setEngine } from "../src/engine.ts";
import { AttentionKernels, fastExp, FusedDraw, type FusedWeights } from "../src/fused.ts";
import { attentionWindow, filterbank, readPatch, writePatch } from "../src/attention.ts";
import { FusedPool, MIN_SHARE } from "../src/fused_pool.ts";
import { jsGemm, openCblas } from "../src/gemm.ts";
import { Rng } from "../src/random.ts";
import { assertClose, assertNormClose, equal, ok, throws } from "./_assert.ts";

const SEED = 20151120;
const blas = openCblas();

function problem(cfg: DrawConfig, batch: number, seed: number) {
  const rng = new Rng(seed);
  const w: FusedWeights = {};
  for (const s of paramSpecs(cfg)) {
    // kernels at the initialisation's scale, everything else (biases, initial states) non-zero
    const scale = s.shape.length === 2 ? 1 / Math.sqrt(s.shape[0]) : 0.3;
    w[s.name] = rng.fillNormal(new Float32Array(s.shape.reduce((a, b) => a * b, 1))).map((e) => scale * e);
  }
  const x = Float32Array.from({ length: batch * imageSize(cfg) }, () => rng.uniform());
  const eps = rng.fillNormal(new Float32Array(cfg.T * batch * cfg.z));
  const dlx = Float32Array.from({ length: batch }, () => rng.uniform());
  const dlz = Float32Array.from({ length: batch }, () => rng.uniform());
  return { w, x, eps, dlx, dlz };
}

Deno.test("gemm: the TypeScript product is exact on small integers, every transpose", () => {
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
  name: "gemm: native sgemm agrees with the TypeScript product",
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

Deno.test("gemm: a product that would run past A, B or C is refused before any native code runs", () => {
  const four = new Float32Array(4), three = new Float32Array(3);
  const products = blas ? [jsGemm, blas.gemm] : [jsGemm];
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
  name: "gemm: OpenBLAS runs one thread per product (no server threads to race at exit)",
  ignore: !blas,
  fn: () => equal(blas!.threads, 1),
});

/** The MNIST and CIFAR models of Table 3 at T = 3 and a small batch: every layer at full size. */
const FULL: Record<string, DrawConfig> = { mnist: { ...MNIST, T: 3 }, cifar: { ...CIFAR, T: 2 } };

for (const [label, cfg] of Object.entries(FULL)) {
  Deno.test(`fused engine = tfjs composition, values and every gradient (${label} layer sizes)`, async () => {
    await selectBackend("cpu");
    const batch = 3;
    const { w, x, eps, dlx, dlz } = problem(cfg, batch, 7);
    const engine = new FusedDraw(cfg, batch);
    const got = engine.forward(w, x, eps);
    const grads = engine.backward(dlx, dlz);
    // the tfjs graph on the same inputs (x in [batch, H, W, C] order)
    setEngine("tfjs");
    try {
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
    } finally {
      setEngine("auto");
    }
  });
}

Deno.test({
  name: "FusedPool: the batch split over threads gives the one-thread losses, gradients and samples",
  ignore: !blas,
  fn: () => {
    const cfg: DrawConfig = { ...MNIST, T: 4, hidden: 32, z: 8 };
    const batch = 50; // not a multiple of 3 threads
    const { w, x, eps, dlx, dlz } = problem(cfg, batch, 3);
    const one = new FusedDraw(cfg, batch);
    const a = one.forward(w, x, eps), ga = one.backward(dlx, dlz), sa = one.generate(w, eps).slice();
    for (const threads of [2, 3]) {
      const pool = FusedPool.create(cfg, batch, threads);
      ok(pool, `a pool of ${threads} threads starts`);
      try {
        const b = pool.forward(w, x, eps);
        assertClose(b.lx, a.lx, { rtol: 1e-6, what: "Lx" });
        assertClose(b.lz, a.lz, { rtol: 1e-6, what: "Lz" });
        assertClose(b.logRatio, a.logRatio, { rtol: 1e-5, atol: 1e-5, what: "log ratio" });
        const gb = pool.backward(dlx, dlz);
        for (const name of Object.keys(ga)) assertNormClose(gb[name], ga[name], { rtol: 1e-5, what: name });
        assertClose(pool.generate(w, eps), sa, { rtol: 1e-6, atol: 1e-6, what: "samples" });
      } finally {
        pool.dispose();
      }
    }
    ok(FusedPool.create(cfg, 2 * MIN_SHARE - 1, 2) === undefined, "a batch too small to split runs on one thread");
  },
});

Deno.test("engine choice: names are checked, and the log line says which engine runs and why", async () => {
  await selectBackend("cpu");
  throws(() => setEngine("fast" as never), /engine as it must be one of auto, fused, tfjs: current value is fast/);
  throws(() => setEngine("fused", { threads: 0 }), /threads must be an integer >= 1/);
  setEngine("tfjs");
  ok(engineInUse().name === "tfjs");
  setEngine("fused");
  ok(engineInUse().name === "fused");
  setEngine("auto");
  const auto = engineInUse();
  ok(auto.name === (blas ? "fused" : "tfjs"), auto.reason);
  disposeEngine();
});

Deno.test("fused attention kernels = tfjs filterbank + read/write, values and gradients (every Table 3 size shape)", async () => {
  await selectBackend("cpu");
  const rng = new Rng(5);
  for (const [N, A, B, C] of [[2, 28, 28, 1], [5, 28, 28, 1], [3, 7, 6, 2], [12, 54, 54, 3], [5, 32, 32, 3]]) {
    const n = 3, D = B * C * A;
    const k = new AttentionKernels(N, A, B, C, n);
    const raw = Float32Array.from({ length: n * 5 }, () => rng.uniform() - 0.5);
    const x = Float32Array.from({ length: n * D }, () => rng.uniform());
    const c = rng.fillNormal(new Float32Array(n * D));
    const s = c.map((v) => 1 / (1 + Math.exp(-v))); // s = σ(c), the canvas's means
    const w = rng.fillNormal(new Float32Array(n * N * C * N));
    const dP = rng.fillNormal(new Float32Array(n * N * 2 * C * N));
    const dC = rng.fillNormal(new Float32Array(n * D));
    // fused
    const P = k.read(raw, x, s);
    const dS = new Float32Array(n * D);
    const dRawRead = k.readBackward(dP, P, x, s, dS);
    const V = new Float32Array(n * N * C * A);
    const canvas = k.write(raw, w, V);
    const dw = new Float32Array(w.length);
    const dRawWrite = k.writeBackward(dC, w, V, dw);
    // tfjs composition
    const t = {
      raw: tf.tensor2d(raw, [n, 5]),
      x: tf.tensor4d(x, [n, B, C, A]),
      c: tf.tensor4d(c, [n, B, C, A]),
      w: tf.tensor4d(w, [n, N, C, N]),
      dP: tf.tensor4d(dP, [n, N, 2 * C, N]),
      dC: tf.tensor4d(dC, [n, B, C, A]),
    };
    const read = (r: tf.Tensor, cv: tf.Tensor) => {
      const win = attentionWindow(r as tf.Tensor2D, N, A, B);
      const both = tf.concat([t.x, tf.sub(t.x, tf.sigmoid(cv))], 2) as tf.Tensor4D;
      return readPatch(both, filterbank(win, N, A, B), win.gamma);
    };
    const write = (r: tf.Tensor, wv: tf.Tensor) => {
      const win = attentionWindow(r as tf.Tensor2D, N, A, B);
      return writePatch(wv as tf.Tensor4D, filterbank(win, N, A, B), win.gamma);
    };
    const what = `N=${N} on ${A}×${B}×${C}`;
    const pRef = tf.tidy(() => read(t.raw, t.c));
    assertClose(P, await pRef.data() as Float32Array, { rtol: 1e-4, atol: 1e-5, what: `read, ${what}` });
    const [gr, gs] = tf.grads((r: tf.Tensor, cv: tf.Tensor) => tf.sum(tf.mul(read(r, cv), t.dP)))([t.raw, t.c]);
    assertNormClose(dRawRead, await gr.data() as Float32Array, { rtol: 1e-4, atol: 1e-6, what: `read ∂raw, ${what}` });
    assertNormClose(dS, await gs.data() as Float32Array, { rtol: 1e-4, atol: 1e-6, what: `read ∂c, ${what}` });
    const cRef = tf.tidy(() => write(t.raw, t.w));
    assertClose(canvas, await cRef.data() as Float32Array, { rtol: 1e-4, atol: 1e-5, what: `write, ${what}` });
    const [gr2, gw] = tf.grads((r: tf.Tensor, wv: tf.Tensor) => tf.sum(tf.mul(write(r, wv), t.dC)))([t.raw, t.w]);
    assertNormClose(dRawWrite, await gr2.data() as Float32Array, {
      rtol: 1e-4,
      atol: 1e-6,
      what: `write ∂raw, ${what}`,
    });
    assertNormClose(dw, await gw.data() as Float32Array, { rtol: 1e-4, atol: 1e-6, what: `write ∂w, ${what}` });
    tf.dispose([...Object.values(t), pRef, cRef, gr, gs, gr2, gw]);
  }
});

Deno.test("fastExp(): within 3e-10 of Math.exp over the range the engine uses, clamped beyond, NaN kept", () => {
  let worst = 0;
  for (let x = -700; x <= 700; x += 0.00731) worst = Math.max(worst, Math.abs(fastExp(x) / Math.exp(x) - 1));
  for (const x of [0, 1e-12, -1e-12, 0.5 * Math.LN2, -0.5 * Math.LN2]) {
    worst = Math.max(worst, Math.abs(fastExp(x) / Math.exp(x) - 1));
  }
  ok(worst < 3e-10, `relative error ${worst}`);
  equal(fastExp(1e6), fastExp(700));
  equal(fastExp(-1e6), fastExp(-700));
  ok(Number.isNaN(fastExp(NaN)));
});

Deno.test("fused image-only read (the classifier's, Section 4.1) = tfjs filterbank + read, at 12×12 from 100×100", async () => {
  await selectBackend("cpu");
  const rng = new Rng(6);
  const [N, A, B, C, n] = [12, 100, 100, 1, 2];
  const k = new AttentionKernels(N, A, B, C, n);
  const raw = Float32Array.from({ length: n * 5 }, () => rng.uniform() - 0.5);
  const x = Float32Array.from({ length: n * B * C * A }, () => rng.uniform());
  const dP = rng.fillNormal(new Float32Array(n * N * C * N));
  const P = k.read(raw, x, null);
  const dRaw = k.readBackward(dP, P, x, null, new Float32Array(0));
  const tr = tf.tensor2d(raw, [n, 5]), tx = tf.tensor4d(x, [n, B, C, A]), tdP = tf.tensor4d(dP, [n, N, C, N]);
  const read = (r: tf.Tensor) => {
    const win = attentionWindow(r as tf.Tensor2D, N, A, B);
    return readPatch(tx, filterbank(win, N, A, B), win.gamma);
  };
  const pRef = tf.tidy(() => read(tr));
  assertClose(P, await pRef.data() as Float32Array, { rtol: 1e-4, atol: 1e-5, what: "glimpse" });
  const [g] = tf.grads((r: tf.Tensor) => tf.sum(tf.mul(read(r), tdP)))([tr]);
  assertNormClose(dRaw, await g.data() as Float32Array, { rtol: 1e-4, atol: 1e-6, what: "∂raw" });
  tf.dispose([tr, tx, tdP, pRef, g]);
});

Deno.test("fused classifier = tfjs composition, logits and every gradient (cluttered model's sizes)", async () => {
  await selectBackend("cpu");
  const cfg = { ...CLUTTERED, glimpses: 2 };
  const batch = 3, rng = new Rng(8);
  const specs = classifierSpecs(cfg);
  const w: FusedWeights = {};
  for (const s of specs) {
    const scale = s.shape.length === 2 ? 1 / Math.sqrt(s.shape[0]) : 0.3;
    w[s.name] = rng.fillNormal(new Float32Array(s.shape.reduce((a, b) => a * b, 1))).map((e) => scale * e);
  }
  const x = Float32Array.from({ length: batch * 100 * 100 }, () => rng.uniform());
  const dL = rng.fillNormal(new Float32Array(batch * cfg.classes));
  const engine = new FusedClassifier(cfg, batch);
  const logits = engine.forward(w, x);
  const grads = engine.backward(dL);
  setEngine("tfjs");
  try {
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
  } finally {
    setEngine("auto");
  }
});

Deno.test({
  name: "a script that trains on the worker pool and never disposes it still exits, with status 0",
  ignore: !blas,
  fn: async () => {
    const at = (p: string) => JSON.stringify(new URL(p, import.meta.url).href);
    const script = `
      import * as tf from ${at("../src/tf.ts")};
      import { selectBackend } from ${at("../src/backend.ts")};
      import { MNIST } from ${at("../src/config.ts")};
      import { Draw } from ${at("../src/draw.ts")};
      import { engineInUse } from ${at("../src/engine.ts")};
      import { Rng } from ${at("../src/random.ts")};
      import { Trainer } from ${at("../src/trainer.ts")};
      await selectBackend("cpu");
      const trainer = new Trainer(new Draw({ ...MNIST, T: 4, hidden: 32, z: 8 }, 0));
      const r = await trainer.step(tf.randomUniform([100, 28, 28, 1]), new Rng(1));
      console.log(engineInUse().reason, Number.isFinite(r.loss));`;
    const file = await Deno.makeTempFile({ suffix: ".ts" });
    try {
      await Deno.writeTextFile(file, script);
      const started = performance.now();
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
      ok(performance.now() - started < 60_000);
    } finally {
      await Deno.remove(file);
    }
  },
});
