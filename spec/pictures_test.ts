import { selectBackend } from "../src/backend.ts";
import type { Dataset } from "../src/data/dataset.ts";
import {
  generationFrames,
  generationSequence,
  generationTrace,
  nearestTraining,
  pictureScale,
  sequenceSteps,
  validationCurves,
} from "../src/pictures.ts";
import { Draw } from "../src/draw.ts";
import { TINY } from "../src/config.ts";
import { Rng } from "../src/random.ts";
import { linePlot } from "../src/render/plot.ts";
import { GREEN, Raster } from "../src/render/raster.ts";
import { deepEqual, equal, match, ok } from "./_assert.ts";
import { scriptCommand } from "./_cli.ts";

Deno.test("nearestTraining() finds the training image closest in pixelwise L2", async () => {
  await selectBackend("wasm");
  const images = Uint8Array.from({ length: 6 * 4 }, (_, k) => ((k * 53) % 7) * 30);
  const train: Dataset = { name: "t", count: 6, height: 2, width: 2, channels: 1, scale: 1 / 255, images };
  // Samples: training images 4 and 1, slightly perturbed.
  const pick = [4, 1];
  const samples = Float32Array.from({ length: 8 }, (_, k) => images[pick[k >> 2] * 4 + (k & 3)] / 255 + 0.01);
  deepEqual(Array.from(await nearestTraining(samples, 2, train)), pick);
});

Deno.test("sequenceSteps(): ten steps evenly to the last, t = round(jT/10) − 1; all T where T ≤ 10", () => {
  deepEqual(sequenceSteps(64), [5, 12, 18, 25, 31, 37, 44, 50, 57, 63]);
  deepEqual(sequenceSteps(8), [0, 1, 2, 3, 4, 5, 6, 7]);
  deepEqual(sequenceSteps(20, 4), [4, 9, 14, 19]);
});

Deno.test("generationSequence() (Figs 1, 7, 10): row k, column j is sample k's canvas at step j of the GIF", async () => {
  await selectBackend("wasm");
  const model = new Draw({ ...TINY, T: 12 }, 3);
  const trace = await generationTrace(model, 6, new Rng(5));
  const { frames } = generationFrames(model.config, trace, 3);
  const steps = sequenceSteps(12, 5), rows = 4;
  const seq = generationSequence(model.config, trace, steps, rows);
  const { height: H, width: W } = model.config, s = pictureScale(H, W), gap = 2;
  equal(seq.width, steps.length * (W * s + gap) + gap);
  equal(seq.height, rows * (H * s + gap) + gap);
  const tile = (r: Raster, x0: number, y0: number) => {
    const out: number[] = [];
    for (let y = y0; y < y0 + H * s; y++) {
      out.push(...r.rgb.subarray((y * r.width + x0) * 3, (y * r.width + x0 + W * s) * 3));
    }
    return out;
  };
  for (let k = 0; k < rows; k++) {
    steps.forEach((t, j) => {
      const inFrame = tile(frames[t], gap + (k % 3) * (W * s + gap), gap + Math.floor(k / 3) * (H * s + gap));
      deepEqual(tile(seq, gap + j * (W * s + gap), gap + k * (H * s + gap)), inFrame, `sample ${k}, step ${t}`);
    });
  }
  // the canvases differ from step to step, so a column showing another step would fail above
  ok(tile(frames[steps[1]], gap, gap).some((v, i) => v !== tile(frames[steps[1] - 1], gap, gap)[i]));
  model.dispose();
});

Deno.test("Raster.window() joins the outermost filter centres, g ± (N − 1)δ/2, with a border σ·scale/2 wide", () => {
  // A 5×5 image at scale 2; window centred at (3, 3) with δ = 1, N = 3: filter centres 2..4 (1-indexed),
  // i.e. pixel centres at raster x = (2 − 0.5)·2 = 3 to (4 − 0.5)·2 = 7. σ = 2 gives a 2-pixel border.
  const r = new Raster(10, 10, [0, 0, 0]);
  r.window([3, 3, 1, 2, 1], 3, 0, 0, 5, 5, 2, GREEN);
  const green = (x: number, y: number) => r.rgb[(y * 10 + x) * 3 + 1] === GREEN[1];
  equal(green(2, 5), true, "left edge");
  equal(green(7, 5), true, "right edge");
  equal(green(5, 5), false, "inside is not drawn");
  equal(green(0, 5), false, "outside is not drawn");
  equal(green(5, 2) && green(5, 3), true, "top border is 2 pixels wide");
});

Deno.test("linePlot(): the y axis spans the last 90% of the run, so a steep start does not flatten the tail", () => {
  const points: [number, number][] = Array.from({ length: 100 }, (_, k) => [k, k < 5 ? 400 : 90 - k / 10]);
  const svg = linePlot([{ label: "cost", color: "red", points }], "t", "x", "y");
  const yTicks = [...svg.matchAll(/text-anchor="end">([0-9.]+)</g)].map((m) => Number(m[1]));
  ok(Math.max(...yTicks) < 100 && Math.min(...yTicks) > 79, `y ticks ${yTicks}`);
  match(svg, /the first 10% of the run is off the top/);
  match(svg, /clip-path="url\(#plot\)"/);
  const rising = points.map(([x]) => [x, 80 + x / 10] as [number, number]);
  ok(!linePlot([{ label: "cost", color: "red", points: rising }], "t", "x", "y").includes("off the top"), "no note");
});

/** metrics.jsonl text with validation costs `elbos` at 50,000 examples apart, two training lines before each. */
function metricsOf(elbos: number[]): string {
  const line = (kind: string, examples: number, cost: number) =>
    JSON.stringify(kind === "train" ? { kind, examples, loss: cost } : { kind, examples, elbo: cost });
  return elbos.map((elbo, k) => {
    const examples = 50_000 * (k + 1);
    return [
      line("train", examples - 40_000, elbo + 9),
      line("train", examples - 20_000, elbo + 8),
      line("valid", examples, elbo),
    ]
      .join("\n");
  }).join("\n") + '\n{"kind":"valid","exam'; // a last line cut short by a kill
}

Deno.test("validationCurves(): each run's validation cost, one polyline a run, labelled in order", () => {
  const svg = validationCurves([
    { label: "decay from the start", metrics: metricsOf([100, 96, 94, 93]) },
    { label: "constant at 1e-3, then a decay to the end", metrics: metricsOf([101, 95, 92, 90, 89]) },
  ], "two schedules");
  const lines = [...svg.matchAll(/<polyline[^>]*points="([^"]+)"/g)].map((m) => m[1].split(" ").length);
  deepEqual(lines, [4, 5], "validation points only, per run, in order");
  ok(svg.indexOf("decay from the start") < svg.indexOf("constant at 1e-3"), "labels in order");
  const legend = [...svg.matchAll(/<text x="([0-9.]+)" y="[0-9.]+">([^<]+)<\/text>/g)];
  equal(legend.length, 2);
  for (const [, x, label] of legend) {
    ok(Number(x) + 7 * label.length <= 720, `the legend's "${label}" at x ${x} runs off the plot`);
  }
});

Deno.test("tools/compare_runs.ts writes the SVG from run directories; a missing run is a one-line error", async () => {
  const dir = await Deno.makeTempDir();
  for (const [name, elbos] of [["a", [100, 96]], ["b", [99, 95, 93]]] as const) {
    await Deno.mkdir(`${dir}/${name}`);
    await Deno.writeTextFile(`${dir}/${name}/metrics.jsonl`, metricsOf([...elbos]));
  }
  const dec = new TextDecoder();
  const good = await scriptCommand("tools/compare_runs.ts", [
    `${dir}/a`,
    `${dir}/b/metrics.jsonl`,
    "--label",
    "A",
    "--out",
    `${dir}/v.svg`,
  ]).output();
  equal(good.code, 0, dec.decode(good.stderr));
  match(dec.decode(good.stdout), /wrote .*v\.svg \(A, b\)/);
  equal([...(await Deno.readTextFile(`${dir}/v.svg`)).matchAll(/<polyline/g)].length, 2);
  const bad = await scriptCommand("tools/compare_runs.ts", [`${dir}/none`, "--out", `${dir}/w.svg`]).output();
  equal(bad.code, 1);
  match(
    dec.decode(bad.stderr),
    /^Cannot read .*none\/metrics\.jsonl .*: give a run directory or its metrics\.jsonl\n$/,
  );
  // --from 100000: a's two points are at 50,000 and 100,000, b's three up to 150,000.
  const late = await scriptCommand("tools/compare_runs.ts", [
    `${dir}/a`,
    `${dir}/b`,
    "--from",
    "100000",
    "--out",
    `${dir}/l.svg`,
  ])
    .output();
  equal(late.code, 0, dec.decode(late.stderr));
  const svg = await Deno.readTextFile(`${dir}/l.svg`);
  equal((svg.match(/<circle /g) ?? []).length, 1, "a keeps one point, drawn as a dot");
  deepEqual([...svg.matchAll(/<polyline[^>]*points="([^"]+)"/g)].map((m) => m[1].split(" ").length), [2]);
  const none = await scriptCommand("tools/compare_runs.ts", [`${dir}/a`, "--from", "200000", "--out", `${dir}/n.svg`])
    .output();
  equal(none.code, 1);
  match(dec.decode(none.stderr), /^a has no validation line from 200000 examples on: nothing to plot\n$/);
  const usage = await scriptCommand("tools/compare_runs.ts", [`${dir}/a`]).output();
  equal(usage.code, 2);
  // --key: one run's fields as curves of their own; a field only some lines have (an average added late) from those
  const fields = [
    { kind: "valid", examples: 50_000, elbo: 90, raw_elbo: 91 },
    { kind: "valid", examples: 100_000, elbo: 88, raw_elbo: 90, "avg@0.998_elbo": 87.5 },
    { kind: "valid", examples: 150_000, elbo: 86, raw_elbo: 89, "avg@0.998_elbo": 85.5 },
  ];
  await Deno.writeTextFile(`${dir}/f.jsonl`, fields.map((l) => JSON.stringify(l)).join("\n") + "\n");
  const keyed = await scriptCommand("tools/compare_runs.ts", [
    ...[`${dir}/f.jsonl`, `${dir}/f.jsonl`, `${dir}/f.jsonl`],
    ...["--key", "raw_elbo", "--key", "avg@0.998_elbo", "--out", `${dir}/k.svg`],
  ]).output();
  equal(keyed.code, 0, dec.decode(keyed.stderr));
  const k = await Deno.readTextFile(`${dir}/k.svg`);
  deepEqual([...k.matchAll(/<polyline[^>]*points="([^"]+)"/g)].map((m) => m[1].split(" ").length), [3, 2, 3]);
  deepEqual(
    validationCurves(
      [{ label: "raw", metrics: fields.map((l) => JSON.stringify(l)).join("\n"), key: "raw_elbo" }],
      "t",
    ),
    validationCurves([{ label: "raw", metrics: metricsOf([91, 90, 89]) }], "t"),
    "raw_elbo plotted as the cost would be",
  );
  // a field dropped for a while and added again: its line breaks at the gap, not drawn across it
  const gapped = [90, undefined, 86, 85].map((v, i) =>
    JSON.stringify({ kind: "valid", examples: 50_000 * (i + 1), elbo: 99, a: v })
  )
    .join("\n");
  const g = validationCurves([{ label: "a", metrics: gapped, key: "a" }], "t");
  equal((g.match(/<circle /g) ?? []).length, 1, "the point before the gap, alone, is a dot");
  deepEqual([...g.matchAll(/<polyline[^>]*points="([^"]+)"/g)].map((m) => m[1].split(" ").length), [2]);
  const missing = await scriptCommand("tools/compare_runs.ts", [
    `${dir}/a`,
    "--key",
    "raw_elbo",
    "--out",
    `${dir}/m.svg`,
  ])
    .output();
  equal(missing.code, 1);
  match(dec.decode(missing.stderr), /^a has no validation line with raw_elbo from 0 examples on: nothing to plot\n$/);
  const twoKeys = await scriptCommand("tools/compare_runs.ts", [`${dir}/a`, "--key", "x", "--key", "y", "--out", "z"])
    .output();
  equal(twoKeys.code, 2);
  await Deno.remove(dir, { recursive: true });
});
