import { encodeAmat, parseAmat } from "../src/data/amat.ts";
import { batchTensor, type Dataset } from "../src/data/dataset.ts";
import { DataError, gunzip, isGzip, readMaybeGzip, writeAtomic } from "../src/data/files.ts";
import { download, parseSums, sha256 } from "../src/data/download.ts";
import { encodeIdx, parseIdx } from "../src/data/idx.ts";
import { loadBinarizedMnist, loadMnistIdx } from "../src/data/mnist.ts";
import { deepEqual, equal, ok, rejects, throws } from "./_assert.ts";

const FIXTURES = new URL("../fixtures", import.meta.url).pathname;

Deno.test("parseIdx() reads what encodeIdx() writes and checks magic, type, rank and length", () => {
  const data = Uint8Array.from({ length: 2 * 3 * 4 }, (_, k) => k);
  const bytes = encodeIdx([2, 3, 4], data);
  deepEqual(Array.from(bytes.subarray(0, 4)), [0, 0, 8, 3]);
  const idx = parseIdx(bytes, "t", 3);
  deepEqual(idx.dims, [2, 3, 4]);
  deepEqual(Array.from(idx.data), Array.from(data));
  throws(
    () => parseIdx(Uint8Array.of(1, 0, 8, 1, 0, 0, 0, 0), "bad.idx"),
    /bad.idx as it is not an IDX file \(bad magic number\)/,
  );
  throws(() => parseIdx(Uint8Array.of(0, 0, 0x0d, 1, 0, 0, 0, 0), "f.idx"), /IDX type is 0xd, not 0x08/);
  throws(() => parseIdx(bytes, "t", 1), /has 3 dimensions, not 1/);
  throws(
    () => parseIdx(bytes.subarray(0, bytes.length - 1), "cut.idx"),
    /holds 23 values where its header \[2,3,4\] says 24 \(truncated or padded\)/,
  );
  throws(() => parseIdx(bytes.subarray(0, 9), "h.idx"), /header is truncated/);
});

Deno.test("parseAmat() reads 0/1 rows and rejects other values and wrong row lengths, naming the line", () => {
  const data = Uint8Array.from({ length: 3 * 4 }, (_, k) => (k * 7) % 2);
  const text = encodeAmat(data, 4);
  const r = parseAmat(text, "x.amat", 4);
  equal(r.count, 3);
  deepEqual(Array.from(r.data), Array.from(data));
  const enc = (s: string) => new TextEncoder().encode(s);
  deepEqual(Array.from(parseAmat(enc("0.0 1.000 0 1\r\n"), "f", 4).data), [0, 1, 0, 1]);
  throws(
    () => parseAmat(enc("0 1 0 1\n0 2 0 1\n"), "bad.amat", 4),
    /bad.amat as line 2 holds the value "2", not 0 or 1/,
  );
  throws(() => parseAmat(enc("0 1 0\n"), "short.amat", 4), /line 1 has 3 values, not 4/);
  throws(() => parseAmat(enc("0 1 0 1 1\n"), "long.amat", 4), /line 1 has more than 4 values/);
  throws(() => parseAmat(enc("\n\n"), "empty.amat", 4), /holds no images/);
});

Deno.test("gzip handling: detection, inflation, and a clear error for a truncated stream", async () => {
  const raw = new TextEncoder().encode("hello hello hello");
  const gz = new Uint8Array(
    await new Response(new Blob([raw]).stream().pipeThrough(new CompressionStream("gzip"))).arrayBuffer(),
  );
  ok(isGzip(gz) && !isGzip(raw));
  deepEqual(await gunzip(gz, "g"), raw);
  await rejects(
    () => gunzip(gz.subarray(0, gz.length - 6), "cut.gz"),
    /cut.gz as its gzip stream is corrupt or truncated/,
  );
  const dir = await Deno.makeTempDir();
  await Deno.writeFile(`${dir}/a.gz`, gz);
  await Deno.writeFile(`${dir}/a`, raw);
  deepEqual(await readMaybeGzip(`${dir}/a.gz`), raw);
  deepEqual(await readMaybeGzip(`${dir}/a`), raw);
  equal(
    await sha256(new TextEncoder().encode("abc")),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
  deepEqual([...parseSums("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  abc.txt\n")], [[
    "abc.txt",
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  ]]);
  await writeAtomic(`${dir}/w`, raw);
  deepEqual(await Deno.readFile(`${dir}/w`), raw);
  deepEqual((await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort(), ["a", "a.gz", "w"]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("loadBinarizedMnist() reads the fixtures, checks SHA256SUMS, and names a damaged file", async () => {
  const splits = await loadBinarizedMnist({ dataDir: FIXTURES, download: false, fallback: false });
  deepEqual([splits.train.count, splits.valid.count, splits.test.count], [64, 16, 16]);
  ok(splits.comparable);
  ok(splits.train.images.every((v) => v === 0 || v === 1));
  const dir = await Deno.makeTempDir();
  for (const e of Deno.readDirSync(`${FIXTURES}/binarized_mnist`)) {
    await Deno.copyFile(`${FIXTURES}/binarized_mnist/${e.name}`, `${dir}/${e.name}`);
  }
  const f = `${dir}/binarized_mnist_valid.amat.gz`;
  const bytes = await Deno.readFile(f);
  await Deno.writeFile(f, bytes.subarray(0, bytes.length - 10));
  await rejects(
    () => loadBinarizedMnist({ dataDir: dir, download: false, fallback: false }),
    (e: Error) =>
      e instanceof DataError &&
      /binarized_mnist_valid.amat.gz as its SHA-256 .* differs from .* in .*SHA256SUMS/.test(e.message),
  );
  // Without SHA256SUMS a copy must match the canonical content; the fixture does not.
  await Deno.remove(`${dir}/SHA256SUMS`);
  await Deno.writeFile(f, bytes);
  await rejects(() => loadBinarizedMnist({ dataDir: dir, download: false, fallback: false }), /is not the canonical/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("download() with no network says where to put the file fetched elsewhere, and writes nothing", async () => {
  const dir = await Deno.makeTempDir(), dest = `${dir}/cifar/archive.tar.gz`;
  // port 1 on this machine: refused at once, as a machine without a network refuses
  await rejects(
    () => download("http://127.0.0.1:1/archive.tar.gz", dest, "0".repeat(64)),
    /Cannot download http:\/\/127\.0\.0\.1:1\/archive\.tar\.gz \(.*\): .*save it as .*\/cifar\/archive\.tar\.gz$/,
  );
  await rejects(() => Deno.stat(dest), Deno.errors.NotFound);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("loadBinarizedMnist() says where it looked when there is no copy and no fallback", async () => {
  const dir = await Deno.makeTempDir();
  const saved = [Deno.env.get("DRAW_DATA_DIR"), Deno.env.get("DRAW_CACHE_DIR")];
  Deno.env.delete("DRAW_DATA_DIR");
  Deno.env.set("DRAW_CACHE_DIR", dir);
  try {
    await rejects(
      () => loadBinarizedMnist({ dataDir: dir, download: false, fallback: false }),
      /Cannot find binarized MNIST in .*binarized_mnist/,
    );
  } finally {
    if (saved[0]) Deno.env.set("DRAW_DATA_DIR", saved[0]);
    if (saved[1]) Deno.env.set("DRAW_CACHE_DIR", saved[1]);
    else Deno.env.delete("DRAW_CACHE_DIR");
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadMnistIdx() reads gzipped IDX fixtures with labels, and the npm package's full MNIST", async () => {
  const s = await loadMnistIdx({ dataDir: FIXTURES, download: false });
  equal(s.train.count + s.valid.count, 64);
  equal(s.test.count, 16);
  equal(s.train.scale, 1 / 255);
  equal(s.train.labels!.length, s.train.count);
  ok(s.train.labels!.every((l) => l < 10));
  const saved = Deno.env.get("DRAW_DATA_DIR");
  Deno.env.delete("DRAW_DATA_DIR");
  try {
    const full = await loadMnistIdx({ dataDir: "/nonexistent", download: false });
    deepEqual([full.train.count, full.valid.count, full.test.count], [50000, 10000, 10000]);
    deepEqual(Array.from(full.train.labels!.subarray(0, 5)), [5, 0, 4, 1, 9]);
  } finally {
    if (saved) Deno.env.set("DRAW_DATA_DIR", saved);
  }
});

Deno.test("batchTensor() scales bytes into [0, 1] in [batch, H, W, C] order", async () => {
  const ds: Dataset = {
    name: "t",
    count: 2,
    height: 1,
    width: 2,
    channels: 1,
    scale: 1 / 255,
    images: Uint8Array.of(0, 255, 51, 102),
  };
  const t = batchTensor(ds, [1, 0]);
  deepEqual(t.shape, [2, 1, 2, 1]);
  deepEqual(Array.from(await t.data()), [0.2, 0.4, 0, 1].map(Math.fround));
  t.dispose();
});
