/**
 * The WebGPU engine (WGSL kernels, one submit per pass) against the tfjs graph on the same
 * webgpu backend: a DRAW training step, the generation of a batch, and a classifier training step.
 * On a hardware adapter, at the paper's sizes (MNIST model, batch 100; the cluttered classifier,
 * batch 100); on a software one (Mesa's llvmpipe), at a small size that finishes: T = 16, batch 10
 * (DRAW_BENCH_WEBGPU=full forces the paper's sizes). Skipped where Deno has no adapter.
 * Run: deno bench -A bench/webgpu_bench.ts
 */
import * as tf from "../src/tf.ts";
import { selectBackend, webgpuAdapter } from "../src/backend.ts";
import { CLUTTERED, MNIST } from "../src/config.ts";
import { Classifier } from "../src/classifier.ts";
import { Draw } from "../src/draw.ts";
import { createEngine, type Engine, TFJS_ENGINE } from "../src/engine/engine.ts";
import { Rng } from "../src/random.ts";
import { Trainer } from "../src/trainer.ts";

const adapter = await webgpuAdapter();
if (adapter) {
  const full = !adapter.fallback || Deno.env.get("DRAW_BENCH_WEBGPU") === "full";
  const draw = full ? MNIST : { ...MNIST, T: 16 }, batch = full ? 100 : 10;
  const cluttered = full ? CLUTTERED : { ...CLUTTERED, glimpses: 4 };
  const size = `${full ? "paper's size" : "small"}: T ${draw.T}, batch ${batch}; ${adapter.description}`;
  await selectBackend("webgpu");
  const engines: Engine[] = [await createEngine("webgpu", { backend: "webgpu" }), TFJS_ENGINE];
  const model = new Draw(draw, 1);
  const trainer = new Trainer(model);
  const x = tf.tidy(() =>
    tf.cast(tf.less(tf.randomUniform([batch, 28, 28, 1], 0, 1, "float32", 3), 0.13), "float32")
  ) as tf.Tensor4D;
  const classifier = new Classifier(cluttered, 1);
  const classifierTrainer = new Trainer(classifier);
  const cx = tf.randomUniform([batch, 100, 100, 1], 0, 1, "float32", 4) as tf.Tensor4D;
  const labels = tf.tensor1d(Array.from({ length: batch }, (_, i) => i % 10));
  const rng = new Rng(1);
  for (const engine of engines) {
    const graph = engine.name === "tfjs";
    Deno.bench({
      name: `training step, MNIST model (${size}) on the ${engine.name} engine`,
      group: "train",
      baseline: graph,
      n: graph ? 2 : 5,
      warmup: 1,
      async fn() {
        model.engine = engine;
        await trainer.step(x, rng);
      },
    });
    Deno.bench({
      name: `generate ${batch} samples, MNIST model (${size}) on the ${engine.name} engine`,
      group: "generate",
      baseline: graph,
      n: 3,
      warmup: 1,
      async fn() {
        model.engine = engine;
        const s = model.generate(batch, rng);
        await s.means.data();
        tf.dispose([s.means, s.logits]);
      },
    });
    Deno.bench({
      name:
        `training step, cluttered classifier (${cluttered.glimpses} glimpses, batch ${batch}) on the ${engine.name} engine`,
      group: "classifier",
      baseline: graph,
      n: graph ? 2 : 5,
      warmup: 1,
      async fn() {
        classifier.engine = engine;
        await classifierTrainer.step({ x: cx, labels }, rng);
      },
    });
  }
} else {
  console.warn("webgpu_bench: Deno has no WebGPU adapter here: nothing to time");
}
