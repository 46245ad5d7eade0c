/**
 * SVHN, cropped-digit format ("Format 2"): `train_32x32.mat` and `test_32x32.mat`, MATLAB Level 5
 * files holding X (uint8, 32×32×3×n, column-major) and y (labels 1–10, where 10 means the digit
 * 0). Read with mat.ts.
 *
 * @module
 */
import { rgb32 } from "./dataset.ts";
import { cacheDir, download } from "./download.ts";
import { DataError, isFile } from "./files.ts";
import { type MatArray, readMat } from "./mat.ts";
import type { LoadOptions, Splits } from "./dataset.ts";

/** Where SVHN's cropped digits live online, with the SHA-256 of each file as served. */
export const SVHN_FILES: Readonly<Record<"train" | "test", { url: string; file: string; sha256: string }>> = {
  train: {
    url: "http://ufldl.stanford.edu/housenumbers/train_32x32.mat",
    file: "train_32x32.mat",
    sha256: "435e94d69a87fde4fd4d7f3dd208dfc32cb6ae8af2240d066de1df7508d083b8",
  },
  test: {
    url: "http://ufldl.stanford.edu/housenumbers/test_32x32.mat",
    file: "test_32x32.mat",
    sha256: "cdce80dfb2a2c4c6160906d0bd7c68ec5a99d7ca4831afa54f09182025b6a75b",
  },
};

/**
 * Turns SVHN's X (32×32×3×n, column-major) and y into HWC bytes and labels 0–9, checking shapes
 * and label values.
 */
export function svhnArrays(
  X: MatArray | undefined,
  y: MatArray | undefined,
  what: string,
): { count: number; images: Uint8Array; labels: Uint8Array } {
  const fix = "get a good copy from http://ufldl.stanford.edu/housenumbers/ (Format 2, *_32x32.mat)";
  if (!X || !y) throw new DataError(`Cannot read ${what} as it lacks variable ${X ? "y" : "X"}: ${fix}`);
  const [h, w, c, n] = X.dims;
  if (X.dims.length !== 4 || h !== 32 || w !== 32 || c !== 3 || X.className !== "uint8") {
    throw new DataError(`Cannot read ${what} as X is ${X.className} [${X.dims}], not uint8 [32,32,3,n]: ${fix}`);
  }
  if (y.data.length !== n) throw new DataError(`Cannot read ${what} as y has ${y.data.length} labels for ${n} images`);
  const src = X.data as Uint8Array;
  const images = new Uint8Array(n * 3072), labels = new Uint8Array(n);
  for (let k = 0; k < n; k++) {
    const label = y.data[k];
    if (!Number.isInteger(label) || label < 1 || label > 10) {
      throw new DataError(`Cannot read ${what} as label ${k} is ${label}, not 1–10: ${fix}`);
    }
    labels[k] = label % 10; // 10 stands for the digit 0
    const o = k * 3072;
    for (let ch = 0; ch < 3; ch++) {
      for (let col = 0; col < 32; col++) {
        for (let row = 0; row < 32; row++) images[o + (row * 32 + col) * 3 + ch] = src[o + ch * 1024 + col * 32 + row];
      }
    }
  }
  return { count: n, images, labels };
}

/** Reads one SVHN `*_32x32.mat` file. */
export async function readSvhnMat(path: string): Promise<{ count: number; images: Uint8Array; labels: Uint8Array }> {
  const vars = await readMat(await Deno.readFile(path), path);
  return svhnArrays(vars.get("X"), vars.get("y"), path);
}

async function findDir(options: LoadOptions): Promise<string | undefined> {
  const bases = [options.dataDir, Deno.env.get("DRAW_DATA_DIR"), cacheDir()].filter(Boolean) as string[];
  for (const base of bases) {
    for (const dir of [`${base}/svhn`, base]) {
      const names = Object.values(SVHN_FILES).map((f) => `${dir}/${f.file}`);
      if ((await Promise.all(names.map(isFile))).every(Boolean)) return dir;
    }
  }
  return undefined;
}

/**
 * Loads SVHN's cropped digits from `svhn/` in the data directory, `$DRAW_DATA_DIR` or the cache,
 * downloading the canonical files (SHA-256 checked) when absent. The last tenth of train_32x32
 * is the validation split; test_32x32 is the test split. (The extra set is not used.)
 */
export async function loadSvhn(options: LoadOptions = {}): Promise<Splits> {
  let dir = await findDir(options);
  if (!dir && options.download !== false) {
    dir = `${cacheDir()}/svhn`;
    for (const f of Object.values(SVHN_FILES)) {
      if (!(await isFile(`${dir}/${f.file}`))) await download(f.url, `${dir}/${f.file}`, f.sha256, options.log, "file");
    }
  }
  if (!dir) {
    throw new DataError(
      "Cannot find SVHN (svhn/train_32x32.mat, test_32x32.mat): pass --data-dir or allow the download",
    );
  }
  const train = await readSvhnMat(`${dir}/${SVHN_FILES.train.file}`);
  const test = await readSvhnMat(`${dir}/${SVHN_FILES.test.file}`);
  const nValid = Math.max(1, Math.floor(train.count / 10)), nTrain = train.count - nValid;
  return {
    train: rgb32("SVHN (train)", {
      count: nTrain,
      images: train.images.subarray(0, nTrain * 3072),
      labels: train.labels.subarray(0, nTrain),
    }),
    valid: rgb32("SVHN (valid)", {
      count: nValid,
      images: train.images.subarray(nTrain * 3072),
      labels: train.labels.subarray(nTrain),
    }),
    test: rgb32("SVHN (test)", test),
    source: dir,
    comparable: true,
  };
}
