/**
 * What a run trains: a {@link Task} says how to make the model, feed it, validate it and describe it. DRAW's task
 * validates the Eq 12 bound; the classifier's, the error rate.
 *
 * @module
 */
import type { ClassifierConfig, DrawConfig } from "./config.ts";
import type { Dataset } from "./data/dataset.ts";
import { Draw } from "./draw.ts";
import { Classifier } from "./classifier.ts";
import { evaluate, evaluateClassifier } from "./evaluate.ts";
import type { Model } from "./checkpoint.ts";

/** Validation figures and the line that reports them. */
export interface Validation {
  /** How many validation images the figures are over. */
  count: number;
  /** The figures by name: `elbo`, `lx`, `lz` for DRAW; `error`, `xent` for the classifier. */
  figures: Record<string, number>;
  /** The line the log shows. */
  text: string;
}

/** What is trained: how to make the model, feed it, validate it and describe it. */
export interface Task {
  /** A fresh model from `seed`. */
  create(seed: number): Model;
  /** Whether batches carry class labels. */
  labelled: boolean;
  /** Validation figures of `model` on the first `limit` images of `ds`. */
  validate(model: Model, ds: Dataset, limit: number, onProgress: (d: number, n: number) => void): Promise<Validation>;
  /** One line describing the model, for the log. */
  describe(model: Model): string;
  /** Step figures for the status line, e.g. "Lx 120.1 Lz 20.3". */
  format(figures: Record<string, number>): string;
}

/** Generative DRAW: the ELBO of Eq 12 with Lx and Lz. */
export function drawTask(config: DrawConfig): Task {
  return {
    create: (seed) => new Draw(config, seed),
    labelled: false,
    validate: async (model, ds, limit, onProgress) => {
      const r = await evaluate(model as Draw, ds, { limit, seed: 1, onProgress });
      return {
        count: r.count,
        figures: { elbo: r.elbo, lx: r.lx, lz: r.lz },
        text: `validation ELBO ${r.elbo.toFixed(2)} nats (Lx ${r.lx.toFixed(2)}, Lz ${r.lz.toFixed(2)})`,
      };
    },
    describe: (m) => {
      const c = (m as Draw).config;
      return `DRAW T=${c.T} LSTM ${c.hidden} z ${c.z} read ${c.readN || "full"} write ${c.writeN || "full"}`;
    },
    format: (f) => `Lx ${f.lx.toFixed(2)} Lz ${f.lz.toFixed(2)}`,
  };
}

/** The classifier of Section 4.1: cross-entropy, and the error rate. */
export function classifierTask(config: ClassifierConfig): Task {
  return {
    create: (seed) => new Classifier(config, seed),
    labelled: true,
    validate: async (model, ds, limit, onProgress) => {
      const r = await evaluateClassifier(model as Classifier, ds, { limit, onProgress });
      return {
        count: r.count,
        figures: { error: r.error, xent: r.loss },
        text: `validation error ${(100 * r.error).toFixed(2)}% (cross-entropy ${r.loss.toFixed(4)})`,
      };
    },
    describe: (m) => {
      const c = (m as Classifier).config;
      return `differentiable RAM, ${c.glimpses} glimpses of ${c.readN}×${c.readN}, LSTM ${c.hidden}`;
    },
    format: (f) => `error ${(100 * f.error).toFixed(1)}%`,
  };
}
