/**
 * The paper's pictures from a trained model: generated samples (Fig 6), the generation sequence with the write window
 * (Figs 1, 7, 10: as a still and in motion), the nearest training image beside samples (Figs 6, 9, 12), the reading
 * sequence of a real image, and the loss curve (Fig 11).
 *
 * @module
 */
import * as tf from "./tf.ts";
import { batchTensor, type Dataset, imageBytes } from "./data/dataset.ts";
import type { Draw } from "./draw.ts";
import type { DrawConfig } from "./config.ts";
import { type Classifier, classifierForward } from "./classifier.ts";
import type { Rng } from "./random.ts";
import { GREEN, gridLayout, Raster, RED } from "./render/raster.ts";
import { linePlot } from "./render/plot.ts";

/** Pixels per image pixel in pictures: 4 for 28×28, fewer for larger images. */
export function pictureScale(height: number, width: number): number {
  return Math.max(1, Math.round(112 / Math.max(height, width)));
}

/** A grid of images given as one Float32Array [n, H, W, C] in [0, 1]. */
export function imageGrid(values: Float32Array, n: number, H: number, W: number, C: number, cols: number): Raster {
  const s = pictureScale(H, W);
  const g = gridLayout(n, cols, W * s, H * s, 2);
  const r = new Raster(g.width, g.height, [128, 128, 128]);
  const size = H * W * C;
  for (let k = 0; k < n; k++) r.image(values.subarray(k * size, (k + 1) * size), H, W, C, ...g.at(k), s);
  return r;
}

/** Samples σ(c_T) of `n` images (Eq 16 means, as in Fig 6), as values [n, H, W, C]. */
export async function sampleMeans(model: Draw, n: number, rng: Rng): Promise<Float32Array> {
  const s = model.generate(n, rng);
  const v = (await s.means.data()) as Float32Array;
  tf.dispose([s.means, s.logits]);
  return v;
}

/** What generation drew at each step: the canvases σ(c_t) and the write windows of `n` samples (Figs 1, 7, 10). */
export interface GenerationTrace {
  /** Samples. */
  n: number;
  /** σ(c_t) for t = 1…T, [T, n, H, W, C] in [0, 1]. */
  canvases: Float32Array;
  /** The write windows' five numbers (Eqs 21–24, before their transforms), [n, T, 5]; absent without attention. */
  windows?: Float32Array;
}

/** Generates `n` samples (Eqs 13–16), keeping each step's canvas and write window. */
export async function generationTrace(model: Draw, n: number, rng: Rng): Promise<GenerationTrace> {
  const s = model.generate(n, rng, { trace: true });
  const canvases = (await tf.tidy(() => tf.sigmoid(s.canvases!)).data()) as Float32Array;
  const windows = s.writeWindows ? ((await s.writeWindows.data()) as Float32Array) : undefined;
  tf.dispose([s.means, s.logits, s.canvases!, s.writeWindows!].filter(Boolean));
  return { n, canvases, windows };
}

/** Draws sample k's canvas at step t, with its write window in red, its top-left corner at (x0, y0). */
function drawStep(r: Raster, config: DrawConfig, trace: GenerationTrace, k: number, t: number, x0: number, y0: number) {
  const { T, height: H, width: W, channels: C, writeN } = config;
  const size = H * W * C, scale = pictureScale(H, W), at = (t * trace.n + k) * size;
  r.image(trace.canvases.subarray(at, at + size), H, W, C, x0, y0, scale);
  if (trace.windows) {
    r.window(trace.windows.subarray((k * T + t) * 5, (k * T + t) * 5 + 5), writeN, x0, y0, W, H, scale, RED);
  }
}

/**
 * The generation sequence as an animation (Fig 1 in motion): one frame per step t showing σ(c_t) of every sample of
 * `trace` in a grid of `cols` columns, with the write window in red where the model writes with attention.
 */
export function generationFrames(
  config: DrawConfig,
  trace: GenerationTrace,
  cols: number,
): { frames: Raster[]; delays: number[] } {
  const { T, height: H, width: W } = config;
  const scale = pictureScale(H, W);
  const g = gridLayout(trace.n, cols, W * scale, H * scale, 2);
  const frames: Raster[] = [];
  for (let t = 0; t < T; t++) {
    const r = new Raster(g.width, g.height, [128, 128, 128]);
    for (let k = 0; k < trace.n; k++) drawStep(r, config, trace, k, t, ...g.at(k));
    frames.push(r);
  }
  const delays = frames.map((_, t) => (t === T - 1 ? 2000 : Math.max(40, Math.round(3000 / T))));
  return { frames, delays };
}

/** The steps a still of the generation shows (0-based): `columns` of them evenly to the last, or every one of T. */
export function sequenceSteps(T: number, columns = 10): number[] {
  if (T <= columns) return Array.from({ length: T }, (_, t) => t);
  return Array.from({ length: columns }, (_, j) => Math.round(((j + 1) * T) / columns) - 1);
}

/**
 * The generation sequence as a still, as the paper prints it (Figs 1, 7, 10): one row per sample (the first `rows`
 * of `trace`), one column per step of `steps`, the write window in red.
 */
export function generationSequence(config: DrawConfig, trace: GenerationTrace, steps: number[], rows: number): Raster {
  const { height: H, width: W } = config;
  const scale = pictureScale(H, W);
  const g = gridLayout(rows * steps.length, steps.length, W * scale, H * scale, 2);
  const r = new Raster(g.width, g.height, [128, 128, 128]);
  for (let k = 0; k < Math.min(rows, trace.n); k++) {
    steps.forEach((t, j) => drawStep(r, config, trace, k, t, ...g.at(k * steps.length + j)));
  }
  return r;
}

/** Index of the training image closest (pixelwise L2) to each sample. */
export async function nearestTraining(samples: Float32Array, n: number, train: Dataset): Promise<Int32Array> {
  const size = train.height * train.width * train.channels;
  const best = new Float32Array(n).fill(Infinity);
  const arg = new Int32Array(n);
  const chunk = 5000;
  const s = tf.tensor2d(samples, [n, size]);
  for (let start = 0; start < train.count; start += chunk) {
    const idx = Array.from({ length: Math.min(chunk, train.count - start) }, (_, k) => start + k);
    const d = tf.tidy(() => {
      const x = tf.reshape(batchTensor(train, idx), [idx.length, size]);
      // |s − x|² = |s|² − 2 s·x + |x|², [n, chunk]
      return tf.add(
        tf.sub(tf.sum(tf.square(s), 1, true), tf.mul(tf.matMul(s, x, false, true), 2)),
        tf.reshape(tf.sum(tf.square(x), 1), [1, -1]),
      );
    });
    const v = await d.data(); // not dataSync: the webgpu backend cannot read synchronously in Deno
    d.dispose();
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < idx.length; j++) {
        if (v[i * idx.length + j] < best[i]) {
          best[i] = v[i * idx.length + j];
          arg[i] = start + j;
        }
      }
    }
  }
  s.dispose();
  return arg;
}

/** Samples in one column and their nearest training images in the next (Fig 6's right columns). */
export function nearestPicture(samples: Float32Array, n: number, train: Dataset, nearest: Int32Array): Raster {
  const { height: H, width: W, channels: C } = train;
  const size = H * W * C;
  const pairs = new Float32Array(2 * n * size);
  for (let k = 0; k < n; k++) {
    pairs.set(samples.subarray(k * size, (k + 1) * size), 2 * k * size);
    const img = imageBytes(train, nearest[k]);
    for (let p = 0; p < size; p++) pairs[(2 * k + 1) * size + p] = img[p] * train.scale;
  }
  return imageGrid(pairs, 2 * n, H, W, C, 2);
}

/**
 * The reading sequence of one real image: per step, the image with the read window (green) and
 * the canvas σ(c_t) being built beside it with the write window (red).
 */
export async function readingFrames(
  model: Draw,
  ds: Dataset,
  index: number,
  rng: Rng,
): Promise<{ frames: Raster[]; delays: number[]; lx: number; lz: number }> {
  const { T, height: H, width: W, channels: C, readN, writeN } = model.config;
  const x = batchTensor(ds, [index]);
  const out = model.loss(x, rng, { trace: true });
  const [lx, lz] = [(await out.lx.data())[0], (await out.lz.data())[0]]; // Eq 9, Eqs 10–11
  const img = (await x.data()) as Float32Array;
  const canv = (await tf.tidy(() => tf.sigmoid(out.canvases!)).data()) as Float32Array; // [T, 1, H, W, C]
  const rw = out.readWindows ? ((await out.readWindows.data()) as Float32Array) : undefined;
  const ww = out.writeWindows ? ((await out.writeWindows.data()) as Float32Array) : undefined;
  tf.dispose([x, out.lx, out.lz, out.loss, out.canvases!, out.readWindows!, out.writeWindows!].filter(Boolean));
  const s = pictureScale(H, W);
  const g = gridLayout(2, 2, W * s, H * s, 2);
  const size = H * W * C;
  const frames: Raster[] = [];
  for (let t = 0; t < T; t++) {
    const r = new Raster(g.width, g.height, [128, 128, 128]);
    const [ax, ay] = g.at(0), [bx, by] = g.at(1);
    r.image(img, H, W, C, ax, ay, s);
    if (rw) r.window(rw.subarray(t * 5, t * 5 + 5), readN, ax, ay, W, H, s, GREEN);
    r.image(canv.subarray(t * size, (t + 1) * size), H, W, C, bx, by, s);
    if (ww) r.window(ww.subarray(t * 5, t * 5 + 5), writeN, bx, by, W, H, s, RED);
    frames.push(r);
  }
  return { frames, delays: frames.map((_, t) => (t === T - 1 ? 2000 : Math.max(40, Math.round(3000 / T)))), lx, lz };
}

/**
 * The glimpse sequence of the classifier (Fig 5): one row per test image, one column per glimpse,
 * the attention window drawn in green with a line width that shows σ.
 */
export async function glimpsePicture(model: Classifier, ds: Dataset, count: number): Promise<Raster> {
  const { glimpses: G, readN } = model.config;
  const { height: H, width: W, channels: C } = ds;
  const idx = Array.from({ length: Math.min(count, ds.count) }, (_, k) => k);
  const x = batchTensor(ds, idx);
  const out = classifierForward(model.weights, model.config, x, { trace: true });
  const img = (await x.data()) as Float32Array;
  const wins = (await out.windows!.data()) as Float32Array; // [n, G, 5]
  tf.dispose([x, out.logits, out.windows!]);
  const s = Math.max(1, Math.round(200 / Math.max(H, W)));
  const g = gridLayout(idx.length * G, G, W * s, H * s, 2);
  const r = new Raster(g.width, g.height, [128, 128, 128]);
  const size = H * W * C;
  for (let n = 0; n < idx.length; n++) {
    for (let t = 0; t < G; t++) {
      const [x0, y0] = g.at(n * G + t);
      r.image(img.subarray(n * size, (n + 1) * size), H, W, C, x0, y0, s);
      r.window(wins.subarray((n * G + t) * 5, (n * G + t) * 5 + 5), readN, x0, y0, W, H, s, GREEN);
    }
  }
  return r;
}

/** The lines of metrics.jsonl text, parsed; a line cut short by a kill is skipped, not fatal. */
function* metricLines(metrics: string): Generator<Record<string, number | string>> {
  for (const line of metrics.split("\n")) {
    if (!line.trim()) continue;
    try {
      yield JSON.parse(line);
    } catch {
      // cut short
    }
  }
}

/** A run's curves from its metrics.jsonl text: training cost and validation cost (a classifier's: cross-entropy). */
function runCurves(metrics: string): { train: [number, number][]; valid: [number, number][] } {
  const train: [number, number][] = [];
  for (const m of metricLines(metrics)) if (m.kind === "train") train.push([m.examples as number, m.loss as number]);
  return { train, valid: validationPoints(metrics) };
}

/**
 * The loss curve (Fig 11) from metrics.jsonl text: training and validation cost against examples
 * seen. For a classifier run, the validation curve is its cross-entropy.
 */
export function lossCurve(metrics: string, title: string): string {
  const { train, valid } = runCurves(metrics);
  return linePlot(
    [
      { label: "training cost", color: "#1f77b4", points: train },
      { label: "validation cost", color: "#d62728", points: valid },
    ],
    title,
    "examples seen",
    "cost (nats per image)",
  );
}

const RUN_COLORS = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"];

/**
 * A run's validation points [examples, cost] from its metrics.jsonl text, from `from` examples on; with `key`, that
 * field of the validation lines that have it instead of the cost, a line without it between two that have it a gap
 * ([examples, NaN], where a plot breaks the line: an average kept for a while, dropped, and added again).
 */
export function validationPoints(metrics: string, from = 0, key?: string): [number, number][] {
  const points: [number, number][] = [];
  for (const m of metricLines(metrics)) {
    if (m.kind !== "valid" || !((m.examples as number) >= from)) continue;
    const y = key === undefined ? m.elbo ?? m.xent : m[key];
    if (typeof y === "number") points.push([m.examples as number, y]);
    else if (points.length && Number.isFinite(points[points.length - 1][1])) points.push([m.examples as number, NaN]);
  }
  return points;
}

/**
 * Several runs' validation cost against examples seen, on one plot (runs of one model under two schedules, say),
 * from each run's metrics.jsonl text; tools/compare_runs.ts writes it from run directories. `from` leaves out the
 * points before that many examples (where runs that continue one another share their start). A run's `key` plots
 * another field of its validation lines than the cost (`raw_elbo`, `avg@0.998_elbo`: one run's raw weights and
 * moving averages), from the lines that have it.
 */
export function validationCurves(
  runs: { label: string; metrics: string; key?: string }[],
  title: string,
  { from = 0 }: { from?: number } = {},
): string {
  return linePlot(
    runs.map((r, k) => ({
      label: r.label,
      color: RUN_COLORS[k % RUN_COLORS.length],
      points: validationPoints(r.metrics, from, r.key),
    })),
    title,
    "examples seen",
    "validation cost (nats per image)",
  );
}
