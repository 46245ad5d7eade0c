/**
 * SVHN, multi-digit format ("Format 1"), the data of the paper's Section 4.4: `train.tar.gz` and
 * `test.tar.gz`, each a folder of PNG photographs of house numbers with `digitStruct.mat`, a
 * MATLAB v7.3 file (HDF5, read with h5wasm) that gives each image's name and the bounding box and
 * label of each digit.
 *
 * Preprocessed as Goodfellow et al. (2013) did, as the paper says: the smallest rectangle holding
 * all of an image's digit boxes, grown by 30% in x and in y (and kept inside the image), is cut
 * out and resized to 64×64. The model sees 54×54: a random crop in training, the centre crop for
 * validation and test. Preprocessing runs once; its result is kept in the cache directory.
 *
 * @module
 */
import { loadOptional } from "../optional.ts";
import type { Dataset } from "./dataset.ts";
import { cacheDir, download } from "./download.ts";
import { concatBytes, DataError, gunzip, isFile, writeAtomic } from "./files.ts";
import { decodePng } from "./png.ts";
import { untar } from "./tar.ts";
import type { LoadOptions, Splits } from "./dataset.ts";

/** Where SVHN's multi-digit archives live online, with the SHA-256 of each file as served. */
export const SVHN_MULTI_FILES: Readonly<Record<"train" | "test", { url: string; file: string; sha256: string }>> = {
  train: {
    url: "http://ufldl.stanford.edu/housenumbers/train.tar.gz",
    file: "train.tar.gz",
    sha256: "4b17bb33b6cd8f963493168f80143da956f28ec406cc12f8e5745a9f91a51898",
  },
  test: {
    url: "http://ufldl.stanford.edu/housenumbers/test.tar.gz",
    file: "test.tar.gz",
    sha256: "57ac9ceb530e4aa85b55d991be8fc49c695b3d71c6f6a88afea86549efde7fb5",
  },
};

/** The preprocessed size (Goodfellow et al. 2013) and the crop the model sees (Table 3). */
export const SVHN_STORED = 64, SVHN_CROP = 54;

/** One digit's box, in pixels from the image's top-left corner, and its label (10 means 0). */
export interface DigitBox {
  label: number;
  left: number;
  top: number;
  width: number;
  height: number;
}

/** One record of digitStruct: the PNG's file name and its digits, left to right. */
export interface DigitStructEntry {
  name: string;
  boxes: DigitBox[];
}

const FIELDS = ["height", "label", "left", "top", "width"] as const;
const FIX = "get a good copy from http://ufldl.stanford.edu/housenumbers/ (Format 1, train.tar.gz and test.tar.gz)";

// deno-lint-ignore no-explicit-any
type H5 = any; // h5wasm's File, Group and Dataset: only get, dereference and value are used

/** h5wasm, loaded on first use (only SVHN's multi-digit files need it). */
async function h5(): Promise<{ lib: H5; FS: H5; Module: H5 }> {
  const lib = (await loadOptional<{ default: H5 }>("h5wasm")).default;
  const Module = await lib.ready;
  return { lib, FS: Module.FS, Module };
}

let scratch = 0;

/**
 * Reads digitStruct.mat (MATLAB v7.3: HDF5 behind a 512-byte header). Throws a
 * {@link DataError} naming `what` when it is not HDF5 or lacks digitStruct's name and bbox.
 */
export async function readDigitStruct(bytes: Uint8Array, what: string): Promise<DigitStructEntry[]> {
  // HDF5's signature sits at byte 0, 512, 1024, 2048, … (MATLAB's header takes the first 512)
  const signature = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];
  let found = false;
  for (let at = 0; at + 8 <= bytes.length && !found; at = at === 0 ? 512 : 2 * at) {
    found = signature.every((b, i) => bytes[at + i] === b);
  }
  if (!found) throw new DataError(`Cannot read ${what} as it is not an HDF5 (MATLAB v7.3) file: ${FIX}`);
  const { lib, FS, Module } = await h5();
  const path = `/digitStruct-${scratch++}.mat`;
  FS.writeFile(path, bytes);
  let f: H5;
  try {
    f = new lib.File(path, "r");
  } catch (e) {
    FS.unlink(path);
    throw new DataError(`Cannot read ${what} as HDF5 cannot open it (${(e as Error).message}): ${FIX}`);
  }
  try {
    // h5wasm's dereference asks HDF5 for the object's name, a search of the whole file each time;
    // MATLAB keeps every referenced object directly in #refs#, so their addresses are mapped once
    const paths = new Map<string, string>();
    const refsGroup = f.get("#refs#");
    for (const key of refsGroup?.keys?.() ?? []) {
      paths.set(String(Module.create_object_reference(f.file_id, `/#refs#/${key}`)), `/#refs#/${key}`);
    }
    const deref = (ref: H5) => {
      const path = paths.get(String(ref.ref_data));
      return path ? f.get(path) : f.dereference(ref);
    };
    const names = f.get("digitStruct/name"), boxes = f.get("digitStruct/bbox");
    if (!names?.value || !boxes?.value) {
      throw new DataError(`Cannot read ${what} as it lacks digitStruct/name or bbox: ${FIX}`);
    }
    const nameRefs = names.value as H5[], boxRefs = boxes.value as H5[];
    if (nameRefs.length !== boxRefs.length) {
      throw new DataError(
        `Cannot read ${what} as it has ${nameRefs.length} names for ${boxRefs.length} bboxes: ${FIX}`,
      );
    }
    return nameRefs.map((ref, k) => digitStructEntry(deref(ref), deref(boxRefs[k]), k, deref, what));
  } catch (e) {
    if (e instanceof DataError) throw e;
    throw new DataError(`Cannot read ${what} as HDF5 failed on it (${(e as Error).message}): ${FIX}`);
  } finally {
    f.close();
    FS.unlink(path);
  }
}

/** Entry k of digitStruct: its name (a UTF-16 dataset) and its bbox group (one value or references per field). */
function digitStructEntry(nameSet: H5, group: H5, k: number, deref: (ref: H5) => H5, what: string): DigitStructEntry {
  const scalar = (d: H5, field: string): number => {
    const v = d?.value;
    if (!v || v.length !== 1 || typeof v[0] !== "number") {
      throw new DataError(`Cannot read ${what} as bbox ${k}'s ${field} is not a number: ${FIX}`);
    }
    return v[0];
  };
  const chars = nameSet?.value;
  if (!(chars instanceof Uint16Array)) throw new DataError(`Cannot read ${what} as name ${k} is not a string: ${FIX}`);
  const name = String.fromCharCode(...chars);
  const columns = FIELDS.map((field) => {
    const d = group?.get?.(field);
    if (!d) throw new DataError(`Cannot read ${what} as bbox ${k} (${name}) lacks ${field}: ${FIX}`);
    // one digit: the value itself; several: references to one value each
    return d.dtype === "Reference" ? (d.value as H5[]).map((r) => scalar(deref(r), field)) : [scalar(d, field)];
  });
  const n = columns[0].length;
  if (n === 0 || columns.some((c) => c.length !== n)) {
    throw new DataError(`Cannot read ${what} as bbox ${k} (${name}) has fields of different lengths: ${FIX}`);
  }
  const boxes = Array.from({ length: n }, (_, i) => ({
    height: columns[0][i],
    label: columns[1][i],
    left: columns[2][i],
    top: columns[3][i],
    width: columns[4][i],
  }));
  return { name, boxes };
}

/**
 * Writes `entries` as MATLAB writes digitStruct.mat (v7.3): a 512-byte MATLAB header, then HDF5
 * with digitStruct/name and digitStruct/bbox as columns of object references into `#refs#`, a
 * single digit's fields as 1×1 doubles and several digits' as columns of references. For fixtures
 * and tests.
 */
export async function writeDigitStruct(entries: DigitStructEntry[]): Promise<Uint8Array> {
  const { lib, FS } = await h5();
  const path = `/digitStruct-${scratch++}.mat`;
  const f = new lib.File(path, "w");
  const refs = f.create_group("#refs#"), struct = f.create_group("digitStruct");
  const nameRefs: H5[] = [], boxRefs: H5[] = [];
  const double = (g: H5, name: string, v: number) =>
    g.create_dataset({ name, data: Float64Array.of(v), shape: [1, 1], dtype: "<d" });
  entries.forEach((e, k) => {
    const chars = Uint16Array.from(e.name, (c) => c.charCodeAt(0));
    nameRefs.push(refs.create_dataset({ name: `n${k}`, data: chars, shape: [chars.length, 1] }).create_reference());
    const g = refs.create_group(`b${k}`);
    for (const field of FIELDS) {
      if (e.boxes.length === 1) {
        double(g, field, e.boxes[0][field]);
      } else {
        const each = e.boxes.map((b, i) => double(refs, `b${k}_${field}_${i}`, b[field]).create_reference());
        g.create_dataset({ name: field, data: each, shape: [each.length, 1] });
      }
    }
    boxRefs.push(g.create_reference());
  });
  struct.create_dataset({ name: "name", data: nameRefs, shape: [nameRefs.length, 1] });
  struct.create_dataset({ name: "bbox", data: boxRefs, shape: [boxRefs.length, 1] });
  f.close();
  const hdf5 = FS.readFile(path) as Uint8Array;
  FS.unlink(path);
  // MATLAB's user block: text, then the version and endian indicator at bytes 124–127
  const out = new Uint8Array(512 + hdf5.length);
  out.fill(0x20, 0, 124);
  out.set(new TextEncoder().encode("MATLAB 7.3 MAT-file, Platform: GLNXA64, Created by: draw.ts HDF5 schema 1.00 ."));
  out.set([0x00, 0x02, 0x49, 0x4d], 124);
  out.set(hdf5, 512);
  return out;
}

/**
 * Goodfellow et al. (2013)'s preprocessing of one image: the smallest rectangle holding every
 * digit box, grown by 30% in x and in y about its centre and clipped to the image, resized
 * (bilinear, pixel centres aligned) to size × size RGB bytes.
 */
export function cropDigits(
  img: { width: number; height: number; rgb: Uint8Array },
  boxes: DigitBox[],
  what: string,
  size = SVHN_STORED,
): Uint8Array {
  const x0 = Math.min(...boxes.map((b) => b.left)), y0 = Math.min(...boxes.map((b) => b.top));
  const x1 = Math.max(...boxes.map((b) => b.left + b.width)), y1 = Math.max(...boxes.map((b) => b.top + b.height));
  const cx = (x0 + x1) / 2, cy = (y0 + y1) / 2, w = 1.3 * (x1 - x0), h = 1.3 * (y1 - y0);
  const left = Math.max(0, Math.floor(cx - w / 2)), right = Math.min(img.width, Math.ceil(cx + w / 2));
  const top = Math.max(0, Math.floor(cy - h / 2)), bottom = Math.min(img.height, Math.ceil(cy + h / 2));
  if (!(right > left && bottom > top)) {
    throw new DataError(
      `Cannot preprocess ${what} as its digit boxes (x ${x0}–${x1}, y ${y0}–${y1}) lie outside its ` +
        `${img.width}×${img.height} pixels: ${FIX}`,
    );
  }
  const out = new Uint8Array(size * size * 3);
  const sx = (right - left) / size, sy = (bottom - top) / size;
  for (let i = 0; i < size; i++) {
    const y = Math.min(Math.max(top + (i + 0.5) * sy - 0.5, top), bottom - 1);
    const ya = Math.floor(y), yb = Math.min(ya + 1, bottom - 1), fy = y - ya;
    for (let j = 0; j < size; j++) {
      const x = Math.min(Math.max(left + (j + 0.5) * sx - 0.5, left), right - 1);
      const xa = Math.floor(x), xb = Math.min(xa + 1, right - 1), fx = x - xa;
      for (let c = 0; c < 3; c++) {
        const at = (yy: number, xx: number) => img.rgb[(yy * img.width + xx) * 3 + c];
        const v = (1 - fy) * ((1 - fx) * at(ya, xa) + fx * at(ya, xb)) + fy * ((1 - fx) * at(yb, xa) + fx * at(yb, xb));
        out[(i * size + j) * 3 + c] = Math.round(v);
      }
    }
  }
  return out;
}

/** The files of one split: an archive's entries, or an extracted folder's. */
type SplitFiles = { what: string; read(name: string): Promise<Uint8Array | undefined> };

/**
 * Preprocesses one split (its digitStruct.mat and PNGs, under `split/`) to 64×64 RGB bytes, in
 * digitStruct's order.
 */
export async function preprocessSplit(
  files: SplitFiles,
  split: string,
): Promise<{ count: number; images: Uint8Array }> {
  const struct = await files.read(`${split}/digitStruct.mat`);
  if (!struct) throw new DataError(`Cannot read ${files.what} as it has no ${split}/digitStruct.mat: ${FIX}`);
  const entries = await readDigitStruct(struct, `${files.what}: ${split}/digitStruct.mat`);
  const px = SVHN_STORED * SVHN_STORED * 3, images = new Uint8Array(entries.length * px);
  for (const [k, e] of entries.entries()) {
    const what = `${files.what}: ${split}/${e.name}`;
    const png = await files.read(`${split}/${e.name}`);
    if (!png) throw new DataError(`Cannot read ${what}: digitStruct.mat names it but it is missing: ${FIX}`);
    images.set(cropDigits(await decodePng(png, what, FIX), e.boxes, what), k * px);
  }
  return { count: entries.length, images };
}

const MAGIC = "draw.ts SVHN 64x64 v1\n";

/** The preprocessed split kept in the cache, when it was made from this very source file. */
async function cached(path: string, key: string): Promise<{ count: number; images: Uint8Array } | undefined> {
  if (!(await isFile(path))) return undefined;
  const bytes = await Deno.readFile(path);
  const text = new TextDecoder().decode(bytes.subarray(0, 1024));
  const end = text.indexOf("\n", MAGIC.length);
  if (!text.startsWith(MAGIC) || end < 0) return undefined;
  let head: { key: string; count: number };
  try {
    head = JSON.parse(text.slice(MAGIC.length, end));
  } catch {
    return undefined;
  }
  const start = new TextEncoder().encode(text.slice(0, end + 1)).length, px = SVHN_STORED * SVHN_STORED * 3;
  if (head.key !== key || bytes.length !== start + head.count * px) return undefined;
  return { count: head.count, images: bytes.subarray(start) };
}

/** Where to look: `svhn/` or the folder itself, in --data-dir, $DRAW_DATA_DIR and the cache. */
async function findSplits(options: LoadOptions): Promise<Record<"train" | "test", string> | undefined> {
  const bases = [options.dataDir, Deno.env.get("DRAW_DATA_DIR"), cacheDir()].filter(Boolean) as string[];
  for (const base of bases) {
    for (const dir of [`${base}/svhn`, base]) {
      const found: Partial<Record<"train" | "test", string>> = {};
      for (const split of ["train", "test"] as const) {
        if (await isFile(`${dir}/${SVHN_MULTI_FILES[split].file}`)) {
          found[split] = `${dir}/${SVHN_MULTI_FILES[split].file}`;
        } else if (await isFile(`${dir}/${split}/digitStruct.mat`)) found[split] = `${dir}/${split}`;
      }
      if (found.train && found.test) return found as Record<"train" | "test", string>;
    }
  }
  return undefined;
}

/** One split from an archive or an extracted folder, preprocessed or from the cache. */
async function loadSplit(
  source: string,
  split: "train" | "test",
  log: (line: string) => void,
): Promise<{ count: number; images: Uint8Array }> {
  const stat = await Deno.stat(source);
  const key = `${await Deno.realPath(source)} ${stat.isFile ? stat.size : "dir"} ${stat.mtime?.getTime() ?? 0}`;
  const cachePath = `${cacheDir()}/svhn/${split}_64x64.bin`;
  const hit = await cached(cachePath, key);
  if (hit) return hit;
  log(`preprocessing SVHN ${split} (${source}) to 64×64 once; kept in ${cachePath}`);
  let files: SplitFiles;
  if (stat.isFile) {
    const entries = untar(await gunzip(await Deno.readFile(source), source), source);
    // archives hold train/…; accept the same files without the folder too
    files = { what: source, read: (name) => Promise.resolve(entries.get(name) ?? entries.get(`./${name}`)) };
  } else {
    files = {
      what: source,
      read: async (name) => {
        const path = `${source}/${name.slice(split.length + 1)}`;
        return (await isFile(path)) ? await Deno.readFile(path) : undefined;
      },
    };
  }
  const out = await preprocessSplit(files, split);
  const head = new TextEncoder().encode(MAGIC + JSON.stringify({ key, count: out.count }) + "\n");
  await Deno.mkdir(`${cacheDir()}/svhn`, { recursive: true });
  await writeAtomic(cachePath, concatBytes([head, out.images]));
  return out;
}

/** A split as the model sees it: 54×54 of 64×64 stored images. */
function svhn54(name: string, p: { count: number; images: Uint8Array }): Dataset {
  return {
    name,
    count: p.count,
    height: SVHN_CROP,
    width: SVHN_CROP,
    channels: 3,
    scale: 1 / 255,
    images: p.images,
    stored: { height: SVHN_STORED, width: SVHN_STORED },
  };
}

/**
 * Loads SVHN's multi-digit format from `svhn/` in the data directory, `$DRAW_DATA_DIR` or the
 * cache (train.tar.gz and test.tar.gz, or their extracted train/ and test/ folders), downloading
 * the canonical archives (SHA-256 checked) when absent. The last tenth of train is the
 * validation split; test is the test split. (The extra set is not used.)
 */
export async function loadSvhnMulti(options: LoadOptions = {}): Promise<Splits> {
  const log = options.log ?? (() => {});
  let found = await findSplits(options);
  if (!found && options.download !== false) {
    const dir = `${cacheDir()}/svhn`;
    for (const f of Object.values(SVHN_MULTI_FILES)) {
      if (!(await isFile(`${dir}/${f.file}`))) await download(f.url, `${dir}/${f.file}`, f.sha256, log, "file");
    }
    found = { train: `${dir}/${SVHN_MULTI_FILES.train.file}`, test: `${dir}/${SVHN_MULTI_FILES.test.file}` };
  }
  if (!found) {
    throw new DataError(
      "Cannot find SVHN's multi-digit files (svhn/train.tar.gz and test.tar.gz, or their train/ and test/ " +
        "folders): pass --data-dir or allow the download",
    );
  }
  const train = await loadSplit(found.train, "train", log), test = await loadSplit(found.test, "test", log);
  const px = SVHN_STORED * SVHN_STORED * 3;
  const nValid = Math.max(1, Math.floor(train.count / 10)), nTrain = train.count - nValid;
  return {
    train: svhn54("SVHN multi-digit (train, random 54×54 crops)", {
      count: nTrain,
      images: train.images.subarray(0, nTrain * px),
    }),
    valid: svhn54("SVHN multi-digit (valid, centre crops)", {
      count: nValid,
      images: train.images.subarray(nTrain * px),
    }),
    test: svhn54("SVHN multi-digit (test, centre crops)", test),
    source: `${found.train}, ${found.test}`,
    comparable: true,
  };
}
