import { DataError } from "../src/data/files.ts";
import { readMat, writeMat } from "../src/data/mat.ts";
import { loadSvhn, svhnArrays } from "../src/data/svhn.ts";
import { deepEqual, equal, ok, rejects, throws } from "./_assert.ts";

const FIXTURES = new URL("../fixtures", import.meta.url).pathname;

Deno.test("MAT Level 5: written arrays read back, column-major, uint8 and double, compressed", async () => {
  const X = Uint8Array.from({ length: 2 * 3 * 4 }, (_, i) => i);
  const y = Float64Array.from([1.5, -2, 1e10]);
  const bytes = await writeMat({
    X: { dims: [2, 3, 4], className: "uint8", data: X },
    y: { dims: [3, 1], className: "double", data: y },
  });
  equal(new TextDecoder().decode(bytes.subarray(0, 10)), "MATLAB 5.0");
  const m = await readMat(bytes, "t.mat");
  deepEqual(m.get("X")!.dims, [2, 3, 4]);
  equal(m.get("X")!.className, "uint8");
  deepEqual(Array.from(m.get("X")!.data), Array.from(X));
  deepEqual(Array.from(m.get("y")!.data), [1.5, -2, 1e10]);
});

Deno.test("MAT Level 5: HDF5 (v7.3), foreign, truncated and corrupt files fail with a clear error", async () => {
  const good = await writeMat({ y: { dims: [1, 1], className: "double", data: Float64Array.from([3]) } });
  const hdf5 = Uint8Array.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a, ...new Uint8Array(200)]);
  await rejects(() => readMat(hdf5, "v73.mat"), /v73.mat as it is a MATLAB v7.3 \(HDF5\) file/);
  await rejects(() => readMat(new Uint8Array(300), "zero.mat"), /zero.mat as it is not a MATLAB Level 5 MAT-file/);
  await rejects(() => readMat(good.subarray(0, good.length - 5), "cut.mat"), /cut.mat as the data element at byte 128/);
  const corrupt = good.slice();
  corrupt.fill(0xff, 140, 150);
  await rejects(() => readMat(corrupt, "bad.mat"), (e: Error) => e instanceof DataError && /bad.mat/.test(e.message));
});

Deno.test("svhnArrays(): 32×32×3×n column-major becomes HWC bytes, and label 10 becomes the digit 0", () => {
  const n = 2;
  const X = new Uint8Array(32 * 32 * 3 * n);
  X[5 + 32 * 7 + 1024 * 2 + 3072 * 1] = 200; // row 5, column 7, blue, image 1
  const out = svhnArrays(
    { dims: [32, 32, 3, n], className: "uint8", data: X },
    { dims: [n, 1], className: "double", data: Float64Array.from([10, 3]) },
    "x.mat",
  );
  equal(out.images[3072 + (5 * 32 + 7) * 3 + 2], 200);
  equal(out.images.reduce((s, v) => s + v, 0), 200);
  deepEqual(Array.from(out.labels), [0, 3]);
  const bad = { dims: [n, 1], className: "double", data: Float64Array.from([0, 3]) };
  throws(
    () => svhnArrays({ dims: [32, 32, 3, n], className: "uint8", data: X }, bad, "x.mat"),
    /label 0 is 0, not 1–10/,
  );
  throws(
    () => svhnArrays({ dims: [28, 28, 1, n], className: "uint8", data: X }, bad, "gray.mat"),
    /gray.mat as X is uint8 \[28,28,1,2\], not uint8 \[32,32,3,n\]/,
  );
  throws(() => svhnArrays(undefined, bad, "nox.mat"), /nox.mat as it lacks variable X/);
});

Deno.test("loadSvhn() reads the fixture files: 32×32×3, labels 0–9, a tenth of train held out", async () => {
  const s = await loadSvhn({ dataDir: FIXTURES, download: false });
  equal(s.train.count + s.valid.count, 12);
  equal(s.valid.count, 1);
  equal(s.test.count, 4);
  deepEqual([s.train.height, s.train.width, s.train.channels], [32, 32, 3]);
  ok(s.test.labels!.every((l) => l <= 9));
  equal(s.train.scale, 1 / 255);
  await rejects(
    () => loadSvhn({ dataDir: "/nonexistent", download: false }),
    /Cannot find SVHN/,
  );
});
