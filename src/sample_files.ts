/**
 * What `cli.ts sample` writes beside a model: samples.png (Fig 6), generation.gif (Fig 1's canvas filling in, with the
 * write window), sequence.png (the same as a still, a row per sample, as Figs 1, 7 and 10 print it), nearest.png
 * (each sample beside its nearest training image), reading.gif (a test image read and redrawn), loss.svg (the run's
 * curve); for the classifier, glimpses.png (Fig 5) and the curve.
 *
 * @module
 */
import { Classifier } from "./classifier.ts";
import type { Draw } from "./draw.ts";
import type { Splits } from "./data/dataset.ts";
import { DataError, isFile, writeAtomic } from "./data/files.ts";
import type { Rng } from "./random.ts";
import { encodeGif, encodePng } from "./render/encode.ts";
import {
  generationFrames,
  generationSequence,
  generationTrace,
  glimpsePicture,
  imageGrid,
  lossCurve,
  nearestPicture,
  nearestTraining,
  readingFrames,
  sampleMeans,
  sequenceSteps,
} from "./pictures.ts";

/** Where and what {@link writePictures} draws. */
export interface PictureOptions {
  /** The folder the pictures go to (made if missing). */
  outDir: string;
  /** Samples in the grid. */
  n: number;
  /** The noise of the samples and the reading. */
  rng: Rng;
  /** The model's data set, for titles and messages. */
  dataset: string;
  /** The run's metrics.jsonl, for loss.svg where it exists. */
  metrics: string;
  /** Whether to draw nearest.png (it needs the whole training set). */
  nearest: boolean;
  /** The model's data, loaded when a picture needs it (a DataError skips those pictures with a note). */
  data: () => Promise<Splits>;
  /** Where notes go. */
  log: (line: string) => void;
}

/** Draws the pictures of `model` (freed at the end) into o.outDir; returns the files written. */
export async function writePictures(model: Draw | Classifier, o: PictureOptions): Promise<string[]> {
  await Deno.mkdir(o.outDir, { recursive: true });
  const written: string[] = [];
  const put = async (name: string, bytes: Uint8Array) => {
    await writeAtomic(`${o.outDir}/${name}`, bytes);
    written.push(`${o.outDir}/${name}`);
  };
  const { n, rng, dataset, metrics: metricsPath } = o;
  const curve = async (title: string) => {
    if (await isFile(metricsPath)) {
      await put("loss.svg", new TextEncoder().encode(lossCurve(await Deno.readTextFile(metricsPath), title)));
    }
  };
  if (model instanceof Classifier) {
    const splits = await o.data();
    await put("glimpses.png", encodePng(await glimpsePicture(model, splits.test, Math.min(n, 8))));
    await curve(`Differentiable RAM on ${dataset}: cross-entropy against examples seen`);
    model.dispose();
    return written;
  }
  const { height: H, width: W, channels: C } = model.config;
  const means = await sampleMeans(model, n, rng);
  await put("samples.png", encodePng(imageGrid(means, n, H, W, C, Math.ceil(Math.sqrt(n)))));
  const trace = await generationTrace(model, Math.min(n, 16), rng);
  const gen = generationFrames(model.config, trace, 4);
  await put("generation.gif", encodeGif(gen.frames, gen.delays));
  const steps = sequenceSteps(model.config.T);
  await put("sequence.png", encodePng(generationSequence(model.config, trace, steps, Math.min(trace.n, 8))));
  let splits: Splits | undefined;
  try {
    splits = await o.data();
  } catch (e) {
    if (!(e instanceof DataError)) throw e;
    o.log(`skipping the pictures that need ${dataset}: ${e.message}`);
  }
  if (splits) {
    if (o.nearest) {
      const k = Math.min(n, 8);
      const nearest = await nearestTraining(means.subarray(0, k * H * W * C), k, splits.train);
      await put("nearest.png", encodePng(nearestPicture(means, k, splits.train, nearest)));
    }
    const read = await readingFrames(model, splits.test, 0, rng);
    await put("reading.gif", encodeGif(read.frames, read.delays));
  }
  await curve(`DRAW on ${dataset}: cost against examples seen`);
  model.dispose();
  return written;
}
