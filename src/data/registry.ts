/**
 * Data sets by the name the CLI takes.
 *
 * @module
 */
import { loadBinarizedMnist, loadMnistIdx } from "./mnist.ts";
import type { LoadOptions, Splits } from "./dataset.ts";
import { loadCifar10 } from "./cifar.ts";
import { loadSvhn } from "./svhn.ts";
import { loadSvhnMulti } from "./svhn_multi.ts";
import { makeTwoDigit } from "./two_digit.ts";
import { CLUTTER_100, CLUTTER_60, type ClutterOptions, makeCluttered } from "./cluttered.ts";

/** A data set, and the task it is for. */
export interface DatasetEntry {
  /** One line for --help. */
  description: string;
  /** "generate" for DRAW, "classify" for the classifier of Section 4.1. */
  task: "generate" | "classify";
  /** The preset `train` uses when --preset is not given (default: mnist, or cluttered to classify). */
  preset?: string;
  load: (options: LoadOptions) => Promise<Splits>;
}

/**
 * Data sets by CLI name: a Map, so that a name is looked up among these keys alone (a name such as
 * `constructor`, which every plain object has, is unknown here as any other).
 */
export const DATASETS: ReadonlyMap<string, DatasetEntry> = new Map(Object.entries(
  {
    mnist: {
      description: "binarized MNIST (Larochelle's fixed binarization, 50k/10k/10k): the paper's Table 2 data",
      task: "generate",
      load: loadBinarizedMnist,
    },
    "mnist-gray": {
      description: "plain MNIST (LeCun's IDX files), intensities in [0, 1] as emission probabilities",
      task: "generate",
      load: loadMnistIdx,
    },
    "two-digit": {
      task: "generate",
      description: "two 28×28 MNIST digits at random places on 60×60, added and clipped at 1 (Section 4.3)",
      load: async (options) => {
        const m = await loadMnistIdx(options);
        const train = makeTwoDigit(m.train, m.train.count, 1, 60, { fresh: true });
        return {
          train,
          valid: makeTwoDigit(m.valid, m.valid.count, 2),
          test: makeTwoDigit(m.test, m.test.count, 3),
          source: `two-digit images generated from ${m.source}` +
            (train.draw ? " (training pairs drawn afresh for every batch)" : ""),
          comparable: true,
        };
      },
    },
    cifar10: {
      task: "generate",
      description: "CIFAR-10 binary version, RGB intensities as emission probabilities (Section 4.5)",
      preset: "cifar",
      load: loadCifar10,
    },
    svhn: {
      task: "generate",
      description: "SVHN cropped digits (train_32x32.mat, test_32x32.mat), RGB as emission probabilities (Section 4.4)",
      preset: "svhn",
      load: loadSvhn,
    },
    "svhn-multi": {
      task: "generate",
      description: "SVHN multi-digit photographs (train.tar.gz, test.tar.gz), as Goodfellow et al. 2013: " +
        "64×64, random 54×54 crops (Section 4.4's setup)",
      preset: "svhn",
      load: loadSvhnMulti,
    },
    cluttered: {
      task: "classify",
      description: "100×100 cluttered translated MNIST (Mnih et al. 2014), one digit and 8 pieces of clutter (Table 1)",
      load: (options) => clutteredSplits(options, CLUTTER_100),
    },
    "cluttered-60": {
      task: "classify",
      description: "60×60 cluttered translated MNIST, one digit and 4 pieces of clutter, for quick runs",
      load: (options) => clutteredSplits(options, CLUTTER_60),
    },
  } satisfies Record<string, DatasetEntry>,
));

/**
 * Cluttered MNIST: train and valid from MNIST's training split, test from its test split. Training
 * draws every example afresh (the digit at a new place, new clutter), as the reference generator
 * (google-deepmind/mnist-cluttered) does; validation and test are fixed by their seeds.
 */
async function clutteredSplits(options: LoadOptions, o: ClutterOptions): Promise<Splits> {
  const m = await loadMnistIdx(options);
  return {
    train: makeCluttered(m.train, m.train.count, 11, o, { fresh: true }), // new clutter for every example
    valid: makeCluttered(m.valid, m.valid.count, 12, o),
    test: makeCluttered(m.test, m.test.count, 13, o),
    source: `cluttered ${o.size}×${o.size} images generated from ${m.source}`,
    comparable: true,
  };
}
