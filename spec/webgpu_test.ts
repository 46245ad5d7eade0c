/**
 * The WebGPU engine (src/engine/webgpu/, WGSL kernels in src/engine/webgpu/shaders/) against the fused
 * engine on its wasm kernels, which spec/engine_test.ts checks against the tfjs graph: Lx, Lz, the
 * log ratio, every gradient and generation, at the paper's layer sizes with few steps; then
 * through tfjs's autodiff (drawLoss, drawGenerate, the Trainer, the CLI) on the webgpu backend.
 * (spec/draw_test.ts also runs it against the float64 reference.) It runs on whatever adapter
 * Deno has: on our machines Mesa's llvmpipe, in software, which runs WGSL correctly but slowly, so
 * the sizes are small. Where Deno has no adapter at all, these tests are skipped with a note.
 */
import { REQUIRE_WEBGPU } from "./_backends.ts";
import type { WebGpuClassifierPasses, WebGpuDrawPasses } from "../src/engine/webgpu/passes.ts";
import * as tf from "../src/tf.ts";
import { selectBackend, webgpuAdapter } from "../src/backend.ts";
import { CIFAR, CLUTTERED, type DrawConfig, imageSize, MNIST, MNIST_NO_ATTENTION, TINY } from "../src/config.ts";
import { Classifier, classifierForward, classifierSpecs } from "../src/classifier.ts";
import { FusedClassifier } from "../src/engine/program/classifier.ts";
import { WebGpuClassifier } from "../src/engine/webgpu/classifier.ts";
import { Draw, drawGenerate, drawLoss, paramSpecs } from "../src/draw.ts";
import { createEngine } from "../src/engine/engine.ts";
import { engineContext } from "../src/engine/fused/context.ts";
import { FusedDraw } from "../src/engine/program/draw.ts";
import { loadKernels, newArena } from "../src/engine/fused/wasm.ts";
import { WebGpuDraw } from "../src/engine/webgpu/draw.ts";
import { webgpuBackend } from "../src/engine/webgpu/bridge.ts";
import { Rng } from "../src/random.ts";
import { Trainer } from "../src/trainer.ts";
import { drawProblem, randomParams } from "./_problem.ts";
import { assertClose, assertNormClose, equal, match, ok } from "./_assert.ts";
import { runCli } from "./_cli.ts";

const adapter = await webgpuAdapter();
if (!adapter && REQUIRE_WEBGPU) {
  throw new Error("webgpu_test: DRAW_REQUIRE_WEBGPU=1 but Deno finds no WebGPU adapter: the WGSL tests cannot run");
}
if (!adapter) console.warn("webgpu_test: Deno has no WebGPU adapter here: the WebGPU engine's tests are skipped");
const module = await loadKernels();

/**
 * The tfjs webgpu backend's device (with the adapter's largest binding): one device per process,
 * as in use, rather than one per test (several devices on one software adapter, made and destroyed
 * in turn, are what a user never does).
 */
async function device(): Promise<GPUDevice> {
  await selectBackend("webgpu");
  return webgpuBackend().device;
}

const USAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

function upload(d: GPUDevice, values: Float32Array): GPUBuffer {
  const b = d.createBuffer({ size: Math.max(16, values.byteLength), usage: USAGE });
  d.queue.writeBuffer(b, 0, values as Float32Array<ArrayBuffer>);
  return b;
}

async function download(d: GPUDevice, b: GPUBuffer, floats: number): Promise<Float32Array> {
  const staging = d.createBuffer({ size: 4 * floats, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ });
  const e = d.createCommandEncoder();
  e.copyBufferToBuffer(b, 0, staging, 0, 4 * floats);
  d.queue.submit([e.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const v = new Float32Array(staging.getMappedRange().slice(0));
  staging.destroy();
  return v;
}

/** Each weight's gradient on the GPU against the fused engine's (the same tolerance for every test here). */
async function checkGradients(
  d: GPUDevice,
  grads: GPUBuffer[],
  specs: { name: string }[],
  want: Record<string, Float32Array>,
): Promise<void> {
  for (let i = 0; i < specs.length; i++) {
    const w = want[specs[i].name];
    assertNormClose(await download(d, grads[i], w.length), w, { rtol: 1e-4, atol: 1e-6, what: `∂/∂${specs[i].name}` });
  }
}

/** The Table 3 models with few steps: every layer at full size, the attention at odd sizes too. */
const FULL: Record<string, DrawConfig> = {
  mnist: { ...MNIST, T: 3 },
  cifar: { ...CIFAR, T: 2 },
  "mnist without attention": { ...MNIST_NO_ATTENTION, T: 2 },
  "odd sizes": { ...TINY, width: 7, height: 5, channels: 2, readN: 3, writeN: 4, hidden: 9, z: 3, T: 3 },
};

for (const [name, cfg] of Object.entries(FULL)) {
  Deno.test({
    name: `WebGPU engine = fused engine: Lx, Lz, log ratio, every gradient, generation (${name})`,
    ignore: !adapter,
    fn: async () => {
      const d = await device();
      const batch = 3, specs = paramSpecs(cfg);
      const { w, x, eps, dlx, dlz } = drawProblem(cfg, paramSpecs(cfg), batch, 7);
      const cpu = new FusedDraw(cfg, batch, engineContext(module, newArena(module)));
      const want = cpu.forward(w, x, eps);
      const wantGrads = cpu.backward(dlx, dlz);
      const gpu = new WebGpuDraw(d, cfg, batch);
      const out = gpu.forward(specs.map((s) => upload(d, w[s.name])), upload(d, x), upload(d, eps));
      const pair = await download(d, out.pair, 2 * batch);
      assertClose(pair.filter((_, i) => i % 2 === 0), want.lx, { rtol: 1e-5, what: "Lx" });
      assertClose(pair.filter((_, i) => i % 2 === 1), want.lz, { rtol: 1e-5, atol: 1e-4, what: "Lz" });
      assertClose(await download(d, out.logRatio, batch), want.logRatio, { rtol: 1e-4, atol: 1e-3, what: "log ratio" });
      const dy = new Float32Array(2 * batch);
      for (let b = 0; b < batch; b++) [dy[2 * b], dy[2 * b + 1]] = [dlx[b], dlz[b]];
      await checkGradients(d, gpu.backward(upload(d, dy)), specs, wantGrads);
      // generation, on a forward-only runner (decoder weights only)
      const gen = new WebGpuDraw(d, cfg, batch, { training: false });
      const decoder = specs.map((s) => /^(encoder|posterior|read)/.test(s.name) ? undefined : upload(d, w[s.name]));
      const canvas = await download(d, gen.generate(decoder, upload(d, eps)), batch * imageSize(cfg));
      const cpuGen = new FusedDraw(cfg, batch, engineContext(module, newArena(module)), { training: false });
      assertNormClose(canvas, cpuGen.generate(w, eps), { rtol: 1e-5, what: "c_T" });
      gpu.dispose();
      gen.dispose();
    },
  });
}

Deno.test({
  name: "WebGPU classifier = fused classifier: logits and every gradient (cluttered model's sizes)",
  ignore: !adapter,
  fn: async () => {
    const d = await device();
    const cfg = { ...CLUTTERED, glimpses: 3 }, batch = 3, rng = new Rng(8), specs = classifierSpecs(cfg);
    const w = randomParams(specs, rng);
    const x = Float32Array.from({ length: batch * 100 * 100 }, () => rng.uniform());
    const dL = rng.fillNormal(new Float32Array(batch * cfg.classes));
    const cpu = new FusedClassifier(cfg, batch, engineContext(module, newArena(module)));
    const want = cpu.forward(w, x), wantGrads = cpu.backward(dL);
    const gpu = new WebGpuClassifier(d, cfg, batch);
    const logits = gpu.forward(specs.map((s) => upload(d, w[s.name])), upload(d, x));
    assertClose(await download(d, logits, batch * cfg.classes), want, { rtol: 1e-4, atol: 1e-5, what: "logits" });
    await checkGradients(d, gpu.backward(upload(d, dL)), specs, wantGrads);
    gpu.dispose();
  },
});

Deno.test({
  name: "WebGPU engine: a heap larger than the adapter binds is refused with the batch to lower",
  ignore: !adapter,
  fn: async () => {
    const d = await device();
    const limit = d.limits.maxStorageBufferBindingSize;
    const batch = Math.ceil(limit / (4 * 64 * 5000)) + 1; // about 5,000 floats per image and step at MNIST size
    let message = "";
    try {
      new WebGpuDraw(d, MNIST, batch);
    } catch (e) {
      message = String(e);
    }
    match(message, new RegExp(`Cannot build the WebGPU engine.s DRAW for batch ${batch} .* use a smaller --batch`));
  },
});

Deno.test({
  name: "drawLoss, its gradient and drawGenerate on the WebGPU engine through tfjs = the fused engine",
  ignore: !adapter,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const cfg = FULL.mnist, batch = 3, specs = paramSpecs(cfg);
    const { w, x, eps, dlx, dlz } = drawProblem(cfg, paramSpecs(cfg), batch, 11);
    const cpu = new FusedDraw(cfg, batch, engineContext(module, newArena(module)));
    const want = cpu.forward(w, x, eps);
    const wantGrads = cpu.backward(dlx, dlz);
    const wantCanvas = new FusedDraw(cfg, batch, engineContext(module, newArena(module)), { training: false })
      .generate(w, eps);
    await selectBackend("webgpu");
    const engine = await createEngine("auto", { backend: "webgpu" });
    equal(engine.name, "webgpu");
    match(engine.description, /^webgpu: WGSL kernels on /);
    const before = tf.memory().numTensors;
    const ws = specs.map((s) => tf.tensor(w[s.name], s.shape));
    const weights = () => Object.fromEntries(specs.map((s, i) => [s.name, ws[i]]));
    const img = tf.tensor4d(x, [batch, cfg.height, cfg.width, 1]), e = tf.tensor3d(eps, [cfg.T, batch, cfg.z]);
    const out = drawLoss(weights(), cfg, img, e, { engine, logWeights: true });
    assertClose(await out.lx.data() as Float32Array, want.lx, { rtol: 1e-5, what: "Lx" });
    assertClose(await out.lz.data() as Float32Array, want.lz, { rtol: 1e-5, atol: 1e-4, what: "Lz" });
    assertClose(await out.logRatio!.data() as Float32Array, want.logRatio, { rtol: 1e-4, atol: 1e-3, what: "ratio" });
    tf.dispose(Object.values(out) as tf.Tensor[]);
    const wx = tf.tensor1d(dlx), wz = tf.tensor1d(dlz);
    const g = tf.grads((...v: tf.Tensor[]) => {
      const o = drawLoss(Object.fromEntries(specs.map((s, i) => [s.name, v[i]])), cfg, img, e, { engine });
      return tf.add(tf.sum(tf.mul(o.lx, wx)), tf.sum(tf.mul(o.lz, wz))) as tf.Scalar;
    })(ws);
    for (let i = 0; i < specs.length; i++) {
      assertNormClose(await g[i].data() as Float32Array, wantGrads[specs[i].name], {
        rtol: 1e-4,
        atol: 1e-6,
        what: `∂/∂${specs[i].name}`,
      });
    }
    const s = drawGenerate(weights(), cfg, e, { engine });
    assertNormClose(await s.logits.data() as Float32Array, wantCanvas, { rtol: 1e-5, what: "c_T" });
    tf.dispose([...ws, ...g, img, e, wx, wz, s.logits, s.means]);
    // the classifier: logits and the gradient through tfjs, against the graph on the same backend
    const cc = { ...CLUTTERED, width: 12, height: 10, glimpses: 2, hidden: 16 }, cs = classifierSpecs(cc);
    const rng = new Rng(4);
    const cw = cs.map((s) => tf.tensor(rng.fillNormal(new Float32Array(s.shape.reduce((a, b) => a * b, 1))), s.shape));
    const named = (v: tf.Tensor[]) => Object.fromEntries(cs.map((s, i) => [s.name, v[i]]));
    const cx = tf.tensor4d(Float32Array.from({ length: 2 * 120 }, () => rng.uniform()), [2, 10, 12, 1]);
    const [fast, graph] = [engine, undefined].map((eng) =>
      tf.grads((...v: tf.Tensor[]) => tf.sum(tf.square(classifierForward(named(v), cc, cx, { engine: eng }).logits)))(
        cw,
      )
    );
    for (let i = 0; i < cs.length; i++) {
      assertNormClose(await fast[i].data() as Float32Array, await graph[i].data() as Float32Array, {
        rtol: 1e-3,
        what: `classifier ∂/∂${cs[i].name}`,
      });
    }
    tf.dispose([...cw, cx, ...fast, ...graph]);
    equal(tf.memory().numTensors, before, "tensors left behind");
    engine.dispose();
  },
});

Deno.test({
  name: "Trainer on the WebGPU engine: one submit per step, the same steps as on the fused engine",
  ignore: !adapter,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const cfg = { ...MNIST, T: 4, hidden: 32, z: 8 }, batch = 4;
    const { x } = drawProblem(cfg, paramSpecs(cfg), batch, 5);
    const losses: number[][] = [];
    for (const backend of ["cpu", "webgpu"] as const) {
      await selectBackend(backend);
      const engine = await createEngine(backend === "cpu" ? "fused" : "webgpu", { threads: 1, backend });
      const model = new Draw(cfg, 3);
      model.engine = engine;
      const trainer = new Trainer(model);
      const img = tf.tensor4d(x, [batch, cfg.height, cfg.width, 1]);
      const rng = new Rng(9);
      const seen: number[] = [];
      const counts: number[] = [];
      for (let s = 0; s < 3; s++) {
        const r = await trainer.step(img, rng);
        seen.push(r.loss, r.gradNorm); // the norm: Adam's step alone would hide a scaled gradient
        counts.push(tf.memory().numTensors);
      }
      equal(counts[2], counts[1], `tensors after steps 2 and 3 (${backend}): a step leaks none`);
      if (backend === "webgpu") {
        const runner = (engine.draw(cfg, batch, { training: true }) as WebGpuDrawPasses).runner;
        equal(runner.submits, 3, "one submit per training step (forward and backward together)");
      }
      losses.push(seen);
      img.dispose();
      trainer.dispose();
      model.dispose();
      engine.dispose();
    }
    assertClose(losses[1], losses[0], { rtol: 1e-4, what: "losses and gradient norms of steps 1–3 (Adam between)" });
    ok(losses[1][4] < losses[1][0], `the loss falls: ${losses[1]}`);
  },
});

Deno.test({
  name: "Trainer on the WebGPU engine, classifier: one submit per step, the same steps as on the fused engine",
  ignore: !adapter,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const cfg = { ...CLUTTERED, width: 20, height: 16, glimpses: 3, hidden: 24, readN: 5 }, batch = 6;
    const rng0 = new Rng(6);
    const x = Float32Array.from({ length: batch * 20 * 16 }, () => rng0.uniform());
    const seen: number[][] = [];
    for (const backend of ["cpu", "webgpu"] as const) {
      await selectBackend(backend);
      const engine = await createEngine(backend === "cpu" ? "fused" : "webgpu", { threads: 1, backend });
      const model = new Classifier(cfg, 3);
      model.engine = engine;
      const trainer = new Trainer(model);
      const img = tf.tensor4d(x, [batch, 16, 20, 1]), labels = tf.tensor1d([0, 3, 9, 1, 1, 7]);
      const losses: number[] = [];
      for (let s = 0; s < 3; s++) {
        const r = await trainer.step({ x: img, labels }, new Rng(s));
        losses.push(r.loss, r.gradNorm, r.figures.error); // the norm: Adam's step alone would hide a scaled gradient
      }
      seen.push(losses);
      if (backend === "webgpu") equal((engine.classifier(cfg, batch) as WebGpuClassifierPasses).runner.submits, 3);
      tf.dispose([img, labels]);
      trainer.dispose();
      model.dispose();
      engine.dispose();
    }
    assertClose(seen[1], seen[0], { rtol: 1e-4, atol: 1e-6, what: "loss, gradient norm and error of steps 1–3" });
  },
});

Deno.test({
  name: "cli: train, sample on the WebGPU engine (--backend webgpu) name the adapter and the engine",
  ignore: !adapter,
  fn: async () => {
    const out = await Deno.makeTempDir();
    const tiny = ["--preset", "tiny", "--batch", "8", "--backend", "webgpu"];
    const t = await runCli(["train", "mnist", ...tiny, "--epochs", "1", "--out", out]);
    equal(t.code, 0, t.stderr);
    match(t.stderr, /engine: webgpu: WGSL kernels on .*, one submit per pass/);
    const s = await runCli(["sample", out, "--backend", "webgpu", "--n", "4", "--out", `${out}/samples`]);
    equal(s.code, 0, s.stderr);
    match(s.stderr, /engine: webgpu/);
    const bad = await runCli(["train", "mnist", ...tiny.slice(0, 4), "--engine", "webgpu", "--out", out]);
    equal(bad.code, 2, bad.stderr);
    match(bad.stderr, /runs on the webgpu backend, not (wasm|cpu): add --backend webgpu/);
    await Deno.remove(out, { recursive: true });
  },
});

Deno.test("with DRAW_REQUIRE_WEBGPU=1 (as CI sets it) a machine with no WebGPU adapter fails the run, not skips", async () => {
  // Mesa's drivers hidden: Deno finds no adapter (LIBGL_DRIVERS_PATH for GL, VK_ICD_FILENAMES for Vulkan)
  const hidden = { LIBGL_DRIVERS_PATH: "/nonexistent", VK_ICD_FILENAMES: "/nonexistent", NO_COLOR: "1" };
  const run = (env: Record<string, string>) =>
    new Deno.Command(Deno.execPath(), {
      args: ["test", "-A", "spec/linear_test.ts"],
      cwd: new URL("..", import.meta.url).pathname,
      env: { ...hidden, DRAW_TEST_BACKENDS: "cpu,webgpu", ...env },
      stdout: "piped",
      stderr: "piped",
    }).output();
  const [required, optional] = [await run({ DRAW_REQUIRE_WEBGPU: "1" }), await run({ DRAW_REQUIRE_WEBGPU: "" })];
  const text = (o: Deno.CommandOutput) => new TextDecoder().decode(o.stdout) + new TextDecoder().decode(o.stderr);
  ok(!required.success, `required: ${text(required)}`);
  ok(/DRAW_REQUIRE_WEBGPU=1 but Deno finds no WebGPU adapter/.test(text(required)), text(required));
  ok(optional.success, `not required: the run passes without the WebGPU steps: ${text(optional)}`);
});
