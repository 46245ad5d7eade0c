/**
 * One training step and the generation of 100 samples at the paper's MNIST configuration
 * (Table 3: T=64, LSTM 256, z 100, read 2×2, write 5×5, batch 100), one training step of the MNIST
 * model without attention (Table 2's, Eqs 17–18), and one of the cluttered-MNIST classifier (8
 * glimpses of 12×12 from 100×100).
 * Each runs on the tfjs graph and on the fused engine (wasm SIMD kernels; products in OpenBLAS
 * where it is found, DRAW_BLAS_LIB=none for the kernels alone).
 * Run: deno bench -A bench/train_bench.ts
 */
import * as tf from "../src/tf.ts";
import "./_setup.ts";
import { CLUTTERED, MNIST, MNIST_NO_ATTENTION } from "../src/config.ts";
import { Classifier } from "../src/classifier.ts";
import { Draw } from "../src/draw.ts";
import { Rng } from "../src/random.ts";
import { Trainer } from "../src/trainer.ts";
import { createEngine, TFJS_ENGINE } from "../src/engine/engine.ts";

const model = new Draw(MNIST, 1);
const trainer = new Trainer(model);
const x = tf.tidy(() =>
  tf.cast(tf.less(tf.randomUniform([100, 28, 28, 1], 0, 1, "float32", 3), 0.13), "float32")
) as tf.Tensor4D;
const rng = new Rng(1);

const ENGINES = [await createEngine("fused"), TFJS_ENGINE];

// The paper's MNIST model, and Table 2's without attention (its encoder reads the whole image and its
// error: 2,080 inputs); the tfjs graph fewer times, being slow
const whole = new Draw(MNIST_NO_ATTENTION, 1);
const DRAWS = [
  { what: "MNIST model", group: "train", model, trainer, tfjsRuns: 3 },
  {
    what: "MNIST model without attention",
    group: "train without attention",
    model: whole,
    trainer: new Trainer(whole),
    tfjsRuns: 2,
  },
];
for (const engine of ENGINES) {
  for (const d of DRAWS) {
    Deno.bench({
      name: `training step, ${d.what}, batch 100 (${engine.description})`,
      group: d.group,
      baseline: engine.name === "tfjs",
      n: engine.name === "fused" ? 10 : d.tfjsRuns,
      warmup: 1,
      async fn() {
        d.model.engine = engine;
        await d.trainer.step(x, rng);
      },
    });
  }
  Deno.bench({
    name: `generate 100 samples, MNIST model (${engine.name} engine)`,
    group: "generate",
    baseline: engine.name === "tfjs",
    n: 5,
    warmup: 1,
    async fn() {
      model.engine = engine;
      const s = model.generate(100, rng);
      await s.means.data();
      tf.dispose([s.means, s.logits]);
    },
  });
}

// The classifier of Section 4.1 (Table 3: 8 glimpses of 12×12 from 100×100, LSTM 256), batch 100.
const classifier = new Classifier(CLUTTERED, 1);
const classifierTrainer = new Trainer(classifier);
const cx = tf.randomUniform([100, 100, 100, 1], 0, 1, "float32", 4) as tf.Tensor4D;
const labels = tf.tensor1d(Array.from({ length: 100 }, (_, i) => i % 10));
for (const engine of ENGINES) {
  Deno.bench({
    name: `training step, cluttered-MNIST classifier, batch 100 (${engine.name} engine)`,
    group: "classifier",
    baseline: engine.name === "tfjs",
    n: 5,
    warmup: 1,
    async fn() {
      classifier.engine = engine;
      await classifierTrainer.step({ x: cx, labels }, rng);
    },
  });
}
