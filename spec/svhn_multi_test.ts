/**
 * SVHN's multi-digit format (Section 4.4): digitStruct.mat through HDF5, Goodfellow et al.'s
 * preprocessing, the 54×54 crops, and the loader on the fixture archives.
 */
import { batchTensor, type Dataset, head, imageBytes } from "../src/data/dataset.ts";
import { DataError, gunzip, gzip } from "../src/data/files.ts";
import { decodePng } from "../src/data/png.ts";
import { untar, writeTar } from "../src/data/tar.ts";
import {
  cropDigits,
  type DigitStructEntry,
  loadSvhnMulti,
  readDigitStruct,
  writeDigitStruct,
} from "../src/data/svhn_multi.ts";
import { encodePng } from "../src/render/encode.ts";
import { Rng } from "../src/random.ts";
import { deepEqual, equal, ok, rejects, throws } from "./_assert.ts";

const FIXTURES = new URL("../fixtures", import.meta.url).pathname;

/** Runs `fn` with the cache in a fresh temporary folder. */
async function withCache<R>(fn: (dir: string) => Promise<R>): Promise<R> {
  const dir = await Deno.makeTempDir(), before = Deno.env.get("DRAW_CACHE_DIR");
  Deno.env.set("DRAW_CACHE_DIR", dir);
  try {
    return await fn(dir);
  } finally {
    if (before === undefined) Deno.env.delete("DRAW_CACHE_DIR");
    else Deno.env.set("DRAW_CACHE_DIR", before);
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("digitStruct.mat (MATLAB v7.3): one- and multi-digit records read back through HDF5 references", async () => {
  const entries: DigitStructEntry[] = [
    { name: "1.png", boxes: [{ label: 5, left: 2, top: 3, width: 4, height: 5 }] },
    {
      name: "2.png",
      boxes: [{ label: 10, left: 20, top: -1, width: 7, height: 9 }, {
        label: 1,
        left: 28.5,
        top: 0,
        width: 6,
        height: 10,
      }],
    },
  ];
  const bytes = await writeDigitStruct(entries);
  ok(new TextDecoder().decode(bytes.subarray(0, 19)) === "MATLAB 7.3 MAT-file", "MATLAB's header block");
  deepEqual(new TextDecoder().decode(bytes.subarray(513, 516)), "HDF", "HDF5 after 512 bytes");
  deepEqual(await readDigitStruct(bytes, "ds.mat"), entries);
  await rejects(() => readDigitStruct(new Uint8Array(2048), "zero.mat"), /zero.mat as it is not an HDF5/);
  await rejects(() => readDigitStruct(bytes.subarray(0, 1500), "cut.mat"), DataError);
});

Deno.test("cropDigits(): the boxes' union grown by 30% about its centre, clipped, resized to 64×64", () => {
  // red = x, green = y: each output pixel says where it was sampled
  const width = 200, height = 100, rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) rgb.set([x, y, 7], (y * width + x) * 3);
  const img = { width, height, rgb };
  // union x 50–90, y 20–70: centre (70, 45), grown to 52 × 65: x 44–96, y 12–78 (12.5 rounded out)
  const boxes = [{ label: 1, left: 50, top: 20, width: 20, height: 50 }, {
    label: 2,
    left: 75,
    top: 30,
    width: 15,
    height: 10,
  }];
  const out = cropDigits(img, boxes, "a.png");
  const at = (i: number, j: number, c: number) => out[(i * 64 + j) * 3 + c];
  equal(at(0, 0, 0), 44);
  equal(at(0, 63, 0), Math.round(44 + 63.5 * (52 / 64) - 0.5));
  equal(at(0, 0, 1), 12);
  equal(at(63, 0, 1), Math.round(12 + 63.5 * (66 / 64) - 0.5));
  equal(at(31, 31, 2), 7);
  // a box past the edges is clipped to the image; the whole 64×64 image comes back unchanged
  const square = { width: 64, height: 64, rgb: Uint8Array.from({ length: 64 * 64 * 3 }, (_, i) => (i * 7) % 256) };
  deepEqual(cropDigits(square, [{ label: 3, left: -5, top: 0, width: 70, height: 64 }], "b.png"), square.rgb);
  throws(
    () => cropDigits(img, [{ label: 1, left: 300, top: 10, width: 10, height: 10 }], "far.png"),
    /far.png as its digit boxes .* lie outside its 200×100 pixels/,
  );
});

Deno.test("decodePng() reads what encodePng() writes (pngjs against our encoder), and says when a PNG is broken", async () => {
  const rng = new Rng(12);
  for (const [width, height] of [[5, 3], [1, 1], [37, 19]]) {
    const rgb = Uint8Array.from({ length: width * height * 3 }, () => Math.floor(rng.uniform() * 256));
    deepEqual(await decodePng(encodePng({ width, height, rgb }), "p.png"), { width, height, rgb });
  }
  await rejects(decodePng(new Uint8Array([1, 2, 3]), "junk.png"), /junk.png as it is not a valid PNG/);
});

Deno.test("a data set stored at 64×64 gives 54×54 batches: random crops with an Rng, the centre crop without", () => {
  const count = 3, rng = new Rng(4);
  const images = Uint8Array.from({ length: count * 64 * 64 * 3 }, () => Math.floor(rng.uniform() * 256));
  const ds: Dataset = {
    name: "t",
    count,
    height: 54,
    width: 54,
    channels: 3,
    scale: 1 / 255,
    images,
    stored: { height: 64, width: 64 },
  };
  const stored = (k: number, y: number, x: number, c: number) => images[((k * 64 + y) * 64 + x) * 3 + c];
  const centre = imageBytes(ds, 1);
  equal(centre.length, 54 * 54 * 3);
  equal(centre[0], stored(1, 5, 5, 0));
  equal(centre[(53 * 54 + 53) * 3 + 2], stored(1, 58, 58, 2));
  deepEqual(Array.from(batchTensor(ds, [1]).dataSync()), Array.from(centre, (v) => Math.fround(v * (1 / 255))));
  // each random crop is some 54×54 window of its image, and they are not all the same
  const origins = new Set<string>();
  for (let trial = 0; trial < 20; trial++) {
    const x = batchTensor(ds, [0, 2], rng), v = x.dataSync();
    x.dispose();
    for (const [slot, k] of [[0, 0], [1, 2]]) {
      const first = Math.round(v[slot * 54 * 54 * 3] * 255);
      let found = "";
      for (let top = 0; top <= 10 && !found; top++) {
        for (let left = 0; left <= 10 && !found; left++) {
          if (stored(k, top, left, 0) !== first) continue;
          let same = true;
          for (let y = 0; y < 54 && same; y += 13) {
            for (let xx = 0; xx < 54 && same; xx += 13) {
              same = Math.round(v[((slot * 54 + y) * 54 + xx) * 3] * 255) === stored(k, top + y, left + xx, 0);
            }
          }
          if (same) found = `${top},${left}`;
        }
      }
      ok(found, `crop ${trial} of image ${k} is a window of it`);
      origins.add(found);
    }
  }
  ok(origins.size > 5, `random origins: ${[...origins].join(" ")}`);
  equal(head(ds, 2).images.length, 2 * 64 * 64 * 3);
});

Deno.test("loadSvhnMulti(): fixture archives → 54×54×3 crops of 64×64, a tenth held out, cached once", async () => {
  await withCache(async (cache) => {
    const lines: string[] = [];
    const s = await loadSvhnMulti({ dataDir: FIXTURES, download: false, log: (l) => lines.push(l) });
    deepEqual([s.train.count, s.valid.count, s.test.count], [9, 1, 3]);
    deepEqual([s.train.height, s.train.width, s.train.channels, s.train.scale], [54, 54, 3, 1 / 255]);
    deepEqual(s.train.stored, { height: 64, width: 64 });
    equal(lines.filter((l) => /preprocessing SVHN/.test(l)).length, 2);
    // the second load reads the cache, and gives the same bytes
    const again = await loadSvhnMulti({ dataDir: FIXTURES, download: false, log: (l) => lines.push(l) });
    equal(lines.length, 2);
    deepEqual(again.test.images, s.test.images);
    // a damaged cache file is made again, not trusted
    await Deno.writeFile(`${cache}/svhn/test_64x64.bin`, new Uint8Array(10));
    deepEqual((await loadSvhnMulti({ dataDir: FIXTURES, download: false })).test.images, s.test.images);
  });
});

Deno.test("loadSvhnMulti(): extracted folders read like the archives; missing files and bad PNGs are named", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const archives: Record<string, Map<string, Uint8Array>> = {};
    for (const split of ["train", "test"]) {
      const path = `${FIXTURES}/svhn/${split}.tar.gz`;
      archives[split] = untar(await gunzip(await Deno.readFile(path), path), path);
      await Deno.mkdir(`${dir}/svhn/${split}`, { recursive: true });
      for (const [name, bytes] of archives[split]) await Deno.writeFile(`${dir}/svhn/${name}`, bytes);
    }
    const fromArchive = await withCache(() => loadSvhnMulti({ dataDir: FIXTURES, download: false }));
    const fromFolder = await withCache(() => loadSvhnMulti({ dataDir: dir, download: false }));
    deepEqual(fromFolder.train.images, fromArchive.train.images);
    await Deno.remove(`${dir}/svhn/test/2.png`);
    await withCache(() =>
      rejects(
        () => loadSvhnMulti({ dataDir: dir, download: false }),
        /test\/2.png: digitStruct.mat names it but it is missing/,
      )
    );
    // an archive with a broken PNG
    const broken = new Map(archives.test);
    broken.set("test/3.png", new Uint8Array(40));
    await Deno.remove(`${dir}/svhn`, { recursive: true });
    await Deno.mkdir(`${dir}/svhn`);
    await Deno.writeFile(`${dir}/svhn/test.tar.gz`, await gzip(writeTar(broken)));
    await Deno.copyFile(`${FIXTURES}/svhn/train.tar.gz`, `${dir}/svhn/train.tar.gz`);
    await withCache(() =>
      rejects(
        () => loadSvhnMulti({ dataDir: dir, download: false }),
        /test.tar.gz: test\/3.png as it is not a valid PNG/,
      )
    );
    await withCache(() =>
      rejects(() => loadSvhnMulti({ dataDir: "/nonexistent", download: false }), /Cannot find SVHN's multi-digit files/)
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
