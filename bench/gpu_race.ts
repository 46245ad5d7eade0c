/**
 * Our side of the GPU race (tools/gpu_pack.ts packs it, bundled, for a GPU machine with no registry): one engine,
 * one batch size, timed training steps and generation at the paper's MNIST model, one JSON line. Each measurement
 * stops at its step count or its time cap, whichever comes first, so the whole race ends on time on any adapter.
 *
 * Run: deno run -A bench/gpu_race.ts [--probe] [--engine webgpu|fused|tfjs] [--backend webgpu|cpu|wasm]
 *   [--batch 100] [--T 64] [--steps 10] [--seconds 60] [--generate 100]
 *   deno run -A bench/gpu_race.ts --table LOGDIR   the race's table from the JSON lines in LOGDIR
 *
 * --probe prints the WebGPU adapter Deno finds (or why none) and exits. The peer's lines (draw_torch.py bench)
 * in LOGDIR join the table.
 *
 * @module
 */
import { parseArgs } from "node:util";
import * as tf from "../src/tf.ts";
import { type BackendName, selectBackend, webgpuAdapter } from "../src/backend.ts";
import { MNIST } from "../src/config.ts";
import { Draw } from "../src/draw.ts";
import { createEngine, type EngineName, TFJS_ENGINE } from "../src/engine/engine.ts";
import { Rng } from "../src/random.ts";
import { Trainer } from "../src/trainer.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    probe: { type: "boolean" },
    table: { type: "string" },
    engine: { type: "string" },
    backend: { type: "string" },
    batch: { type: "string" },
    T: { type: "string" },
    steps: { type: "string" },
    seconds: { type: "string" },
    generate: { type: "string" },
    threads: { type: "string" },
  },
});

/** One line of the race: who, at what size, how fast. */
interface RaceLine {
  who: string;
  device: string;
  batch: number;
  T: number;
  train_examples_per_s?: number;
  generate_samples_per_s?: number;
  steps?: number;
  note?: string;
}

if (values.probe) {
  const a = await webgpuAdapter();
  console.log(JSON.stringify(a ? { adapter: a.description, fallback: a.fallback } : { adapter: null }));
  Deno.exit(a ? 0 : 3);
}

if (values.table !== undefined) {
  console.log(table(values.table));
  Deno.exit(0);
}

const engineName = (values.engine ?? "webgpu") as EngineName;
const backendName = (values.backend ?? (engineName === "fused" ? "cpu" : "webgpu")) as BackendName;
const batch = Number(values.batch ?? 100), T = Number(values.T ?? MNIST.T), steps = Number(values.steps ?? 10);
const cap = 1000 * Number(values.seconds ?? 60), samples = Number(values.generate ?? 100);
await selectBackend(backendName);
const adapter = backendName === "webgpu" ? (await webgpuAdapter())?.description ?? "?" : "CPU";
const engine = engineName === "tfjs"
  ? TFJS_ENGINE
  : await createEngine(engineName, { backend: backendName, threads: Number(values.threads ?? 0) || undefined });
const config = { ...MNIST, T };
const model = new Draw(config, 0);
model.engine = engine;
const trainer = new Trainer(model);
const x = tf.tidy(() =>
  tf.cast(tf.less(tf.randomUniform([batch, 28, 28, 1], 0, 1, "float32", 3), 0.13), "float32")
) as tf.Tensor4D;
const rng = new Rng(0);
const line: RaceLine = { who: `draw.ts ${engine.name}`, device: adapter, batch, T };
try {
  await trainer.step(x, rng); // warm-up: pipelines, buffers
  let n = 0;
  const t0 = performance.now();
  while (n < steps && (n === 0 || performance.now() - t0 < cap)) {
    await trainer.step(x, rng);
    n++;
  }
  line.train_examples_per_s = (n * batch) / ((performance.now() - t0) / 1000);
  line.steps = n;
  const gen = () => {
    const g = model.generate(samples, rng);
    return g.means.data().then(() => tf.dispose([g.means, g.logits]));
  };
  await gen();
  let g = 0;
  const t1 = performance.now();
  while (g < 5 && (g === 0 || performance.now() - t1 < cap / 4)) {
    await gen();
    g++;
  }
  line.generate_samples_per_s = (g * samples) / ((performance.now() - t1) / 1000);
} catch (e) {
  line.note = (e as Error).message.split("\n")[0];
}
console.log(JSON.stringify(line));
x.dispose();
trainer.dispose();
model.dispose();
engine.dispose();

/** The race's table (markdown) from the JSON lines of every log in `dir`: ours and the peer's. */
function table(dir: string): string {
  const lines: RaceLine[] = [];
  for (const e of Deno.readDirSync(dir)) {
    if (!e.name.endsWith(".json")) continue;
    for (const text of Deno.readTextFileSync(`${dir}/${e.name}`).split("\n")) {
      let r: Record<string, unknown>;
      try {
        r = JSON.parse(text);
      } catch {
        continue;
      }
      if (typeof r.who === "string") lines.push(r as unknown as RaceLine);
      else if (typeof r.torch === "string") { // draw_torch.py bench
        lines.push({
          who: `PyTorch peer ${r.torch}`,
          device: String(r.device),
          batch: Number(r.batch),
          T: Number(r.T),
          train_examples_per_s: Number(r.train_examples_per_s),
          generate_samples_per_s: Number(r.generate_samples_per_s),
        });
      } else if (typeof r.failed === "string") lines.push(r as unknown as RaceLine);
    }
  }
  lines.sort((a, b) => a.batch - b.batch || a.who.localeCompare(b.who));
  const fmt = (v?: number) => (v === undefined || !Number.isFinite(v) ? "–" : v.toFixed(1));
  return [
    "| who | device | batch | T | training, examples/s | generation, samples/s | note |",
    "| --- | --- | --- | --- | --- | --- | --- |",
    ...lines.map((l) =>
      `| ${l.who} | ${l.device} | ${l.batch} | ${l.T} | ${fmt(l.train_examples_per_s)} | ${
        fmt(l.generate_samples_per_s)
      } | ${l.note ?? ""} |`
    ),
  ].join("\n");
}
