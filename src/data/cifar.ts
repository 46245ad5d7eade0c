/**
 * CIFAR-10, binary version (`cifar-10-batches-bin`): each record is one label byte (0–9) and
 * 3072 pixel bytes, the red plane, then green, then blue, each 32×32 row by row. Five training
 * files of 10,000 records (data_batch_1..5.bin) and test_batch.bin.
 *
 * @module
 */
import { rgb32 } from "./dataset.ts";
import { cacheDir, download } from "./download.ts";
import { DataError, gunzip, isFile } from "./files.ts";
import { untar } from "./tar.ts";
import type { LoadOptions, Splits } from "./dataset.ts";

/** Where CIFAR-10's binary version lives online, and its checksum. */
export const CIFAR10: { url: string; sha256: string; trainFiles: string[]; testFile: string } = {
  url: "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
  // SHA-256 of the 170,052,171-byte archive (the page publishes MD5 c32a1d4ab5d03f1284b67883e8d87530).
  sha256: "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd",
  trainFiles: [1, 2, 3, 4, 5].map((k) => `data_batch_${k}.bin`),
  testFile: "test_batch.bin",
};

const RECORD = 1 + 3072;

/** Parses CIFAR-10 binary records into HWC bytes and labels, checking length and labels. */
export function parseCifar(bytes: Uint8Array, what: string): { count: number; images: Uint8Array; labels: Uint8Array } {
  const fix = "get a good copy (see README: Data)";
  if (bytes.length === 0 || bytes.length % RECORD !== 0) {
    throw new DataError(
      `Cannot read ${what} as its ${bytes.length} bytes are not a whole number of ${RECORD}-byte CIFAR-10 records (truncated?): ${fix}`,
    );
  }
  const count = bytes.length / RECORD;
  const images = new Uint8Array(count * 3072);
  const labels = new Uint8Array(count);
  for (let n = 0; n < count; n++) {
    const rec = bytes.subarray(n * RECORD, (n + 1) * RECORD);
    if (rec[0] > 9) throw new DataError(`Cannot read ${what} as record ${n} has label ${rec[0]}, not 0–9: ${fix}`);
    labels[n] = rec[0];
    for (let p = 0; p < 1024; p++) {
      for (let c = 0; c < 3; c++) images[n * 3072 + p * 3 + c] = rec[1 + c * 1024 + p]; // planes → pixels
    }
  }
  return { count, images, labels };
}

/** Encodes HWC bytes and labels as CIFAR-10 binary records (for fixtures and tests). */
export function encodeCifar(images: Uint8Array, labels: Uint8Array): Uint8Array {
  const out = new Uint8Array(labels.length * RECORD);
  for (let n = 0; n < labels.length; n++) {
    out[n * RECORD] = labels[n];
    for (let p = 0; p < 1024; p++) {
      for (let c = 0; c < 3; c++) out[n * RECORD + 1 + c * 1024 + p] = images[n * 3072 + p * 3 + c];
    }
  }
  return out;
}

async function findDir(options: LoadOptions): Promise<string | undefined> {
  const bases = [options.dataDir, Deno.env.get("DRAW_DATA_DIR"), cacheDir()].filter(Boolean) as string[];
  for (const base of bases) {
    for (const dir of [`${base}/cifar-10-batches-bin`, base]) {
      const names = [...CIFAR10.trainFiles, CIFAR10.testFile];
      if ((await Promise.all(names.map((n) => isFile(`${dir}/${n}`)))).every(Boolean)) return dir;
    }
  }
  return undefined;
}

/**
 * Loads CIFAR-10 from `cifar-10-batches-bin/` in the data directory, `$DRAW_DATA_DIR` or the
 * cache, downloading and unpacking the canonical archive (SHA-256 checked) when absent. The last
 * tenth of the training records is the validation split (5,000 of 50,000).
 */
export async function loadCifar10(options: LoadOptions = {}): Promise<Splits> {
  let dir = await findDir(options);
  if (!dir && options.download !== false) {
    const cache = cacheDir();
    const archive = `${cache}/cifar-10-binary.tar.gz`;
    if (!(await isFile(archive))) await download(CIFAR10.url, archive, CIFAR10.sha256, options.log, "file");
    const files = untar(await gunzip(await Deno.readFile(archive), archive), archive);
    await Deno.mkdir(`${cache}/cifar-10-batches-bin`, { recursive: true });
    for (const [name, bytes] of files) {
      const base = name.split("/").pop()!;
      if ([...CIFAR10.trainFiles, CIFAR10.testFile, "batches.meta.txt"].includes(base)) {
        await Deno.writeFile(`${cache}/cifar-10-batches-bin/${base}`, bytes);
      }
    }
    dir = `${cache}/cifar-10-batches-bin`;
  }
  if (!dir) throw new DataError("Cannot find CIFAR-10 (cifar-10-batches-bin/): pass --data-dir or allow the download");
  const parts = await Promise.all(
    CIFAR10.trainFiles.map(async (n) => parseCifar(await Deno.readFile(`${dir}/${n}`), `${dir}/${n}`)),
  );
  const count = parts.reduce((s, p) => s + p.count, 0);
  const images = new Uint8Array(count * 3072), labels = new Uint8Array(count);
  let at = 0;
  for (const p of parts) {
    images.set(p.images, at * 3072);
    labels.set(p.labels, at);
    at += p.count;
  }
  const nValid = Math.max(1, Math.floor(count / 10));
  const nTrain = count - nValid;
  const test = parseCifar(await Deno.readFile(`${dir}/${CIFAR10.testFile}`), `${dir}/${CIFAR10.testFile}`);
  return {
    train: rgb32("CIFAR-10 (train)", {
      count: nTrain,
      images: images.subarray(0, nTrain * 3072),
      labels: labels.subarray(0, nTrain),
    }),
    valid: rgb32("CIFAR-10 (valid)", {
      count: nValid,
      images: images.subarray(nTrain * 3072),
      labels: labels.subarray(nTrain),
    }),
    test: rgb32("CIFAR-10 (test)", test),
    source: dir,
    comparable: true,
  };
}
