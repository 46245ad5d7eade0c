/**
 * Data sets by the name the CLI takes.
 *
 * @module
 */
import { loadBinarizedMnist, loadMnistIdx, type LoadOptions, type Splits } from "./mnist.ts";
import { loadCifar10 } from "./cifar.ts";
import { makeTwoDigit } from "./two_digit.ts";

/** A data set the generative model trains on. */
export interface DatasetEntry {
  /** One line for --help. */
  description: string;
  load: (options: LoadOptions) => Promise<Splits>;
}

/** Data sets by CLI name. */
export const DATASETS: Readonly<Record<string, DatasetEntry>> = {
  mnist: {
    description: "binarized MNIST (Larochelle's fixed binarization, 50k/10k/10k): the paper's Table 2 data",
    load: loadBinarizedMnist,
  },
  "mnist-gray": {
    description: "plain MNIST (LeCun's IDX files), intensities in [0, 1] as emission probabilities",
    load: loadMnistIdx,
  },
  "two-digit": {
    description: "two 28×28 MNIST digits at random places on 60×60, added and clipped at 1 (Section 4.3)",
    load: async (options) => {
      const m = await loadMnistIdx(options);
      return {
        train: makeTwoDigit(m.train, m.train.count, 1),
        valid: makeTwoDigit(m.valid, m.valid.count, 2),
        test: makeTwoDigit(m.test, m.test.count, 3),
        source: `two-digit images generated from ${m.source}`,
        comparable: true,
      };
    },
  },
  cifar10: {
    description: "CIFAR-10 binary version, RGB intensities as emission probabilities (Section 4.5)",
    load: loadCifar10,
  },
};
