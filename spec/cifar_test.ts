import { encodeCifar, loadCifar10, parseCifar } from "../src/data/cifar.ts";
import { DataError } from "../src/data/files.ts";
import { untar, writeTar } from "../src/data/tar.ts";
import { deepEqual, equal, ok, throws } from "./_assert.ts";

const FIXTURES = new URL("../fixtures", import.meta.url).pathname;

Deno.test("parseCifar() turns label + R, G, B planes into labels and pixel-interleaved RGB", () => {
  const rec = new Uint8Array(3073);
  rec[0] = 7;
  rec[1 + 5] = 10; // red of pixel 5
  rec[1 + 1024 + 5] = 20; // green of pixel 5
  rec[1 + 2048 + 5] = 30; // blue of pixel 5
  const p = parseCifar(rec, "one.bin");
  equal(p.count, 1);
  deepEqual(Array.from(p.labels), [7]);
  deepEqual(Array.from(p.images.subarray(15, 18)), [10, 20, 30]);
  deepEqual(encodeCifar(p.images, p.labels), rec);
  throws(
    () => parseCifar(rec.subarray(0, 3000), "cut.bin"),
    /cut.bin as its 3000 bytes are not a whole number of 3073-byte CIFAR-10 records/,
  );
  const bad = rec.slice();
  bad[0] = 12;
  throws(
    () => parseCifar(bad, "bad.bin"),
    (e: Error) => e instanceof DataError && /record 0 has label 12, not 0–9/.test(e.message),
  );
});

Deno.test("loadCifar10() reads the fixture batches: 32×32×3, labels, a tenth held out for validation", async () => {
  const s = await loadCifar10({ dataDir: FIXTURES, download: false });
  deepEqual([s.train.count, s.valid.count, s.test.count], [14, 1, 4]);
  deepEqual([s.train.height, s.train.width, s.train.channels, s.train.scale], [32, 32, 3, 1 / 255]);
  ok(s.train.labels!.every((l) => l < 10));
});

Deno.test("untar() reads regular files from a ustar archive and refuses a truncated one", () => {
  const header = (name: string, size: number) => {
    const h = new Uint8Array(512);
    h.set(new TextEncoder().encode(name), 0);
    h.set(new TextEncoder().encode(size.toString(8).padStart(11, "0") + "\0"), 124);
    h[156] = 48; // '0': regular file
    return h;
  };
  const body = new TextEncoder().encode("hello");
  const tar = new Uint8Array(512 * 4);
  tar.set(header("cifar-10-batches-bin/a.bin", body.length), 0);
  tar.set(body, 512);
  const files = untar(tar, "t.tar");
  deepEqual([...files.keys()], ["cifar-10-batches-bin/a.bin"]);
  deepEqual(files.get("cifar-10-batches-bin/a.bin"), body);
  throws(() => untar(tar.subarray(0, 515), "cut.tar"), /tar entry cifar-10-batches-bin\/a.bin is truncated/);
});

Deno.test("writeTar() makes archives that GNU tar lists and extracts, and untar() reads back", async () => {
  const files: [string, Uint8Array][] = [
    ["train/1.png", Uint8Array.from({ length: 700 }, (_, i) => i % 251)],
    ["train/digitStruct.mat", new TextEncoder().encode("x")],
    ["train/empty", new Uint8Array(0)],
  ];
  const tar = writeTar(files);
  equal(tar.length % 512, 0);
  deepEqual([...untar(tar, "t.tar")], files);
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${dir}/t.tar`, tar);
    const out = await new Deno.Command("tar", { args: ["-xvf", "t.tar"], cwd: dir, stderr: "piped" }).output();
    equal(out.code, 0, new TextDecoder().decode(out.stderr));
    deepEqual(await Deno.readFile(`${dir}/train/1.png`), files[0][1]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
