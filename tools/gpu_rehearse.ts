/**
 * `deno task gpu-rehearse`: runs gpu-pack/ (`deno task gpu-pack` first) here as the GPU machine would: from a copy in
 * an empty folder (no node_modules, no deno.json), with an empty DENO_DIR, a bare environment and, where this runs
 * as root with unshare, the network cut; at sizes a software adapter binds (run.sh --rehearse). Exits 1 unless our
 * WebGPU engine's line has figures.
 *
 * Run: deno task gpu-rehearse
 *
 * @module
 */
const root = new URL("../", import.meta.url).pathname;
const pack = `${root}gpu-pack`;
try {
  await Deno.stat(`${pack}/bin/deno.xz`);
} catch {
  console.error("gpu-rehearse: no gpu-pack/bin/deno.xz here: run deno task gpu-pack first");
  Deno.exit(1);
}
const dir = await Deno.makeTempDir({ prefix: "gpu-rehearse-" });
await new Deno.Command("cp", { args: ["-r", pack, `${dir}/gpu-pack`] }).output();
const root_ = Deno.uid() === 0;
const unshare = root_ && (await new Deno.Command("unshare", { args: ["-n", "true"] }).output().catch(() => undefined))
  ?.success;
const env = ["env", "-i", "PATH=/usr/local/bin:/usr/bin:/bin", `HOME=${dir}`, "LANG=C.UTF-8"];
const cmd = [
  ...(unshare ? ["unshare", "-n"] : []),
  ...env,
  "bash",
  `${dir}/gpu-pack/run.sh`,
  `${dir}/logs`,
  "--rehearse",
];
console.error(
  `gpu-rehearse: ${unshare ? "network cut (unshare -n)" : "network not cut (needs root and unshare)"}: ${
    cmd.join(" ")
  }`,
);
const t0 = performance.now();
const status = await new Deno.Command(cmd[0], { args: cmd.slice(1), cwd: dir, stdout: "inherit", stderr: "inherit" })
  .spawn().status;
const table = await Deno.readTextFile(`${dir}/logs/table.md`).catch(() => "");
const ours = table.split("\n").find((l) => l.startsWith("| draw.ts webgpu"));
const ok = status.success && ours !== undefined && /\| \d+\.\d \|/.test(ours);
console.error(
  `gpu-rehearse: ${ok ? "passed" : "FAILED"} in ${((performance.now() - t0) / 1000).toFixed(0)} s; logs in ${dir}/logs`,
);
Deno.exit(ok ? 0 : 1);
