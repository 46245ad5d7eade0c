/**
 * `deno task gpu-pack`: builds gpu-pack/ (ignored by git), everything a bare x86-64 Linux machine with an NVIDIA GPU
 * and PyTorch needs to race DRAW there with no registry and no Deno (the device tool carries it: `carry:
 * ["gpu-pack"]`, then `bash gpu-pack/run.sh $OUT/logs`):
 *
 * - bin/deno.xz: this Deno, xz-compressed (cached by the binary's SHA-256 in the per-user cache, so a repack takes
 *   seconds); it needs glibc 2.27 or newer.
 * - bin/race.js: bench/gpu_race.ts bundled with its npm packages (`deno bundle`); bin/draw-worker.js, the fused
 *   engine's worker bundled, where the bundle's pool looks for it; bin/kernels/kernels.wasm where the engine does.
 * - peer/draw_torch.py: the PyTorch peer (../shared/peer does not travel).
 * - lib/: the Vulkan and GL loaders (Debian's libvulkan1, libegl1, libglvnd0), which a CUDA image may lack.
 * - run.sh: tools/gpu_race.sh, the race in one command.
 *
 * It refuses to finish if a bundle still imports anything from the network (https:, npm:, jsr:) or if the pack and
 * the tracked tree together pass the 64 MiB a device call carries.
 *
 * Run: deno task gpu-pack [--no-deno] (--no-deno: the bundles alone, for the offline check in the spec)
 *
 * @module
 */
import { cacheDir, sha256 } from "../src/data/download.ts";

const root = new URL("../", import.meta.url).pathname;
const pack = `${root}gpu-pack`;
const LIMIT = 64 * 2 ** 20;
/** Debian packages whose shared libraries go to lib/: the loaders Deno's wgpu opens (Vulkan first, then EGL/GL). */
const LOADERS = ["libvulkan1", "libegl1", "libglvnd0", "libgl1", "libglx0", "libgles2"];

async function run(cmd: string, args: string[], cwd = root): Promise<string> {
  const out = await new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr).trim().slice(-500)}`);
  }
  return text;
}

/** Bundles `entry` into `to` and refuses one that still imports from the network. */
export async function bundle(entry: string, to: string): Promise<number> {
  await run(Deno.execPath(), ["bundle", "--platform", "deno", "-o", to, entry]);
  const text = await Deno.readTextFile(to);
  const remote = [...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*)["'`]((?:https?|npm|jsr):[^"'`]+)["'`]/g)].map((m) =>
    m[1]
  );
  if (remote.length) throw new Error(`${to} still imports from the network: ${[...new Set(remote)].join(", ")}`);
  return text.length;
}

/** The size of every file under `dir`, summed. */
async function sizeOf(dir: string): Promise<number> {
  let n = 0;
  for await (const e of Deno.readDir(dir)) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory) n += await sizeOf(p);
    else if (e.isFile) n += (await Deno.stat(p)).size;
  }
  return n;
}

/** The bundles and kernels under `dir` (bin/race.js, bin/draw-worker.js, bin/kernels/kernels.wasm). */
export async function packBundles(dir: string): Promise<void> {
  await Deno.mkdir(`${dir}/bin`, { recursive: true });
  await Deno.mkdir(`${dir}/bin/kernels`, { recursive: true });
  await bundle(`${root}bench/gpu_race.ts`, `${dir}/bin/race.js`);
  await bundle(`${root}src/engine/fused/worker.ts`, `${dir}/bin/draw-worker.js`);
  await Deno.copyFile(`${root}src/engine/fused/kernels/kernels.wasm`, `${dir}/bin/kernels/kernels.wasm`);
}

/** deno.xz for this Deno, from the cache or made (xz -9, every core). */
async function denoXz(): Promise<string> {
  const exe = Deno.execPath();
  const sum = (await sha256(await Deno.readFile(exe))).slice(0, 16);
  const dir = `${cacheDir()}/gpu-pack`, cached = `${dir}/deno-${sum}.xz`;
  try {
    await Deno.stat(cached);
    return cached;
  } catch {
    // made below
  }
  await Deno.mkdir(dir, { recursive: true });
  console.error(`gpu-pack: compressing ${exe} with xz -9 (a few minutes, once per Deno binary)`);
  const xz = await new Deno.Command("xz", { args: ["-9", "-T0", "-c", exe], stdout: "piped" }).output();
  if (!xz.success) throw new Error("xz failed: install xz-utils");
  await Deno.writeFile(`${cached}.part`, xz.stdout);
  await Deno.rename(`${cached}.part`, cached);
  return cached;
}

/** The loaders' shared libraries into `lib`, from Debian's packages (downloaded once into the cache). */
async function loaders(lib: string): Promise<void> {
  const debs = `${cacheDir()}/gpu-pack/debs`, tree = `${cacheDir()}/gpu-pack/loaders`;
  await Deno.mkdir(debs, { recursive: true });
  const have = [...Deno.readDirSync(debs)].map((e) => e.name);
  const missing = LOADERS.filter((p) => !have.some((f) => f.startsWith(`${p}_`)));
  if (missing.length) await run("apt-get", ["download", ...missing], debs);
  for (const f of Deno.readDirSync(debs)) {
    if (f.name.endsWith(".deb")) await run("dpkg-deb", ["-x", `${debs}/${f.name}`, tree]);
  }
  await Deno.mkdir(lib, { recursive: true });
  const libDir = `${tree}/usr/lib/x86_64-linux-gnu`;
  for (const e of Deno.readDirSync(libDir)) {
    if (!/\.so\.\d+$/.test(e.name)) continue; // the soname alone (libvulkan.so.1), what the loader opens
    const target = e.isSymlink ? await Deno.realPath(`${libDir}/${e.name}`) : `${libDir}/${e.name}`;
    await Deno.copyFile(target, `${lib}/${e.name}`); // links resolved: the device tool carries no links
  }
}

if (import.meta.main) {
  const bundlesOnly = Deno.args.includes("--no-deno");
  await Deno.remove(pack, { recursive: true }).catch(() => {});
  await packBundles(pack);
  await Deno.mkdir(`${pack}/peer`, { recursive: true });
  // the peer beside the checkout (../shared/peer, as on our machines and CI), or where DRAW_PEER names it
  const peer = Deno.env.get("DRAW_PEER") ?? new URL("../../shared/peer/draw_torch.py", import.meta.url).pathname;
  try {
    await Deno.copyFile(peer, `${pack}/peer/draw_torch.py`);
  } catch {
    console.error(`gpu-pack: cannot read the PyTorch peer at ${peer}: set DRAW_PEER to draw_torch.py's path`);
    Deno.exit(1);
  }
  await Deno.copyFile(`${root}tools/gpu_race.sh`, `${pack}/run.sh`);
  await Deno.chmod(`${pack}/run.sh`, 0o755);
  if (!bundlesOnly) {
    await Deno.copyFile(await denoXz(), `${pack}/bin/deno.xz`);
    await loaders(`${pack}/lib`);
  }
  const tracked = (await run("git", ["ls-files", "-z"])).split("\0").filter(Boolean);
  let tree = 0;
  for (const f of tracked) tree += (await Deno.stat(`${root}${f}`).catch(() => ({ size: 0 }))).size;
  const packed = await sizeOf(pack), total = tree + packed;
  const mib = (n: number) => (n / 2 ** 20).toFixed(1);
  console.log(
    `gpu-pack: ${pack}: ${mib(packed)} MiB; with the tracked tree (${mib(tree)} MiB) ${mib(total)} MiB of 64`,
  );
  if (total > LIMIT) {
    console.error(`gpu-pack: ${mib(total)} MiB is more than the 64 MiB a device call carries: make the pack smaller`);
    Deno.exit(1);
  }
  console.log('carry ["gpu-pack"], then run: bash gpu-pack/run.sh $OUT/logs');
}
