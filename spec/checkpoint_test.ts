import * as tf from "../src/tf.ts";
import { TINY, TINY_CLASSIFIER } from "../src/config.ts";
import { Draw } from "../src/draw.ts";
import {
  encodeCheckpoint,
  loadCheckpoint,
  modelFromCheckpoint,
  parseCheckpoint,
  restoreTrainer,
  saveCheckpoint,
  saveFineTuned,
} from "../src/checkpoint.ts";
import { Classifier } from "../src/classifier.ts";
import { encodeSafetensors } from "../src/safetensors.ts";
import { Rng } from "../src/random.ts";
import { Trainer } from "../src/trainer.ts";
import { deepEqual, equal, ok, rejects, throws } from "./_assert.ts";

Deno.test("saveCheckpoint() and loadCheckpoint() restore weights, Adam state and position exactly", async () => {
  const dir = await Deno.makeTempDir();
  const model = new Draw(TINY, 3);
  const trainer = new Trainer(model);
  const x = tf.ones([4, 5, 6, 1]) as tf.Tensor4D;
  await trainer.step(x, new Rng(1));
  const state = { iteration: 1, examples: 4, epoch: 0, batchInEpoch: 1, noiseRng: 99, seconds: 1.5 };
  await saveCheckpoint(`${dir}/c.safetensors`, model, trainer, state, { dataset: "mnist" });
  const ckpt = await loadCheckpoint(`${dir}/c.safetensors`);
  deepEqual(ckpt.config, TINY);
  deepEqual(ckpt.state, state);
  equal(ckpt.info.dataset, "mnist");
  const copy = modelFromCheckpoint(ckpt);
  const t2 = new Trainer(copy);
  restoreTrainer(t2, ckpt);
  equal(t2.iteration, 1);
  for (const name of Object.keys(model.weights)) {
    deepEqual(copy.weights[name].dataSync(), model.weights[name].dataSync(), name);
    deepEqual(t2.m[name].dataSync(), trainer.m[name].dataSync(), `m ${name}`);
    deepEqual(t2.v[name].dataSync(), trainer.v[name].dataSync(), `v ${name}`);
  }
  // The same next step from both.
  const a = await trainer.step(x, new Rng(5)), b = await t2.step(x, new Rng(5));
  equal(a.loss, b.loss);
  tf.dispose(x);
  for (const d of [model, copy, trainer, t2]) d.dispose();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a weights-only checkpoint (a shipped model) loads its weights; a trainer goes on from it only afresh", async () => {
  const dir = await Deno.makeTempDir();
  const model = new Draw(TINY, 3);
  const state = { iteration: 7, examples: 28, epoch: 1, batchInEpoch: 0, noiseRng: 1, seconds: 2 };
  await saveCheckpoint(`${dir}/c.safetensors`, model, undefined, state, { dataset: "mnist" });
  const ckpt = await loadCheckpoint(`${dir}/c.safetensors`);
  equal(ckpt.adam, undefined);
  deepEqual(ckpt.state, state);
  const copy = modelFromCheckpoint(ckpt);
  for (const name of Object.keys(model.weights)) {
    deepEqual(copy.weights[name].dataSync(), model.weights[name].dataSync(), name);
  }
  const trainer = new Trainer(copy);
  throws(() => restoreTrainer(trainer, ckpt), /no optimizer state \(weights only\): resume the run it came from/);
  restoreTrainer(trainer, ckpt, { fresh: true });
  // a fresh optimizer at the model's step: zero moments, bias correction counted from here
  equal(trainer.iteration, 7);
  equal(trainer.adamStart, 7);
  ok(Object.values(trainer.m).every((m) => m.dataSync().every((x) => x === 0)));
  for (const d of [model, copy, trainer]) d.dispose();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a checkpoint keeps the moving averages beside the raw weights; models load the averages unless raw", async () => {
  const dir = await Deno.makeTempDir();
  const model = new Draw(TINY, 3);
  const trainer = new Trainer(model, { average: 0.9, averageAlso: [0.1] });
  const x = tf.ones([4, 5, 6, 1]) as tf.Tensor4D;
  for (let s = 0; s < 3; s++) await trainer.step(x, new Rng(s));
  const state = { iteration: 3, examples: 12, epoch: 0, batchInEpoch: 3, noiseRng: 9, seconds: 1, averaged: 3 };
  await saveCheckpoint(`${dir}/c.safetensors`, model, trainer, state, { dataset: "mnist", settings: { average: 0.9 } });
  const ckpt = await loadCheckpoint(`${dir}/c.safetensors`);
  ok(ckpt.average, "the file holds avg.<name>");
  deepEqual([...ckpt.averageAlso!.keys()], [0.1], "and avg@0.1.<name>");
  const [averaged, raw] = [modelFromCheckpoint(ckpt), modelFromCheckpoint(ckpt, { raw: true })];
  let differ = 0;
  for (const name of Object.keys(model.weights)) {
    deepEqual(averaged.weights[name].dataSync(), trainer.avg[name].dataSync(), `average of ${name}`);
    deepEqual(raw.weights[name].dataSync(), model.weights[name].dataSync(), `raw ${name}`);
    if (averaged.weights[name].dataSync().some((v, i) => v !== model.weights[name].dataSync()[i])) differ++;
  }
  ok(differ > 0, "the averages are not the raw weights");
  // a resumed trainer takes the averages and their count
  const t2 = new Trainer(raw, { average: 0.9 });
  restoreTrainer(t2, ckpt);
  equal(t2.averaged, 3);
  for (const name of Object.keys(model.weights)) {
    deepEqual(t2.avg[name].dataSync(), trainer.avg[name].dataSync(), `restored average of ${name}`);
  }
  // resumed with --average 0.1,0.9,0.7: the kept 0.1 becomes the run's, 0.9 goes on, 0.7 starts from the run's average
  const t3 = new Trainer(raw, { average: 0.1, averageAlso: [0.9, 0.7] });
  restoreTrainer(t3, ckpt);
  for (const name of Object.keys(model.weights)) {
    deepEqual(t3.avg[name].dataSync(), trainer.avgAlso.get(0.1)![name].dataSync(), `promoted average of ${name}`);
    deepEqual(t3.avgAlso.get(0.9)![name].dataSync(), trainer.avg[name].dataSync(), `kept average of ${name}`);
    deepEqual(t3.avgAlso.get(0.7)![name].dataSync(), trainer.avg[name].dataSync(), `new average of ${name}`);
  }
  ok(
    Object.keys(model.weights).some((n) =>
      trainer.avg[n].dataSync().some((v, i) => v !== trainer.avgAlso.get(0.1)![n].dataSync()[i])
    ),
    "the averages of decays 0.9 and 0.1 differ",
  );
  t3.dispose();
  // weights only (a shipped model): the averages become its weights
  await Deno.writeFile(`${dir}/w.safetensors`, encodeCheckpoint({ ...ckpt, weights: ckpt.average! }));
  const shipped = await loadCheckpoint(`${dir}/w.safetensors`);
  equal(shipped.average, undefined);
  deepEqual(shipped.weights.get("write.bias")!.data, ckpt.average!.get("write.bias")!.data);
  tf.dispose(x);
  for (const d of [model, trainer, averaged, raw, t2]) d.dispose();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("saveCheckpoint() refuses a non-finite weight and keeps the earlier file", async () => {
  const dir = await Deno.makeTempDir();
  const model = new Draw(TINY, 1);
  const path = `${dir}/c.safetensors`;
  await saveCheckpoint(path, model);
  const before = await Deno.readFile(path);
  model.weights["write.bias"].assign(tf.fill([9], NaN));
  await rejects(() => saveCheckpoint(path, model), /weight write.bias\[0\] is NaN: the previous checkpoint is kept/);
  deepEqual(await Deno.readFile(path), before);
  deepEqual((await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name), ["c.safetensors"]);
  model.dispose();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("loadCheckpoint() rejects truncated, foreign and mismatched files with the file's name", async () => {
  const dir = await Deno.makeTempDir();
  const model = new Draw(TINY, 1);
  const path = `${dir}/c.safetensors`;
  await saveCheckpoint(path, model);
  const bytes = await Deno.readFile(path);
  await Deno.writeFile(`${dir}/cut.safetensors`, bytes.subarray(0, bytes.length - 100));
  await rejects(
    () => loadCheckpoint(`${dir}/cut.safetensors`),
    /cut.safetensors as tensor .* outside the .*-byte buffer/,
  );
  await Deno.writeFile(
    `${dir}/foreign.safetensors`,
    encodeSafetensors(new Map([["w", { shape: [1], data: new Float32Array(1) }]])),
  );
  await rejects(
    () => loadCheckpoint(`${dir}/foreign.safetensors`),
    /foreign.safetensors as a draw.ts checkpoint: its format tag is missing/,
  );
  const wrong = encodeSafetensors(
    new Map([["canvas0", { shape: [7], data: new Float32Array(7) }]]),
    { format: "draw.ts/checkpoint/1", config: JSON.stringify(TINY) },
  );
  await Deno.writeFile(`${dir}/wrong.safetensors`, wrong);
  await rejects(
    () => loadCheckpoint(`${dir}/wrong.safetensors`),
    /canvas0 has shape \[7\] where the config needs \[30\]/,
  );
  await rejects(() => loadCheckpoint(`${dir}/none.safetensors`), /Cannot read checkpoint .*none.safetensors/);
  ok(true);
  model.dispose();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a fine-tuned checkpoint holds only the changed weights and rows, loads whole over its base, and refuses another base", async () => {
  const models = await Deno.makeTempDir();
  await Deno.mkdir(`${models}/base`);
  await Deno.mkdir(`${models}/tuned`);
  const base = new Classifier(TINY_CLASSIFIER, 3);
  await saveCheckpoint(`${models}/base/checkpoint.safetensors`, base, undefined, undefined, {
    dataset: "cluttered-60",
  });
  // the tuned model: one more glimpse (no weight depends on it), rows 1–2 of lstm.kernel and all of out.bias changed
  const tuned = new Classifier({ ...TINY_CLASSIFIER, glimpses: TINY_CLASSIFIER.glimpses + 1 }, 0);
  for (const [k, w] of Object.entries(base.weights)) tuned.weights[k].assign(w);
  const kernel = base.weights["lstm.kernel"].arraySync() as number[][];
  kernel[1][0] += 0.5;
  kernel[2][3] -= 0.25;
  tuned.weights["lstm.kernel"].assign(tf.tensor2d(kernel));
  tuned.weights["out.bias"].assign(tf.add(base.weights["out.bias"], 1));
  const path = `${models}/tuned/checkpoint.safetensors`;
  const saved = await saveFineTuned(path, tuned, { model: "base", path: `${models}/base/checkpoint.safetensors` });
  deepEqual(saved.tensors, ["lstm.kernel[1:3]", "out.bias"]);
  const ckpt = await loadCheckpoint(path);
  equal(ckpt.base?.model, "base");
  equal((ckpt.config as typeof TINY_CLASSIFIER).glimpses, TINY_CLASSIFIER.glimpses + 1);
  for (const [k, w] of Object.entries(tuned.weights)) deepEqual(ckpt.weights.get(k)!.data, w.dataSync(), k);
  // what the page gets: one whole checkpoint, no base needed
  const whole = parseCheckpoint(encodeCheckpoint(ckpt), "served");
  for (const [k, w] of Object.entries(tuned.weights)) deepEqual(whole.weights.get(k)!.data, w.dataSync(), k);
  throws(
    () => parseCheckpoint(Deno.readFileSync(path), path),
    /holds only what fine-tuning changed in base: read it with loadCheckpoint/,
  );
  // another version of the base: refused, not loaded with the wrong weights
  const other = new Classifier(TINY_CLASSIFIER, 4);
  await saveCheckpoint(`${models}/base/checkpoint.safetensors`, other);
  await rejects(
    () => loadCheckpoint(path),
    /changed in model base, and .*base\/checkpoint\.safetensors is another version of it/,
  );
  await Deno.remove(`${models}/base`, { recursive: true });
  await rejects(
    () => loadCheckpoint(path),
    /changed in model base, which should be beside it at .*base\/checkpoint\.safetensors/,
  );
  for (const m of [base, tuned, other]) m.dispose();
  await Deno.remove(models, { recursive: true });
});
