/**
 * Nothing a user types or a machine does loses work: each class of bad input or signal driven through the CLI as
 * a user meets it (exit code, one line naming what was wrong, no stack trace, a good run's checkpoint unchanged
 * byte for byte), and the library's own checks.
 */
import { decodeSafetensors, encodeSafetensors } from "../src/safetensors.ts";
import { LOCK_FILE, lockRun } from "../src/lock.ts";
import { drawTask, train } from "../src/train.ts";
import { RunError } from "../src/run_settings.ts";
import { loadBinarizedMnist } from "../src/data/mnist.ts";
import { selectBackend } from "../src/backend.ts";
import { Progress } from "../src/progress.ts";
import { TINY } from "../src/config.ts";
import { loadCheckpoint } from "../src/checkpoint.ts";
import { deepEqual, equal, match, ok, rejects } from "./_assert.ts";
import { cliCommand, runCli as cli, tinyRun } from "./_cli.ts";

const TINY_FLAGS = ["--preset", "tiny", "--batch", "16", "--backend", "cpu"];
const exists = (p: string) => Deno.stat(p).then(() => true, () => false);

/** One line on stderr, "error: …", with no stack trace. */
function oneLine(stderr: string, what: string): string {
  const lines = stderr.trim().split("\n").filter((l) => l.startsWith("error:"));
  equal(lines.length, 1, `${what}: one error line in ${stderr}`);
  ok(!/\n\s+at /.test(stderr), `${what}: no stack trace in ${stderr}`);
  return lines[0];
}

/** Runs the CLI and checks its exit code and its one error line against `message`. */
async function refused(args: string[], code: number, message: RegExp): Promise<void> {
  const r = await cli(args);
  equal(r.code, code, `${args.join(" ")}: exit ${r.code}, ${r.stderr}`);
  match(oneLine(r.stderr, args.join(" ")), message);
}

/** The library's train() options every call here shares: the fixtures' MNIST on cpu, quiet. */
async function libraryRun() {
  await selectBackend("cpu");
  const dataDir = new URL("../fixtures", import.meta.url).pathname;
  const splits = await loadBinarizedMnist({ dataDir, download: false, fallback: false });
  return { splits, dataset: "mnist", progress: new Progress({ write: () => {}, tty: false }) };
}

/** A copy of checkpoint `from` at `to` with its tensors or metadata changed by `edit`. */
async function edited(
  from: string,
  to: string,
  edit: (t: ReturnType<typeof decodeSafetensors>) => void,
): Promise<string> {
  const d = decodeSafetensors(await Deno.readFile(from), from);
  edit(d);
  await Deno.writeFile(to, encodeSafetensors(d.tensors, d.metadata));
  return to;
}

Deno.test("reliability: an empty or odd path is refused (exit 2), never taken as the file system's root", async () => {
  const run = await tinyRun();
  const rootBefore = await exists("/config.json");
  await refused(
    ["train", "mnist", ...TINY_FLAGS, "--epochs", "1", "--out", ""],
    2,
    /--out needs a path: got an empty one/,
  );
  await refused(["train", "mnist", ...TINY_FLAGS, "--out", "  "], 2, /--out needs a path/);
  await refused(["sample", run, "--out", "", "--backend", "cpu"], 2, /--out needs a path/);
  await refused(["eval", "", "--backend", "cpu"], 2, /eval needs a path/);
  await refused(["train", "mnist", ...TINY_FLAGS, "--data-dir", ""], 2, /--data-dir needs a path/);
  await refused(["train", "mnist", ...TINY_FLAGS, "--out", "a\nb"], 2, /without NUL bytes or line breaks/);
  equal(await exists("/config.json"), rootBefore, "nothing written at /");
  await Deno.remove(run, { recursive: true });
});

Deno.test("reliability: names are looked up among their own keys: 'constructor' is an unknown data set, preset or kind", async () => {
  const run = await tinyRun();
  await refused(["train", "constructor"], 2, /unknown dataset "constructor": choose one of mnist, /);
  await refused(["train", "toString"], 2, /unknown dataset "toString"/);
  await refused(["train", "mnist", "--preset", "constructor"], 2, /unknown preset "constructor": choose one of/);
  await refused(["train", "mnist", "--preset", "__proto__"], 2, /unknown preset "__proto__"/);
  const ckpt = `${run}/checkpoint.safetensors`;
  const bad = await edited(ckpt, `${run}/named.safetensors`, (d) => {
    d.metadata.info = JSON.stringify({ ...JSON.parse(d.metadata.info), dataset: "constructor" });
  });
  await refused(["eval", bad, "--backend", "cpu"], 1, /named\.safetensors: it names the data set "constructor"/);
  const kind = await edited(ckpt, `${run}/kind.safetensors`, (d) => d.metadata.kind = "constructor");
  await refused(["eval", kind, "--backend", "cpu"], 1, /kind\.safetensors .*model kind constructor is unknown/);
  await Deno.remove(run, { recursive: true });
});

Deno.test("reliability: sizes that decide memory are checked first, naming the flag or file and the bound", async () => {
  const run = await tinyRun();
  const parent = await Deno.makeTempDir(), out = `${parent}/new-run`;
  await refused(
    ["train", "mnist", ...TINY_FLAGS, "--T", "1000000000", "--out", out],
    2,
    /T must be <= 1000: current value is 1000000000/,
  );
  await refused(["train", "mnist", ...TINY_FLAGS, "--hidden", "100000", "--out", out], 2, /hidden must be <= 4096/);
  await refused(
    ["train", "mnist", "--backend", "cpu", "--hidden", "4096", "--no-attention", "--z", "1024", "--out", out],
    2,
    /Cannot build a model of [\d,]+ weights: at most 100,000,000/,
  );
  await refused(
    ["train", "mnist", ...TINY_FLAGS.slice(0, 2), "--batch", "100000000", "--out", out],
    2,
    /a pass would take about [\d.]+ GiB, more than the 8 GiB allowed; give --batch \d+ or less/,
  );
  ok(!(await exists(out)), "a refused run leaves no folder");
  await refused(["sample", run, "--n", "1000000000", "--backend", "cpu"], 2, /give --n \d+ or less/);
  await refused(["eval", run, "--batch", "1000000000", "--backend", "cpu"], 2, /give --batch \d+ or less/);
  await refused(["eval", run, "--samples", "1000000000"], 2, /--samples must be an integer from 1 to 10000/);
  await refused(
    ["train", "mnist", ...TINY_FLAGS, "--threads", "100000", "--out", out],
    2,
    /--threads must be an integer from 1 to 256/,
  );
  const huge = await edited(`${run}/checkpoint.safetensors`, `${run}/huge.safetensors`, (d) => {
    d.metadata.config = JSON.stringify({ ...JSON.parse(d.metadata.config), T: 2_000_000_000 });
  });
  await refused(
    ["sample", huge, "--backend", "cpu"],
    1,
    /huge\.safetensors .*stored config is invalid .*T must be <= 1000/,
  );
  // the library refuses the same before it makes a folder
  await rejects(
    async () =>
      train({
        ...await libraryRun(),
        task: drawTask({ ...TINY, width: 28, height: 28, T: 5000 }),
        outDir: out,
      }),
    /T must be <= 1000/,
  );
  ok(!(await exists(out)), "a refused library run leaves no folder");
  for (const d of [run, parent]) await Deno.remove(d, { recursive: true });
});

Deno.test("reliability: weights read from any file are checked finite, named with their tensor and file (exit 1)", async () => {
  const run = await tinyRun();
  const ckpt = `${run}/checkpoint.safetensors`;
  const poison = (name: string, value: number) => (d: ReturnType<typeof decodeSafetensors>) => {
    const t = d.tensors.get(name)!;
    const data = t.data.slice();
    data[1] = value;
    d.tensors.set(name, { ...t, data });
  };
  const nan = await edited(ckpt, `${run}/nan.safetensors`, poison("write.bias", NaN));
  await refused(
    ["eval", nan, "--backend", "cpu"],
    1,
    /nan\.safetensors .*write\.bias\[1\] is NaN, not a finite number/,
  );
  const inf = await edited(ckpt, `${run}/inf.safetensors`, poison("decoder.kernel", Infinity));
  await refused(["sample", inf, "--backend", "cpu"], 1, /inf\.safetensors .*decoder\.kernel\[1\] is Infinity/);
  ok(!(await exists(`${run}/samples.png`)), "no pictures from a broken model");
  // the optimizer's state too, on resume; the run's own checkpoint is left as it was
  const copy = await Deno.makeTempDir();
  await edited(ckpt, `${copy}/checkpoint.safetensors`, poison("adam.v.encoder.kernel", -Infinity));
  const before = await Deno.readFile(`${copy}/checkpoint.safetensors`);
  await refused(
    ["train", "mnist", ...TINY_FLAGS.slice(4), "--resume", "--epochs", "3", "--out", copy],
    1,
    /adam\.v\.encoder\.kernel\[1\] is -Infinity/,
  );
  deepEqual(await Deno.readFile(`${copy}/checkpoint.safetensors`), before);
  // a metadata entry that is not JSON names the file and the entry
  const json = await edited(ckpt, `${run}/json.safetensors`, (d) => d.metadata.state = "{bad");
  await refused(["eval", json, "--backend", "cpu"], 1, /json\.safetensors .*metadata entry state is not valid JSON/);
  for (const d of [run, copy]) await Deno.remove(d, { recursive: true });
});

/** Starts a long tiny run in `out` and waits until it has trained (its config.json and a few steps). */
async function started(out: string, extra: string[] = []): Promise<Deno.ChildProcess> {
  const child = cliCommand(["train", "mnist", ...TINY_FLAGS, "--epochs", "100000", "--out", out, ...extra]).spawn();
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && !(await exists(`${out}/config.json`))) await new Promise((r) => setTimeout(r, 100));
  await new Promise((r) => setTimeout(r, 700));
  return child;
}

for (const [signal, code] of [["SIGTERM", 143], ["SIGHUP", 129]] as const) {
  Deno.test(`reliability: ${signal} ends a run as Ctrl-C does: a checkpoint, then exit ${code}`, async () => {
    const out = await Deno.makeTempDir();
    const child = await started(out);
    child.kill(signal);
    const res = await child.output();
    const stderr = new TextDecoder().decode(res.stderr);
    equal(res.code, code, stderr);
    match(stderr, new RegExp(`${signal}: finishing the step, saving a checkpoint`));
    match(stderr, /Interrupted at step \d+: checkpoint saved to/);
    ok((await loadCheckpoint(`${out}/checkpoint.safetensors`)).state!.iteration > 0);
    ok(!(await exists(`${out}/${LOCK_FILE}`)), "the lock is given back");
    await Deno.remove(out, { recursive: true });
  });
}

Deno.test("reliability: one writer per run directory: a second is refused at once, the first goes on untouched", async () => {
  const out = await Deno.makeTempDir();
  const first = await started(out);
  const holder = JSON.parse(await Deno.readTextFile(`${out}/${LOCK_FILE}`));
  equal(holder.pid, first.pid);
  await refused(
    ["train", "mnist", ...TINY_FLAGS, "--epochs", "2", "--out", out],
    1,
    new RegExp(`Cannot train in .* as another run writes there: process ${first.pid}, since .*choose another --out`),
  );
  const config = await Deno.readTextFile(`${out}/config.json`);
  // eval and sample read without the lock
  first.kill("SIGINT");
  const res = await first.output();
  equal(res.code, 130, new TextDecoder().decode(res.stderr));
  equal(await Deno.readTextFile(`${out}/config.json`), config);
  const steps = (await Deno.readTextFile(`${out}/metrics.jsonl`)).trim().split("\n").map((l) => JSON.parse(l))
    .filter((m) => m.kind === "train").map((m) => m.step);
  ok(steps.every((s, k) => k === 0 || s > steps[k - 1]), `one run's metrics: ${steps}`);
  // a lock whose holder died (kill -9) is taken over with a note
  await Deno.writeTextFile(
    `${out}/${LOCK_FILE}`,
    JSON.stringify({ pid: 2 ** 22 + 17, host: Deno.hostname(), started: "2026-01-01T00:00:00.000Z" }),
  );
  const epoch = (await loadCheckpoint(`${out}/checkpoint.safetensors`)).state!.epoch;
  const again = await cli([
    "train",
    "mnist",
    ...TINY_FLAGS.slice(4),
    "--resume",
    "--epochs",
    String(epoch + 1),
    "--out",
    out,
  ]);
  equal(again.code, 0, again.stderr);
  match(
    again.stderr,
    /taking over .*train\.lock: its holder, process \d+ \(since 2026-01-01T00:00:00.000Z\), is no longer running/,
  );
  ok(!(await exists(`${out}/${LOCK_FILE}`)));
  // the library: a held lock refuses train() with a RunError
  const lock = await lockRun(out);
  await rejects(
    async () =>
      train({
        ...await libraryRun(),
        task: drawTask({ ...TINY, width: 28, height: 28 }),
        outDir: out,
        resume: true,
        epochs: epoch + 2,
      }),
    (e: Error) => e instanceof RunError && /another run writes there/.test(e.message),
  );
  await lock.release();
  await Deno.remove(out, { recursive: true });
});
