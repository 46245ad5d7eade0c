/**
 * Builds src/engine/fused/kernels/kernels.wasm from its AssemblyScript source (src/engine/fused/kernels/*.ts) with the
 * compiler pinned here, from the npm registry alone. With --check it builds to a temporary
 * file instead and exits 1 when the committed .wasm differs from that fresh build (CI runs it).
 *
 * Run: deno task kernels [--check]
 *
 * @module
 */
const ASC = "npm:assemblyscript@0.28.20/asc";
const FLAGS = [
  "--enable",
  "simd,relaxed-simd,threads", // 128-bit SIMD, fused multiply-add, shared memory
  "--importMemory",
  "--sharedMemory", // one memory for every thread's instance
  "--initialMemory",
  "1",
  "--maximumMemory",
  "65536", // 4 GiB: the engine's arena grows into it
  "--runtime",
  "stub", // the kernels allocate nothing
  "-O3",
  "--noAssert",
  "--use",
  "abort=", // no imports but the memory and the noise kernel's e^x and log
];
const root = new URL("../", import.meta.url);
const source = new URL("src/engine/fused/kernels/index.ts", root).pathname;
const committed = new URL("src/engine/fused/kernels/kernels.wasm", root).pathname;
const check = Deno.args.includes("--check");
const out = check ? await Deno.makeTempFile({ suffix: ".wasm" }) : committed;
const run = await new Deno.Command(Deno.execPath(), {
  // the compiler comes from the global npm cache, pinned by version above: not in deno.json, so a
  // user's first run does not install it (nor binaryen, its optimiser)
  args: ["run", "-A", "--no-lock", "--node-modules-dir=none", ASC, source, ...FLAGS, "-o", out],
  cwd: root.pathname,
  stdout: "inherit",
  stderr: "piped",
}).output();
const errors = new TextDecoder().decode(run.stderr).split("\n").filter((l) => !/AS112|Exchange of 'v128'/.test(l));
if (!run.success) {
  console.error(errors.join("\n"));
  console.error("error: the kernels did not build (the compiler's messages are above)");
  Deno.exit(1);
}
if (check) {
  const [a, b] = await Promise.all([Deno.readFile(committed), Deno.readFile(out)]);
  await Deno.remove(out);
  if (a.length !== b.length || a.some((v, i) => v !== b[i])) {
    console.error(
      `error: ${committed} differs from a fresh build of src/engine/fused/kernels/: run "deno task kernels" and commit it`,
    );
    Deno.exit(1);
  }
  console.log(`kernels: src/engine/fused/kernels/kernels.wasm matches its source (${a.length} bytes)`);
} else {
  console.log(`kernels: built ${out} (${(await Deno.stat(out)).size} bytes)`);
}
