/**
 * Data sets by the name the CLI takes.
 *
 * @module
 */
import { loadBinarizedMnist, loadMnistIdx, type LoadOptions, type Splits } from "./mnist.ts";

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
};
