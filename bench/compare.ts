/**
 * Races draw.ts against the PyTorch peer (../shared/peer) at the same configuration on the same
 * machine, alternating rounds so both see the same conditions, and prints both throughputs and
 * the ratios. The peer is optional: without python3-torch it is skipped with a note.
 *
 * Run: deno run -A bench/compare.ts [--rounds 2] [--steps 5] [--backend wasm] [--engine auto|fused|webgpu|tfjs]
 *      [--threads N] [--blas] [--preset mnist|cifar|svhn] [--batch 100] [--T 64] [--samples 100]
 * --T shortens the recurrence and --samples the generated batch (a software WebGPU adapter, say).
 * DRAW_BLAS_LIB=none runs the fused engine on its wasm kernels alone, as on a fresh machine.
 *
 * With a preset other than mnist or mnist-no-attention, only our side runs (the peer implements the MNIST
 * models only: without attention as `--read 0 --write 0`); images are uniform noise of the preset's size
 * (svhn: 54×54×3 crops). It also measures the
 * machine's sgemm peak (the products the engine uses, at a large square size, one thread) and
 * reports what fraction of it a training step reaches: the products' FLOPs per example (forward,
 * and twice that backward, as the engine runs them) times examples/s, over peak × threads.
 */
import { parseArgs } from "node:util";
import * as tf from "../src/tf.ts";
import { selectBackend } from "../src/backend.ts";
import { enableBlas } from "../src/tfjs_wasm_blas.ts";
import { type DrawConfig, MNIST, PRESETS } from "../src/config.ts";
import { Draw } from "../src/draw.ts";
import { createEngine, type EngineName } from "../src/engine/engine.ts";
import { openCblas } from "../src/engine/fused/cblas.ts";
import { instantiate, loadKernels, newArena } from "../src/engine/fused/wasm.ts";
import { cblasProducts, wasmProducts } from "../src/engine/fused/products.ts";
import { readSize, writeSize } from "../src/params.ts";
import { Rng } from "../src/random.ts";
import { Trainer } from "../src/trainer.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string" },
    steps: { type: "string" },
    backend: { type: "string" },
    peer: { type: "string" },
    blas: { type: "boolean" },
    engine: { type: "string" },
    preset: { type: "string" },
    batch: { type: "string" },
    threads: { type: "string" },
    T: { type: "string" },
    samples: { type: "string" },
  },
});
const rounds = Number(values.rounds ?? 2), steps = Number(values.steps ?? 5), batch = Number(values.batch ?? 100);
const presetName = values.preset ?? "mnist";
if (!Object.hasOwn(PRESETS, presetName)) throw new Error(`--preset must be one of ${Object.keys(PRESETS).join(", ")}`);
const preset: DrawConfig = { ...PRESETS[presetName], ...(values.T ? { T: Number(values.T) } : {}) };
const samples = Number(values.samples ?? 100);
const peerScript = values.peer ?? new URL("../../shared/peer/run.sh", import.meta.url).pathname;
const backend = (await selectBackend((values.backend ?? "auto") as "auto")).name;
const blas = values.blas ? enableBlas() : undefined;
const threads = Number(values.threads ?? Math.max(1, navigator.hardwareConcurrency || 1));
const engine = await createEngine((values.engine ?? "auto") as EngineName, { threads, backend });
console.error(`engine: ${engine.description}`);

/**
 * Multiply-adds ×2 of the matrix products of one training example: forward, and twice that backward. With
 * `xOnce` (the fused and WebGPU engines, without attention) x's rows of the encoder are multiplied once
 * forward and once for their gradient, not at each of the T steps three times.
 */
function trainingFlops(c: DrawConfig, xOnce: boolean): number {
  const H = c.hidden, G = 4 * H, encIn = readSize(c) + 2 * H, decIn = c.z + H;
  const head = writeSize(c) + (c.writeN > 0 ? 5 : 0) + (c.readN > 0 ? 5 : 0);
  const perStep = encIn * G + H * 2 * c.z + decIn * G + H * head;
  const x = c.readN === 0 && xOnce ? c.height * c.width * c.channels * G : 0;
  return 3 * 2 * c.T * perStep - (3 * 2 * c.T - 2 * 2) * x;
}

/** GFLOP/s of one thread's sgemm (the engine's products: CBLAS where it opens, else wasm) on 512×1024×512. */
async function sgemmPeak(): Promise<{ gflops: number; where: string }> {
  const module = await loadKernels();
  const arena = newArena(module), k = instantiate(module, arena.memory);
  const [M, N, K] = [512, 1024, 512];
  const a = arena.alloc(M * K), b = arena.alloc(K * N), c = arena.alloc(M * N), work = arena.alloc(K * N);
  arena.f32(a, M * K).fill(0.5);
  arena.f32(b, K * N).fill(0.25);
  const lib = openCblas();
  const p = lib ? cblasProducts(arena, lib.gemm, lib.path) : wasmProducts(k, work, K * N);
  p.gemm(false, false, M, N, K, a, K, b, N, 0, c, N);
  const t0 = performance.now(), reps = 8;
  for (let r = 0; r < reps; r++) p.gemm(false, false, M, N, K, a, K, b, N, 0, c, N);
  return { gflops: (2 * M * N * K * reps) / ((performance.now() - t0) / 1000) / 1e9, where: p.where };
}

/** Peak resident memory of this process so far, in MB (Linux), or NaN. */
function peakRssMb(): number {
  try {
    const m = Deno.readTextFileSync("/proc/self/status").match(/VmHWM:\s+(\d+) kB/);
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}
if (values.blas && !blas) {
  throw new Error("--blas: no CBLAS library found (install libopenblas0-pthread or set DRAW_BLAS_LIB)");
}

async function ours(): Promise<{ train: number; generate: number }> {
  const model = new Draw(preset, 0);
  model.engine = engine;
  const trainer = new Trainer(model);
  const { height: H, width: W, channels: C } = preset;
  const x = tf.tidy(() =>
    presetName.startsWith("mnist")
      ? tf.cast(tf.less(tf.randomUniform([batch, H, W, C], 0, 1, "float32", 3), 0.13), "float32")
      : tf.randomUniform([batch, H, W, C], 0, 1, "float32", 3)
  ) as tf.Tensor4D;
  const rng = new Rng(0);
  await trainer.step(x, rng); // warm-up, as the peer does
  let t0 = performance.now();
  for (let s = 0; s < steps; s++) await trainer.step(x, rng);
  const train = (steps * batch) / ((performance.now() - t0) / 1000);
  let g = model.generate(samples, rng);
  await g.means.data();
  tf.dispose([g.means, g.logits]);
  t0 = performance.now();
  for (let s = 0; s < 5; s++) {
    g = model.generate(samples, rng);
    await g.means.data();
    tf.dispose([g.means, g.logits]);
  }
  const generate = 5 * samples / ((performance.now() - t0) / 1000);
  x.dispose();
  trainer.dispose();
  model.dispose();
  return { train, generate };
}

async function peer(): Promise<{ train: number; generate: number; rss?: number } | string> {
  if (!presetName.startsWith("mnist") || batch !== 100 || preset.T !== MNIST.T || samples !== 100) {
    return "the peer runs the MNIST models (T = 64) at batch 100 only";
  }
  const whole = preset.readN === 0 ? ["--read", "0", "--write", "0"] : [];
  try {
    const check = await new Deno.Command("/usr/bin/python3", { args: ["-c", "import torch"], stderr: "null" }).output();
    if (!check.success) return "python3-torch is not installed (../shared/peer/run.sh installs it)";
    // under /usr/bin/time where it exists, for the peer's peak memory (its own process, as ours is)
    let timed = false;
    try {
      timed = (await Deno.stat("/usr/bin/time")).isFile;
    } catch {
      timed = false;
    }
    const out = await new Deno.Command(timed ? "/usr/bin/time" : peerScript, {
      args: [...(timed ? ["-f", "peak_rss_kb=%M", peerScript] : []), "bench", "--steps", String(steps), ...whole],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) return `the peer failed: ${new TextDecoder().decode(out.stderr).slice(-300)}`;
    const last = new TextDecoder().decode(out.stdout).trim().split("\n").pop()!;
    const r = JSON.parse(last);
    const kb = new TextDecoder().decode(out.stderr).match(/peak_rss_kb=(\d+)/);
    return {
      train: r.train_examples_per_s,
      generate: r.generate_samples_per_s,
      rss: kb ? Number(kb[1]) / 1024 : undefined,
    };
  } catch (e) {
    return `the peer could not run (${(e as Error).message})`;
  }
}

const rows: { round: number; who: string; train: number; generate: number }[] = [];
let skipped = "", oursRss = NaN, peerRss = NaN;
for (let r = 1; r <= rounds; r++) {
  const a = await ours();
  if (r === 1) oursRss = peakRssMb(); // one bench's worth, as the peer's process runs one
  rows.push({ round: r, who: `draw.ts (${engine.description}; ${backend}${blas ? " + --blas" : ""})`, ...a });
  console.error(
    `round ${r}: draw.ts ${a.train.toFixed(1)} ex/s training, ${a.generate.toFixed(1)} samples/s generating`,
  );
  const b = await peer();
  if (typeof b === "string") {
    skipped = b;
    console.error(`round ${r}: peer skipped: ${b}`);
  } else {
    rows.push({ round: r, who: "PyTorch peer", train: b.train, generate: b.generate });
    if (b.rss !== undefined) peerRss = Math.max(Number.isNaN(peerRss) ? 0 : peerRss, b.rss);
    console.error(
      `round ${r}: peer ${b.train.toFixed(1)} ex/s training, ${b.generate.toFixed(1)} samples/s generating`,
    );
  }
}
const mean = (who: string, k: "train" | "generate") => {
  const v = rows.filter((r) => r.who.startsWith(who)).map((r) => r[k]);
  return v.length ? v.reduce((a, b) => a + b, 0) / v.length : NaN;
};
const peak = await sgemmPeak();
const flops = trainingFlops(preset, engine.name !== "tfjs");
const result = {
  config: `${presetName} model (${JSON.stringify(preset)}), batch ${batch}`,
  backend,
  engine: engine.name,
  engine_description: engine.description,
  threads,
  blas,
  sgemm_peak_gflops_per_thread: peak.gflops,
  sgemm_peak_where: peak.where,
  training_gflop_per_example: flops / 1e9,
  training_fraction_of_peak: (mean("draw.ts", "train") * flops / 1e9) / (peak.gflops * threads),
  ours_peak_rss_mb: oursRss,
  peer_peak_rss_mb: peerRss,
  ours_train_examples_per_s: mean("draw.ts", "train"),
  ours_generate_samples_per_s: mean("draw.ts", "generate"),
  peer_train_examples_per_s: mean("PyTorch", "train"),
  peer_generate_samples_per_s: mean("PyTorch", "generate"),
  train_ratio: mean("draw.ts", "train") / mean("PyTorch", "train"),
  generate_ratio: mean("draw.ts", "generate") / mean("PyTorch", "generate"),
  peer_skipped: skipped || undefined,
  rounds: rows,
};
console.log(JSON.stringify(result));
engine.dispose();
