import * as tf from "../src/tf.ts";
import { selectBackend } from "../src/backend.ts";
import { type DrawConfig, TINY } from "../src/config.ts";
import { Draw, drawGenerate, drawLoss, drawNoise, type DrawWeights, paramSpecs } from "../src/draw.ts";
import { createEngine, TFJS_ENGINE } from "../src/engine/engine.ts";
import { Rng } from "../src/random.ts";
import { assertClose, assertColumnsClose, deepEqual, equal, ok, throws } from "./_assert.ts";
import { testEveryBackend, values } from "./_backends.ts";
import { centralDifferences, refDraw, refGenerate, type RefWeights } from "./_reference.ts";

/** Both engines: the tfjs graph and the fused engine (src/engine/, one thread; its wasm products). */
const ENGINES = { tfjs: TFJS_ENGINE, fused: await createEngine("fused", { threads: 1, products: "wasm" }) };

/** Every read/write combination at tiny sizes, non-square and colour included. */
const CONFIGS: Record<string, DrawConfig> = {
  "attention": TINY,
  "no attention": { ...TINY, readN: 0, writeN: 0 },
  "read attention only": { ...TINY, writeN: 0 },
  "write attention only": { ...TINY, readN: 0 },
  "colour": { ...TINY, channels: 3, width: 4, height: 5, readN: 3, writeN: 2 },
};

/** Random weights (all of them, biases and initial states too) as tensors and as float64. */
function randomWeights(cfg: DrawConfig, seed: number): { weights: DrawWeights; ref: RefWeights } {
  const rng = new Rng(seed);
  const weights: DrawWeights = {};
  const ref: RefWeights = {};
  for (const spec of paramSpecs(cfg)) {
    const v = rng.fillNormal(new Float32Array(spec.shape.reduce((a, b) => a * b, 1))).map((e) => 0.4 * e);
    weights[spec.name] = tf.tensor(v, spec.shape);
    ref[spec.name] = Float64Array.from(v);
  }
  return { weights, ref };
}

/** A batch of images in [0, 1] as a tensor and as per-image float64 arrays in (b, c, a) order. */
function randomImages(cfg: DrawConfig, batch: number, seed: number) {
  const { height: B, width: A, channels: C } = cfg;
  const rng = new Rng(seed);
  const v = Float32Array.from({ length: batch * B * A * C }, () => rng.uniform());
  const x = tf.tensor4d(v, [batch, B, A, C]);
  const perImage = Array.from({ length: batch }, (_, n) => {
    const out = new Float64Array(B * C * A);
    for (let b = 0; b < B; b++) {
      for (let a = 0; a < A; a++) {
        for (let c = 0; c < C; c++) out[(b * C + c) * A + a] = v[((n * B + b) * A + a) * C + c];
      }
    }
    return out;
  });
  return { x, perImage };
}

function epsFor(eps: Float32Array, cfg: DrawConfig, batch: number, n: number): number[][] {
  return Array.from(
    { length: cfg.T },
    (_, t) => Array.from(eps.slice((t * batch + n) * cfg.z, (t * batch + n + 1) * cfg.z)),
  );
}

for (const [label, cfg] of Object.entries(CONFIGS)) {
  testEveryBackend(`drawLoss() matches the float64 reference of Eqs 1–12 (${label})`, async (_b, rtol, engine) => {
    const batch = 3;
    const { weights, ref } = randomWeights(cfg, 1);
    const { x, perImage } = randomImages(cfg, batch, 2);
    const eps = drawNoise(cfg, batch, new Rng(3));
    const epsV = await eps.data() as Float32Array;
    const out = drawLoss(weights, cfg, x, eps, { trace: true });
    const lx = await values(out.lx), lz = await values(out.lz), loss = (await values(out.loss))[0];
    const canv = await values(out.canvases!);
    tf.dispose([out.readWindows!, out.writeWindows!].filter(Boolean));
    let mean = 0;
    for (let n = 0; n < batch; n++) {
      const r = refDraw(ref, cfg, perImage[n], epsFor(epsV, cfg, batch, n));
      assertClose(lx[n], r.lx, { rtol: 10 * rtol, what: `Lx of image ${n}` });
      assertClose(lz[n], r.lz, { rtol: 10 * rtol, atol: 1e-4, what: `Lz of image ${n}` });
      mean += (r.lx + r.lz) / batch;
      // The final canvas is c_0 plus the sum of every write (Eq 8).
      const sum = Float64Array.from(ref["canvas0"]);
      for (const w of r.writes) w.forEach((v, k) => (sum[k] += v));
      const D = sum.length, { height: B, width: A, channels: C } = cfg;
      const last = canv.slice(((cfg.T - 1) * batch + n) * D, ((cfg.T - 1) * batch + n + 1) * D); // [H, W, C]
      const lastHcw = new Float64Array(D);
      for (let b = 0; b < B; b++) {
        for (let a = 0; a < A; a++) {
          for (let c = 0; c < C; c++) lastHcw[(b * C + c) * A + a] = last[(b * A + a) * C + c];
        }
      }
      assertClose(lastHcw, sum, { rtol: 10 * rtol, atol: 1e-4, what: "c_T − (c_0 + Σ writes)" });
    }
    assertClose(loss, mean, { rtol: 10 * rtol, what: "Eq 12 batch mean" });
    // Without trace the same numbers come out (on the fused engine, where that step selects it).
    const plain = drawLoss(weights, cfg, x, eps, { logWeights: true, engine });
    const plx = await values(plain.lx), plz = await values(plain.lz), ratio = await values(plain.logRatio!);
    tf.dispose(plain.loss);
    for (let n = 0; n < batch; n++) {
      const r = refDraw(ref, cfg, perImage[n], epsFor(epsV, cfg, batch, n));
      assertClose(plx[n], r.lx, { rtol: 10 * rtol, what: `Lx of image ${n} (untraced)` });
      assertClose(plz[n], r.lz, { rtol: 10 * rtol, atol: 1e-4, what: `Lz of image ${n} (untraced)` });
      // image by image: an engine returning −Lz, or a constant, for every image fails here (a mean would not)
      assertClose(ratio[n], r.logRatio, { rtol: 10 * rtol, atol: 1e-4, what: `log p(z) − log q(z|x) of image ${n}` });
    }
    tf.dispose([x, eps, ...Object.values(weights)]);
  }, { webgpu: label === "attention" });
}

testEveryBackend("drawLoss() traces windows and canvases with the documented shapes", (_b, _rtol, engine) => {
  const { weights } = randomWeights(TINY, 4);
  const { x } = randomImages(TINY, 2, 5);
  const eps = drawNoise(TINY, 2, new Rng(6));
  const out = drawLoss(weights, TINY, x, eps, { trace: true });
  deepEqual(out.readWindows!.shape, [2, TINY.T, 5]);
  deepEqual(out.writeWindows!.shape, [2, TINY.T, 5]);
  deepEqual(out.canvases!.shape, [TINY.T, 2, TINY.height, TINY.width, 1]);
  const plain = drawLoss(weights, TINY, x, eps, { engine });
  equal(plain.canvases, undefined);
  tf.dispose([x, eps, ...Object.values(weights), ...Object.values(out), ...Object.values(plain)] as tf.Tensor[]);
});

testEveryBackend("drawGenerate() follows Eqs 13–15 and never touches the encoder", async (_b, rtol, engine) => {
  const n = 3;
  for (const cfg of [TINY, CONFIGS["no attention"], CONFIGS["colour"]]) {
    const { weights, ref } = randomWeights(cfg, 7);
    const eps = drawNoise(cfg, n, new Rng(8));
    const epsV = await eps.data() as Float32Array;
    // Encoder, posterior and read weights removed: generation must not need them.
    const decoderOnly = Object.fromEntries(
      Object.entries(weights).filter(([k]) => !/^(encoder\.kernel|encoder\.bias|encoder\.h0|posterior|read)/.test(k)),
    );
    const s = drawGenerate(decoderOnly, cfg, eps, { trace: true });
    const logits = await values(s.logits), means = await values(s.means);
    tf.dispose([s.canvases!, s.writeWindows!].filter(Boolean));
    // untraced generation (the fused engine, where selected) gives the same images
    const plain = drawGenerate(decoderOnly, cfg, eps, { engine });
    assertClose(await values(plain.logits), logits, { rtol: 10 * rtol, atol: 1e-5, what: "untraced c_T" });
    plain.means.dispose();
    const D = logits.length / n, { height: B, width: A, channels: C } = cfg;
    for (let k = 0; k < n; k++) {
      const cT = refGenerate(ref, cfg, epsFor(epsV, cfg, n, k));
      for (let b = 0; b < B; b++) {
        for (let a = 0; a < A; a++) {
          for (let c = 0; c < C; c++) {
            const got = logits[k * D + (b * A + a) * C + c], want = cT[(b * C + c) * A + a];
            assertClose(got, want, { rtol: 10 * rtol, atol: 1e-4, what: "c_T" });
            assertClose(means[k * D + (b * A + a) * C + c], 1 / (1 + Math.exp(-want)), {
              rtol: 10 * rtol,
              atol: 1e-5,
              what: "σ(c_T)",
            });
          }
        }
      }
    }
    tf.dispose([eps, ...Object.values(weights)]);
  }
}, { webgpu: true });

Deno.test("drawLoss() gradients of every weight match central finite differences (tiny preset)", async (t) => {
  await selectBackend("cpu"); // the fused engine reads its inputs on the host
  for (
    const [label, cfg, name] of Object.entries(CONFIGS).flatMap(([l, c]) =>
      (["tfjs", "fused"] as const).map((e) => [l, c, e] as const)
    )
  ) {
    await t.step(`${label}, ${name}`, async () => {
      const engine = ENGINES[name];
      const batch = 2;
      const { weights, ref } = randomWeights(cfg, 9);
      const { x, perImage } = randomImages(cfg, batch, 10);
      const eps = drawNoise(cfg, batch, new Rng(11));
      const epsV = await eps.data() as Float32Array;
      const names = Object.keys(weights);
      const grads = tf.grads((...ws: tf.Tensor[]) =>
        drawLoss(Object.fromEntries(names.map((n, k) => [n, ws[k]])), cfg, x, eps, { engine }).loss
      )(names.map((n) => weights[n]));
      const lossAt = (w: RefWeights) =>
        perImage.reduce((s, img, n) => {
          const r = refDraw(w, cfg, img, epsFor(epsV, cfg, batch, n));
          return s + (r.lx + r.lz) / batch;
        }, 0);
      // float32 gradients against float64 central differences (h = 1e-6 on a loss of order 10–100: their own
      // error near 1e-5): 2e-3 of each column's norm, column by column (a matrix's last axis)
      for (let p = 0; p < names.length; p++) {
        const fd = centralDifferences(ref[names[p]], () => lossAt(ref));
        const shape = weights[names[p]].shape, cols = shape.length === 2 ? shape[1] : 1;
        assertColumnsClose(await values(grads[p]), fd, cols, {
          rtol: 2e-3,
          atol: 1e-5,
          what: `∂L/∂${names[p]} (${label})`,
        });
      }
      tf.dispose([x, eps, ...Object.values(weights)]);
    });
  }
});

Deno.test("drawLoss() and drawGenerate() reject wrong shapes with a message naming them", () => {
  const { weights } = randomWeights(TINY, 1);
  const x = tf.zeros([2, 6, 5, 1]) as tf.Tensor4D; // width and height swapped
  const eps = tf.zeros([TINY.T, 2, TINY.z]) as tf.Tensor3D;
  throws(() => drawLoss(weights, TINY, x, eps), /images must be \[batch, 5,6,1\]: current shape is \[2,6,5,1\]/);
  const x2 = tf.zeros([2, 5, 6, 1]) as tf.Tensor4D;
  const bad = tf.zeros([TINY.T, 3, TINY.z]) as tf.Tensor3D;
  throws(() => drawLoss(weights, TINY, x2, bad), /noise must be \[T, batch, z\]/);
  const { ["write.kernel"]: dropped, ...missing } = weights;
  throws(() => drawLoss(missing, TINY, x2, eps), /weight write.kernel is missing/);
  throws(() => drawGenerate(missing, TINY, eps), /write.kernel/);
  throws(() => new Draw({ ...TINY, readN: 1 }), RangeError);
  tf.dispose([x, eps, x2, bad, dropped, ...Object.values(missing)]);
});

Deno.test("Draw draws fresh noise for every step (Eq 6), reproducibly from the seed", async () => {
  const eps = drawNoise(TINY, 4, new Rng(1));
  const steps = tf.unstack(eps);
  const v = await Promise.all(steps.map((s) => s.data()));
  for (let t = 1; t < v.length; t++) ok(v[t].some((e, k) => e !== v[0][k]), `step ${t} reuses step 0's noise`);
  const again = drawNoise(TINY, 4, new Rng(1));
  deepEqual(await again.data(), await eps.data());
  tf.dispose([eps, again, ...steps]);
  const model = new Draw(TINY, 3);
  const x = tf.ones([2, 5, 6, 1]) as tf.Tensor4D;
  const a = model.loss(x, new Rng(5)), b = model.loss(x, new Rng(5)), c = model.loss(x, new Rng(6));
  const [la, lb, lc] = [await values(a.loss), await values(b.loss), await values(c.loss)];
  deepEqual(la, lb);
  ok(la[0] !== lc[0], "another noise seed should change the one-sample loss");
  tf.dispose([x, a.lx, a.lz, b.lx, b.lz, c.lx, c.lz]);
  model.dispose();
});
