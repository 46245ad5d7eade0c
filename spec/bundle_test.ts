/**
 * The module as one bundle (tools/gpu_pack.ts's bin/race.js and bin/draw-worker.js, with kernels.wasm): it runs with
 * nothing from the network, an empty DENO_DIR and no node_modules or deno.json nearby, on the fused engine's worker
 * threads and on the WebGPU engine, so that the GPU race's pack cannot break silently. The slow part of the pack
 * (xz of the deno binary) is left to `deno task gpu-pack` and `deno task gpu-rehearse`.
 */
import { packBundles } from "../tools/gpu_pack.ts";
import { webgpuAdapter } from "../src/backend.ts";
import { equal, ok } from "./_assert.ts";

const dir = await Deno.makeTempDir({ prefix: "bundle-test-" });
let packed: Promise<void> | undefined;

/** bin/race.js run from `dir` offline (unshare -n where this runs as root), with `args`; its JSON line. */
async function race(args: string[]): Promise<{ line: Record<string, unknown>; stderr: string }> {
  packed ??= packBundles(dir);
  await packed;
  const cut = Deno.uid() === 0 &&
    (await new Deno.Command("unshare", { args: ["-n", "true"] }).output().catch(() => undefined))?.success;
  const deno = [Deno.execPath(), "run", "-A", "--no-config", "--no-lock", `${dir}/bin/race.js`, ...args];
  const cmd = cut ? ["unshare", "-n", ...deno] : deno;
  const out = await new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    cwd: dir,
    env: { DENO_DIR: await Deno.makeTempDir(), NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  equal(out.code, 0, stderr);
  return { line: JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").pop()!), stderr };
}

Deno.test("bundle: the race runs offline from its bundle on the fused engine's worker threads", async () => {
  const { line, stderr } = await race([
    ...["--engine", "fused", "--backend", "cpu", "--threads", "2"],
    ...["--batch", "32", "--T", "2", "--steps", "1", "--generate", "4"],
  ]);
  ok(Number(line.train_examples_per_s) > 0 && Number(line.generate_samples_per_s) > 0, JSON.stringify(line));
  equal(line.note, undefined, String(line.note));
  ok(!/did not start/.test(stderr), `the workers started from draw-worker.js: ${stderr}`);
});

Deno.test({
  name: "bundle: the race runs offline from its bundle on the WebGPU engine",
  ignore: !(await webgpuAdapter()),
  fn: async () => {
    const { line } = await race(["--engine", "webgpu", "--batch", "2", "--T", "2", "--steps", "1", "--generate", "2"]);
    ok(Number(line.train_examples_per_s) > 0, JSON.stringify(line));
    equal(line.note, undefined, String(line.note));
  },
});

globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
