import { TINY } from "../src/config.ts";
import { paramSpecs } from "../src/params.ts";
import { scriptCommand, tinyRun } from "./_cli.ts";
import { loadBinarizedMnist } from "../src/data/mnist.ts";
import { selectBackend } from "../src/backend.ts";
import { checkResume, drawTask, train, type TrainOptions } from "../src/train.ts";
import { thinMetrics } from "../src/run_log.ts";
import { decayEnd, epochOrder, RUN_SEEDS, RunError, scheduledLr, TRAIN_DEFAULTS } from "../src/run_settings.ts";
import { type Dataset, imageBytes } from "../src/data/dataset.ts";
import { Rng } from "../src/random.ts";
import { Progress } from "../src/progress.ts";
import { encodeCheckpoint, loadCheckpoint } from "../src/checkpoint.ts";
import { assertClose, deepEqual, equal, match, ok, rejects } from "./_assert.ts";

const FIXTURES = new URL("../fixtures", import.meta.url).pathname;
const quiet = new Progress({ write: () => {}, tty: false });
const config = { ...TINY, width: 28, height: 28 };
const base = {
  task: drawTask(config),
  dataset: "mnist",
  batch: 16,
  lr: 1e-2,
  clipNorm: 10,
  seed: 3,
  backend: "cpu",
  progress: quiet,
};
/** The same options for a resume: without `lr`, which on resume is a warm restart. */
const { lr: _lr, ...again } = base;

Deno.test("train() stops on a non-finite loss without touching the last good checkpoint", async () => {
  await selectBackend("cpu");
  const splits = await loadBinarizedMnist({ dataDir: FIXTURES, download: false, fallback: false });
  const out = await Deno.makeTempDir();
  const first = await train({ ...base, splits, outDir: out, epochs: 1 });
  equal(first.stopped, "epochs");
  const good = await Deno.readFile(`${out}/checkpoint.safetensors`);
  const poisoned = { ...splits, train: { ...splits.train, scale: NaN } };
  const r = await train({ ...again, splits: poisoned, outDir: out, epochs: 2, resume: true });
  equal(r.stopped, "nan");
  match(r.message, /the loss is NaN.*the last good checkpoint .* is kept/);
  deepEqual(await Deno.readFile(`${out}/checkpoint.safetensors`), good);
  await Deno.remove(out, { recursive: true });
});

Deno.test("train() resumed after an epoch ends where an uninterrupted run ends, bit for bit", async () => {
  await selectBackend("cpu");
  const splits = await loadBinarizedMnist({ dataDir: FIXTURES, download: false, fallback: false });
  const [a, b] = [await Deno.makeTempDir(), await Deno.makeTempDir()];
  await train({ ...base, splits, outDir: a, epochs: 2 });
  await train({ ...base, splits, outDir: b, epochs: 1 });
  const r = await train({ ...again, splits, outDir: b, epochs: 2, resume: true });
  equal(r.state.iteration, 8);
  const [ca, cb] = [
    await loadCheckpoint(`${a}/checkpoint.safetensors`),
    await loadCheckpoint(`${b}/checkpoint.safetensors`),
  ];
  for (const [name, t] of ca.weights) deepEqual(cb.weights.get(name)!.data, t.data, name);
  for (const [name, t] of ca.adam!.v) deepEqual(cb.adam!.v.get(name)!.data, t.data, `adam.v.${name}`);
  deepEqual({ ...cb.state!, seconds: 0 }, { ...ca.state!, seconds: 0 });
  for (const d of [a, b]) await Deno.remove(d, { recursive: true });
});

Deno.test("epochOrder() is a permutation, fixed by seed and epoch", () => {
  const p = epochOrder(100, 1, 0);
  deepEqual([...p].sort((x, y) => x - y), Array.from({ length: 100 }, (_, k) => k));
  deepEqual(epochOrder(100, 1, 0), p);
  ok(epochOrder(100, 1, 1).some((v, k) => v !== p[k]));
});

Deno.test("train() on resume drops metrics written after the last checkpoint and a torn last line", async () => {
  await selectBackend("cpu");
  const splits = await loadBinarizedMnist({ dataDir: FIXTURES, download: false, fallback: false });
  const out = await Deno.makeTempDir();
  await train({ ...base, splits, outDir: out, epochs: 1 });
  const path = `${out}/metrics.jsonl`;
  await Deno.writeTextFile(path, '{"kind":"train","step":99,"loss":1}\n{"kind":"train","st', { append: true });
  await train({ ...again, splits, outDir: out, epochs: 2, resume: true });
  const lines = (await Deno.readTextFile(path)).trim().split("\n").map((l) => JSON.parse(l));
  ok(lines.every((m) => m.step <= 8), `steps: ${lines.map((m) => m.step)}`);
  equal(lines.filter((m) => m.kind === "valid").length, 2);
  await Deno.remove(out, { recursive: true });
});

Deno.test("train() draws augmented images (crops, fresh clutter) from each batch's own seeded generator", async () => {
  await selectBackend("cpu");
  const splits = await loadBinarizedMnist({ dataDir: FIXTURES, download: false, fallback: false });
  const calls: { index: number; first: number }[] = [];
  const spy: Dataset = {
    ...splits.train,
    draw: (index: number, rng: Rng) => {
      calls.push({ index, first: rng.uniform() }); // the generator's first draw identifies its seed
      return imageBytes(splits.train, index);
    },
  };
  const out = await Deno.makeTempDir();
  await train({ ...base, splits: { ...splits, train: spy }, outDir: out, epochs: 1 });
  const perEpoch = Math.floor(spy.count / base.batch);
  equal(calls.length, perEpoch * base.batch, "every training image is drawn");
  const order = epochOrder(spy.count, base.seed, 0);
  for (let b = 0; b < perEpoch; b++) {
    const rng = new Rng(RUN_SEEDS.crops(base.seed, 0, b));
    for (let k = 0; k < base.batch; k++) {
      const call = calls[b * base.batch + k];
      equal(call.index, order[b * base.batch + k]);
      equal(call.first, rng.uniform(), `batch ${b}, image ${k}: drawn from batch ${b}'s generator`);
    }
  }
  await Deno.remove(out, { recursive: true });
});

Deno.test("scheduledLr(): constant without lrFinal; exponential from lr to lrFinal over decayEpochs, then held", () => {
  const s = { batch: 100, lr: 1e-3, clipNorm: 10, seed: 0 };
  equal(scheduledLr(s, 7), 1e-3);
  const d = { ...s, lrFinal: 1e-4, decayEpochs: 10 };
  assertClose([scheduledLr(d, 0), scheduledLr(d, 5), scheduledLr(d, 10), scheduledLr(d, 30)], [
    1e-3,
    1e-3 * Math.sqrt(0.1),
    1e-4,
    1e-4,
  ], { rtol: 1e-12, what: "lr" });
  const late = { ...d, decayStart: 20 };
  assertClose([scheduledLr(late, 3), scheduledLr(late, 20), scheduledLr(late, 25), scheduledLr(late, 31)], [
    1e-3,
    1e-3,
    1e-3 * Math.sqrt(0.1),
    1e-4,
  ], { rtol: 1e-12, what: "lr of a decay from epoch 20" });
  // where a resume without --epochs stops: the decay's end, none for a constant step
  deepEqual([decayEnd(s), decayEnd(d), decayEnd(late)], [undefined, 10, 30]);
});

Deno.test("train() --resume with lrFinal anneals from the run's epoch and step size, constant or decaying", async () => {
  await selectBackend("cpu");
  const splits = await loadBinarizedMnist({ dataDir: FIXTURES, download: false, fallback: false });
  const out = await Deno.makeTempDir();
  await train({ ...base, splits, outDir: out, epochs: 1 });
  await train({ ...again, splits, outDir: out, epochs: 3, resume: true, lrFinal: 1e-3 });
  let ckpt = await loadCheckpoint(`${out}/checkpoint.safetensors`);
  let settings = ckpt.info.settings as Parameters<typeof scheduledLr>[0];
  deepEqual(settings, { batch: 16, lr: 1e-2, clipNorm: 10, seed: 3, lrFinal: 1e-3, decayStart: 1, decayEpochs: 2 });
  // the last update (epoch 2, batch 3 of 4) used lr·(lrFinal/lr)^((2.75 − 1)/2)
  assertClose([ckpt.state!.lr!], [1e-2 * 0.1 ** (1.75 / 2)], { rtol: 1e-12, what: "step size" });
  // past the decay's end the run is at 1e-3: a second anneal starts there
  await train({ ...again, splits, outDir: out, epochs: 5, resume: true, lrFinal: 1e-4 });
  ckpt = await loadCheckpoint(`${out}/checkpoint.safetensors`);
  settings = ckpt.info.settings as Parameters<typeof scheduledLr>[0];
  assertClose([settings.lr, settings.decayStart!, settings.decayEpochs!], [1e-3, 3, 2], { rtol: 1e-12, what: "2nd" });
  assertClose([ckpt.state!.lr!], [1e-3 * 0.1 ** (1.75 / 2)], { rtol: 1e-12, what: "step size of the 2nd decay" });
  await rejects(
    train({ ...again, splits, outDir: out, epochs: 5, resume: true, lrFinal: 1e-5 }),
    /anneals from the run's epoch 5 to --epochs: give --epochs above 5/,
  );
  await Deno.remove(out, { recursive: true });
});

Deno.test("train() --resume with lr goes on at that step size: constant, or decaying from it with lrFinal", async () => {
  await selectBackend("cpu");
  const splits = await loadBinarizedMnist({ dataDir: FIXTURES, download: false, fallback: false });
  const out = await Deno.makeTempDir();
  await train({ ...base, splits, outDir: out, epochs: 2, lrFinal: 1e-3 });
  // a warm restart: the decay is over at 1e-3; go on from epoch 2 at 3e-3, decaying to 1e-4 at epoch 4
  await train({ ...again, splits, outDir: out, epochs: 3, resume: true, lr: 3e-3, lrFinal: 1e-4 });
  let ckpt = await loadCheckpoint(`${out}/checkpoint.safetensors`);
  deepEqual(ckpt.info.settings, {
    batch: 16,
    lr: 3e-3,
    clipNorm: 10,
    seed: 3,
    lrFinal: 1e-4,
    decayStart: 2,
    decayEpochs: 1,
  });
  assertClose([ckpt.state!.lr!], [3e-3 * (1e-4 / 3e-3) ** 0.75], { rtol: 1e-12, what: "step size of the restart" });
  // without lrFinal: constant from here, the old decay dropped
  await train({ ...again, splits, outDir: out, epochs: 4, resume: true, lr: 5e-4 });
  ckpt = await loadCheckpoint(`${out}/checkpoint.safetensors`);
  deepEqual(ckpt.info.settings, { batch: 16, lr: 5e-4, clipNorm: 10, seed: 3 });
  equal(ckpt.state!.lr, 5e-4);
  // a plain resume keeps the run's own
  await train({ ...again, splits, outDir: out, epochs: 5, resume: true });
  ckpt = await loadCheckpoint(`${out}/checkpoint.safetensors`);
  equal(ckpt.state!.lr, 5e-4);
  await Deno.remove(out, { recursive: true });
});

Deno.test("train(): a new run takes TRAIN_DEFAULTS; a resume refuses another batch, clip, seed or data set", async () => {
  await selectBackend("cpu");
  const splits = await loadBinarizedMnist({ dataDir: FIXTURES, download: false, fallback: false });
  const out = await Deno.makeTempDir();
  const { batch: _b, clipNorm: _c, seed: _s, backend: _k, ...bare } = again;
  await train({ ...bare, splits, outDir: out, epochs: 1 });
  deepEqual((await loadCheckpoint(`${out}/checkpoint.safetensors`)).info.settings, { ...TRAIN_DEFAULTS });
  equal(JSON.parse(await Deno.readTextFile(`${out}/config.json`)).backend, "cpu", "the backend in use");
  const refused = async (given: Partial<TrainOptions>, why: RegExp) => {
    await rejects(train({ ...bare, splits, outDir: out, epochs: 2, resume: true, ...given }), (e) => {
      ok(e instanceof RunError && e.usage, `${e}: a usage-level RunError`);
      match(e.message, why);
      return true;
    });
  };
  await refused(
    { batch: 16 },
    /with --batch 16 as it trains with --batch 100 on every resume: drop --batch, or start a new run .*--init-from/,
  );
  await refused({ clipNorm: 5 }, /with --clip 5 as it trains with --clip 10 on every resume: drop --clip,/);
  await refused({ seed: 3 }, /with --seed 3 as it trains with --seed 0 on every resume: drop --seed,/);
  await refused({ dataset: "cluttered" }, /^Cannot resume the run in .* on cluttered as it trained on mnist$/);
  // checkResume, train()'s first check on its own (before a caller loads data), refuses the same
  await rejects(
    checkResume({ outDir: out, dataset: "mnist", batch: 16 }),
    /with --batch 16 as it trains with --batch 100/,
  );
  // and a run that is not there, as train() does, before a caller loads data
  await rejects(
    checkResume({ outDir: `${out}/nothing`, dataset: "mnist" }),
    /Cannot resume as .*nothing\/checkpoint\.safetensors does not exist: train without --resume first$/,
  );
  // the run's own values are accepted
  const r = await train({ ...bare, splits, outDir: out, epochs: 2, resume: true, batch: 100, clipNorm: 10, seed: 0 });
  equal(r.state.epoch, 2);
  await Deno.remove(out, { recursive: true });
});

Deno.test("train() with lrFinal steps with the scheduled size and keeps the decay in its settings for --resume", async () => {
  await selectBackend("cpu");
  const splits = await loadBinarizedMnist({ dataDir: FIXTURES, download: false, fallback: false });
  const out = await Deno.makeTempDir();
  await train({ ...base, splits, outDir: out, epochs: 2, lrFinal: 1e-3 });
  const ckpt = await loadCheckpoint(`${out}/checkpoint.safetensors`);
  deepEqual(ckpt.info.settings, { batch: 16, lr: 1e-2, clipNorm: 10, seed: 3, lrFinal: 1e-3, decayEpochs: 2 });
  // the last update of the second epoch (batch 3 of 4) used lr·(lrFinal/lr)^(1.75/2)
  const settings = ckpt.info.settings as Parameters<typeof scheduledLr>[0];
  assertClose([ckpt.state!.lr!], [scheduledLr(settings, 1.75)], { rtol: 1e-12, what: "step size" });
  await Deno.remove(out, { recursive: true });
});

Deno.test("Progress.counter() shows done/total and the time left at the rate so far", () => {
  const lines: string[] = [];
  let ms = 1000;
  const count = new Progress({ write: (t) => lines.push(t), tty: false, interval: 0 }).counter("evaluating", () => ms);
  count(0, 400);
  ms += 30_000; // 100 of 400 in 30 s: 300 more take 90 s
  count(100, 400);
  ms += 60_000;
  count(400, 400);
  deepEqual(lines, [
    "evaluating 0/400 | ETA ?\n",
    "evaluating 100/400 | ETA 1:30\n",
    "evaluating 400/400 | ETA 0:00\n",
  ]);
});

Deno.test("train() --resume goes on from weights alone (a copy of a shipped model) with a fresh optimizer, and --average starts averaging", async () => {
  await selectBackend("cpu");
  const splits = await loadBinarizedMnist({ dataDir: FIXTURES, download: false, fallback: false });
  const out = await Deno.makeTempDir();
  await train({ ...base, splits, outDir: out, epochs: 1 });
  const full = await loadCheckpoint(`${out}/checkpoint.safetensors`);
  // ship it as tools/ship_model.ts --weights-only does: the weights, the position, no optimizer state
  await Deno.writeFile(`${out}/checkpoint.safetensors`, encodeCheckpoint(full));
  const r = await train({ ...again, splits, outDir: out, epochs: 2, resume: true, average: 0.5 });
  equal(r.stopped, "epochs");
  equal(r.state.examples, 2 * full.state!.examples, "the count goes on from the model's");
  equal(r.state.adamStart, full.state!.iteration, "Adam's moments started afresh at the model's step");
  const after = await loadCheckpoint(`${out}/checkpoint.safetensors`);
  ok(after.adam && after.average, "the run's checkpoint holds Adam's state and the averages again");
  equal(after.state!.averaged, r.state.iteration - full.state!.iteration);
  equal((after.info.settings as { average?: number }).average, 0.5, "averaging is kept for the next --resume");
  const valid = (await Deno.readTextFile(`${out}/metrics.jsonl`)).trim().split("\n").map((l) => JSON.parse(l))
    .filter((m) => m.kind === "valid");
  ok(
    valid.at(-1).raw_elbo !== undefined && valid.at(-1).elbo !== valid.at(-1).raw_elbo,
    "both figures, averaged and raw",
  );
  await Deno.remove(out, { recursive: true });
});

Deno.test("train() --init-from a run that averages starts from its averages (the model eval and sample see)", async () => {
  await selectBackend("cpu");
  const splits = await loadBinarizedMnist({ dataDir: FIXTURES, download: false, fallback: false });
  const [a, b] = [await Deno.makeTempDir(), await Deno.makeTempDir()];
  await train({ ...base, splits, outDir: a, epochs: 1, average: 0.5 });
  const from = await loadCheckpoint(`${a}/checkpoint.safetensors`);
  // no steps: the new run's checkpoint holds the weights it started from
  await train({ ...base, splits, outDir: b, epochs: 0, init: { from: a, checkpoint: from } });
  const started = await loadCheckpoint(`${b}/checkpoint.safetensors`);
  for (const [name, w] of from.average!) deepEqual(started.weights.get(name)!.data, w.data, name);
  for (const d of [a, b]) await Deno.remove(d, { recursive: true });
});

Deno.test("thinMetrics() keeps every other line and one training line per span of examples, the same when thinned again", () => {
  const train = (examples: number) => JSON.stringify({ kind: "train", step: examples / 100, examples, loss: 90 });
  const valid = (examples: number) => JSON.stringify({ kind: "valid", step: examples / 100, examples, elbo: 88 });
  const lines = [train(1_500), train(3_000), train(12_000), valid(20_000), train(21_000), train(29_900), train(30_000)];
  const once = thinMetrics(lines.join("\n") + "\n", 10_000);
  equal(once, [train(1_500), train(12_000), valid(20_000), train(21_000), train(30_000)].join("\n") + "\n");
  equal(thinMetrics(once, 10_000), once); // a shipped model's file thinned again on the next ship loses nothing more
  // a run resumed after its metrics went on: the spans follow the examples, not the order of the lines
  equal(
    thinMetrics([train(12_000), train(1_500), train(2_000)].join("\n") + "\n", 10_000),
    [
      train(12_000),
      train(1_500),
    ].join("\n") + "\n",
  );
});

Deno.test("tools/grad_norms.ts gives each weight's gradient norm, none above the global one; bad input is one line", async () => {
  const dec = new TextDecoder();
  const bad = await scriptCommand("tools/grad_norms.ts", ["cluttered"]).output();
  equal(bad.code, 2);
  match(dec.decode(bad.stderr), /^cluttered is not a data set DRAW generates: choose one of .*mnist.*\n$/);
  const run = await tinyRun();
  try {
    const out = await scriptCommand("tools/grad_norms.ts", ["mnist", "--from", run, "--steps", "3"]).output();
    equal(out.code, 0, dec.decode(out.stderr));
    const other = await scriptCommand("tools/grad_norms.ts", ["two-digit", "--from", run, "--steps", "1"]).output();
    equal(other.code, 2);
    match(dec.decode(other.stderr), /^\S+ was built for 28×28×1 images, not two-digit's\n$/);
    const rows = new Map(
      dec.decode(out.stdout).split("\n").map((l) => l.match(/^(\S.*?)\s+(\S+e[+-]\d+)\s+(\S+e[+-]\d+)$/))
        .filter((m) => m !== null).map((m) => [m![1], [Number(m![2]), Number(m![3])]]),
    );
    // every weight, the write window's five columns and the global norm
    equal(rows.size, paramSpecs(TINY).length + 5 + 1);
    const global = rows.get("(global, as grad_norm)")!;
    ok(global[1] > 0);
    for (const [name, [median, largest]] of rows) {
      ok(
        median <= largest && largest <= global[1] * (1 + 1e-5),
        `${name}: ${median}, ${largest} (global ${global[1]})`,
      );
    }
  } finally {
    await Deno.remove(run, { recursive: true });
  }
});
