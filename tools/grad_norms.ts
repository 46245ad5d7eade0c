/**
 * Which weights a DRAW model's gradient comes from: trains for a few steps (Adam, clipped as `train` clips) and
 * prints, for every weight, the median and largest norm of its gradient before clipping, beside the global norm
 * that `train` logs as grad_norm. The write window's kernel is split into its five columns (g̃_X, g̃_Y, log σ²,
 * log δ̃, log γ: Eq 21). docs/results.md ("Fig 8") quotes it for two-digit MNIST, whose global norm is some ten
 * times MNIST's and clipped at every step.
 *
 * Starts from fresh weights (the preset's, with --T as `train` takes it), or with --from from a run directory,
 * checkpoint or shipped model (its raw weights). Batches of 100 training images, seed 0, the fused engine.
 *
 * Run: deno run -A tools/grad_norms.ts <dataset> [--steps N] [--T N] [--lr X] [--from RUN] [--threads N]
 *
 * @module
 */
import * as tf from "../src/tf.ts";
import { selectBackend } from "../src/backend.ts";
import { type DrawConfig, MNIST } from "../src/config.ts";
import { batchTensor } from "../src/data/dataset.ts";
import { DATASETS } from "../src/data/registry.ts";
import { Draw } from "../src/draw.ts";
import { createEngine } from "../src/engine/engine.ts";
import { Rng } from "../src/random.ts";
import { loadModel } from "../src/resolve.ts";
import { Trainer } from "../src/trainer.ts";
import { fail, toolArgs } from "./_args.ts";

const USAGE =
  "usage: deno run -A tools/grad_norms.ts <dataset> [--steps N] [--T N] [--lr X] [--from RUN] [--threads N]";

const { values, positionals } = toolArgs(USAGE, {
  steps: { type: "string" },
  T: { type: "string" },
  lr: { type: "string" },
  from: { type: "string" },
  threads: { type: "string" },
});
if (positionals.length !== 1) fail(USAGE, 2);
const entry = DATASETS.get(positionals[0]);
if (!entry || entry.task !== "generate") {
  const names = [...DATASETS].filter(([, e]) => e.task === "generate").map(([n]) => n).join(", ");
  fail(`${positionals[0]} is not a data set DRAW generates: choose one of ${names}`, 2);
}
/** A whole number ≥ 1 from `--flag`, or `fallback` where it is not given. */
function count(flag: string, given: string | undefined, fallback: number): number {
  const n = Number(given ?? fallback);
  if (!Number.isInteger(n) || n < 1) fail(`--${flag} must be a whole number >= 1: got ${given}`, 2);
  return n;
}
const steps = count("steps", values.steps, 100);
const threads = count("threads", values.threads, 1);
const lr = Number(values.lr ?? 1e-3);
if (!(lr > 0)) fail(`--lr must be a number > 0: got ${values.lr}`, 2);

await selectBackend("wasm");
const splits = await entry.load({ dataDir: Deno.env.get("DRAW_DATA_DIR") }).catch((e) => fail((e as Error).message, 1));
const train = splits.train;
let model: Draw;
if (values.from) {
  const loaded = await loadModel(values.from, { raw: true }).catch((e) => fail((e as Error).message, 1));
  if (!(loaded instanceof Draw)) fail(`${values.from} is not a DRAW model`, 2);
  if (values.T) fail(`--T is for fresh weights: ${values.from} has its own T (${loaded.config.T}); leave --T out`, 2);
  const { width, height, channels } = loaded.config;
  if (width !== train.width || height !== train.height || channels !== train.channels) {
    fail(`${values.from} was built for ${width}×${height}×${channels} images, not ${positionals[0]}'s`, 2);
  }
  model = loaded;
} else {
  const config: DrawConfig = { ...MNIST, width: train.width, height: train.height, channels: train.channels };
  model = new Draw(values.T ? { ...config, T: count("T", values.T, 0) } : config, 0);
}
model.engine = await createEngine("fused", { threads });

const WINDOW = ["g_X", "g_Y", "log σ²", "log δ", "log γ"]; // Eq 21's raw outputs (g̃, log δ̃ in the paper)
const norms = new Map<string, number[]>();
const note = (name: string, v: number) => norms.set(name, [...(norms.get(name) ?? []), v]);
const trainer = new Trainer({
  weights: model.weights,
  objective: model.objective.bind(model),
  objectiveGradients(b, rng) {
    const r = model.objectiveGradients(b, rng)!;
    tf.tidy(() => {
      for (const [n, g] of Object.entries(r.grads)) note(n, tf.norm(g).dataSync()[0]);
      const w = r.grads["write.window.kernel"];
      if (w) tf.sqrt(tf.sum(tf.square(w), 0)).dataSync().forEach((v, i) => note(`write.window.kernel ${WINDOW[i]}`, v));
    });
    return r;
  },
}, { lr });
const rng = new Rng(0);
for (let s = 0; s < steps; s++) {
  const x = batchTensor(train, Array.from({ length: 100 }, () => Math.floor(rng.uniform() * train.count)), rng);
  const r = await trainer.step(x, rng);
  x.dispose();
  note("(global, as grad_norm)", r.gradNorm);
}
const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1];
console.log(`${model.config.width}×${model.config.height}, T = ${model.config.T}, ${steps} steps at lr ${lr}:`);
console.log(`${"weight".padEnd(30)} ${"median".padStart(9)} ${"largest".padStart(9)}`);
for (const [n, a] of [...norms].sort((x, y) => median(y[1]) - median(x[1]))) {
  console.log(
    `${n.padEnd(30)} ${median(a).toExponential(2).padStart(9)} ${Math.max(...a).toExponential(2).padStart(9)}`,
  );
}
model.dispose();
