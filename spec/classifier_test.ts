import * as tf from "../src/tf.ts";
import { Classifier, classifierForward, classifierSpecs, softmaxCrossEntropy } from "../src/classifier.ts";
import type { ClassifierConfig } from "../src/config.ts";
import { Rng } from "../src/random.ts";
import { Trainer } from "../src/trainer.ts";
import { assertClose, assertNormClose, deepEqual, ok, throws } from "./_assert.ts";
import { testEveryBackend, values } from "./_backends.ts";
import { centralDifferences, refLinear, refLstm, refRead, type RefWeights, refWindow } from "./_reference.ts";

const CFG: ClassifierConfig = { width: 12, height: 10, channels: 1, glimpses: 2, hidden: 3, readN: 3, classes: 4 };

function randomWeights(seed: number) {
  const rng = new Rng(seed);
  const weights: Record<string, tf.Tensor> = {}, ref: RefWeights = {};
  for (const spec of classifierSpecs(CFG)) {
    const v = rng.fillNormal(new Float32Array(spec.shape.reduce((a, b) => a * b, 1))).map((e) => 0.5 * e);
    weights[spec.name] = tf.tensor(v, spec.shape);
    ref[spec.name] = Float64Array.from(v);
  }
  return { weights, ref };
}

/** Section 4.1 in float64: glimpses through Eq 27 (image only), LSTM, softmax cross-entropy. */
function refLoss(w: RefWeights, img: ArrayLike<number>, label: number): number {
  let s: { h: Float64Array; c: Float64Array } = { h: Float64Array.from(w["h0"]), c: new Float64Array(CFG.hidden) };
  for (let t = 0; t < CFG.glimpses; t++) {
    const win = refWindow(refLinear(s.h, w["read.kernel"], w["read.bias"]), CFG.readN, CFG.width, CFG.height);
    const g = refRead(img, 1, win, CFG.readN, CFG.width, CFG.height);
    s = refLstm(Array.from(g), s.h, s.c, w["lstm.kernel"], w["lstm.bias"]);
  }
  const z = refLinear(s.h, w["out.kernel"], w["out.bias"]);
  const m = Math.max(...z);
  return m + Math.log(z.reduce((a, v) => a + Math.exp(v - m), 0)) - z[label];
}

testEveryBackend(
  "classifierForward() matches the float64 reference, and its gradients match central differences",
  async (_b, rtol, engine) => {
    const { weights, ref } = randomWeights(4);
    const rng = new Rng(5);
    const imgs = Array.from({ length: 2 }, () => Float64Array.from({ length: 120 }, () => rng.uniform()));
    const labels = [2, 0];
    const x = tf.tensor4d(Float32Array.from(imgs.flatMap((a) => Array.from(a))), [2, 10, 12, 1]);
    const y = tf.tensor1d(labels);
    const loss = (ws: Record<string, tf.Tensor>) =>
      tf.mean(softmaxCrossEntropy(classifierForward(ws, CFG, x, { engine }).logits, y));
    const got = (await values(tf.tidy(() => loss(weights))))[0];
    const lossAt = (w: RefWeights) => (refLoss(w, imgs[0], labels[0]) + refLoss(w, imgs[1], labels[1])) / 2;
    assertClose(got, lossAt(ref), { rtol: 10 * rtol, what: "cross-entropy" });
    const names = Object.keys(weights);
    const grads = tf.grads((...ws: tf.Tensor[]) => loss(Object.fromEntries(names.map((n, k) => [n, ws[k]]))))(
      names.map((n) => weights[n]),
    );
    for (let p = 0; p < names.length; p++) {
      const fd = centralDifferences(ref[names[p]], () => lossAt(ref));
      assertNormClose(await values(grads[p]), fd, { rtol: 2e-3, atol: 1e-6, what: `∂L/∂${names[p]}` });
    }
    tf.dispose([x, y, ...Object.values(weights)]);
  },
);

testEveryBackend("Classifier traces glimpse windows and learns a fixed labelled batch", async (_b, _r, engine) => {
  const model = new Classifier(CFG, 1);
  model.engine = engine;
  const rng = new Rng(2);
  const x = tf.tensor4d(Float32Array.from({ length: 4 * 120 }, () => rng.uniform()), [4, 10, 12, 1]);
  const labels = tf.tensor1d([0, 1, 2, 3]);
  const out = classifierForward(model.weights, CFG, x, { trace: true, engine });
  deepEqual(out.logits.shape, [4, 4]);
  deepEqual(out.windows!.shape, [4, 2, 5]);
  tf.dispose([out.logits, out.windows!]);
  const trainer = new Trainer(model, { lr: 0.05 });
  const first = await trainer.step({ x, labels }, rng);
  let last = first;
  for (let s = 0; s < 60; s++) last = await trainer.step({ x, labels }, rng);
  ok(last.loss < first.loss / 2, `cross-entropy ${first.loss} → ${last.loss}`);
  ok("error" in last.figures);
  tf.dispose([x, labels]);
  trainer.dispose();
  model.dispose();
});

Deno.test("Classifier rejects images of the wrong size and unlabelled batches", () => {
  const model = new Classifier(CFG, 1);
  const x = tf.zeros([1, 12, 10, 1]) as tf.Tensor4D;
  throws(() => classifierForward(model.weights, CFG, x), /images must be \[batch, 10,12,1\]/);
  const ok4 = tf.zeros([1, 10, 12, 1]) as tf.Tensor4D;
  throws(() => model.objective({ x: ok4 }, new Rng(1)), /without labels/);
  throws(() => new Classifier({ ...CFG, readN: 1 }), /readN must be >= 2: current value is 1/);
  tf.dispose([x, ok4]);
  model.dispose();
});

Deno.test("classifierSpecs() starts the glimpse window over the whole image with σ at half the stride", async () => {
  const cfg: ClassifierConfig = { ...CFG, width: 100, height: 100, readN: 12 };
  const model = new Classifier(cfg, 3);
  const bias = await model.weights["read.bias"].data();
  const stride = 99 / 11;
  assertClose(Array.from(bias), [0, 0, Math.log((stride / 2) ** 2), 0, 0], { rtol: 1e-6 });
  model.dispose();
});
