/// <reference lib="dom" />
/**
 * The page of `cli.ts serve` in a real headless browser (Debian's Chromium, playwright-core): it
 * loads a model, generates T steps onto a canvas, reads and redraws a drawing made by scripted
 * mouse moves and shows its nats, and its ELBO is the library's. .ci/run installs Chromium.
 */
import * as tf from "../src/tf.ts";
import { selectBackend } from "../src/backend.ts";
import { loadCheckpoint, modelFromCheckpoint } from "../src/checkpoint.ts";
import { batchTensor, type Dataset } from "../src/data/dataset.ts";
import type { Draw } from "../src/draw.ts";
import { Rng } from "../src/random.ts";
import { assertClose, equal, match, ok } from "./_assert.ts";
import { drawAndRead, generate, hasChromium, launch, notBlank, openPage, servePage } from "./_browser.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const chromium = await hasChromium();

/** A tiny DRAW run on the fixtures, to serve. */
async function tinyRun(): Promise<string> {
  const out = await Deno.makeTempDir();
  const r = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      `${ROOT}cli.ts`,
      "train",
      "mnist",
      "--preset",
      "tiny",
      "--epochs",
      "1",
      "--batch",
      "16",
      "--out",
      out,
    ],
    env: { DRAW_DATA_DIR: `${ROOT}fixtures`, NO_COLOR: "1" },
    stderr: "piped",
  }).output();
  if (!r.success) throw new Error(new TextDecoder().decode(r.stderr));
  return out;
}

Deno.test({
  name: "page: loads the model, generates T steps, reads and redraws a mouse drawing with its nats, in Chromium",
  ignore: !chromium,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const run = await tinyRun();
    const server = await servePage(run);
    const browser = await launch();
    try {
      const page = await openPage(browser, server.url);
      equal(await page.textContent("#error"), "", "no error on the page");
      match((await page.textContent("#backend"))!, /^(webgpu|wasm|cpu) /, "the page says which backend runs");
      match((await page.textContent("#model"))!, /DRAW, T=3, LSTM 4/);
      equal(await generate(page), 3, "the step slider runs over T = 3 steps");
      ok(await notBlank(page, "gen"), "the generation canvas is not blank");
      match(await drawAndRead(page), /−ELBO [0-9.]+ nats \(Lx [0-9.]+, Lz [0-9.]+\)/);
      ok(await notBlank(page, "reading"), "the reading canvas is not blank");
      ok(!(await page.isHidden("#curve-section")), "a run directory shows its loss curve");
      const shot = `${run}/page.png`;
      await page.screenshot({ path: shot, fullPage: true });
      ok((await Deno.stat(shot)).size > 1000, "a screenshot is written");
    } finally {
      await browser.close();
      await server.stop();
      await Deno.remove(run, { recursive: true });
    }
  },
});

Deno.test({
  name: "page: the ELBO it shows for a fixed image and fixed noise is the library's",
  ignore: !chromium,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const run = await tinyRun();
    const server = await servePage(run);
    const browser = await launch();
    try {
      const page = await openPage(browser, server.url);
      const rng = new Rng(4), image = Uint8Array.from({ length: 28 * 28 }, () => rng.uniform() < 0.2 ? 1 : 0);
      const got = await page.evaluate(async ([pixels, seed]) => {
        const p = (globalThis as unknown as {
          drawPage: { read(px: Uint8Array, seed: number): Promise<{ lx: number; lz: number }> };
        }).drawPage;
        return await p.read(Uint8Array.from(pixels as number[]), seed as number);
      }, [Array.from(image), 7]);
      await selectBackend("cpu");
      const model = modelFromCheckpoint(await loadCheckpoint(`${run}/checkpoint.safetensors`)) as Draw;
      const ds: Dataset = { name: "drawing", count: 1, height: 28, width: 28, channels: 1, scale: 1, images: image };
      const x = batchTensor(ds, [0]);
      const out = model.loss(x, new Rng(7));
      const want = { lx: (await out.lx.data())[0], lz: (await out.lz.data())[0] };
      tf.dispose([x, out.lx, out.lz, out.loss]);
      model.dispose();
      assertClose([got.lx, got.lz], [want.lx, want.lz], { rtol: 1e-4, what: "page's (Lx, Lz) against the library's" });
    } finally {
      await browser.close();
      await server.stop();
      await Deno.remove(run, { recursive: true });
    }
  },
});

Deno.test({
  name: "page: a classifier shows its glimpses over a test image and the class probabilities after each glimpse",
  ignore: !chromium,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const run = await Deno.makeTempDir();
    const env = { DRAW_DATA_DIR: `${ROOT}fixtures`, NO_COLOR: "1" };
    const r = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        `${ROOT}cli.ts`,
        "train",
        "cluttered-60",
        "--preset",
        "tiny",
        "--epochs",
        "1",
        "--batch",
        "9",
        "--out",
        run,
      ],
      env,
      stderr: "piped",
    }).output();
    equal(r.code, 0, new TextDecoder().decode(r.stderr));
    const server = await servePage(run, env);
    const browser = await launch();
    try {
      const page = await openPage(browser, server.url);
      equal(await page.textContent("#error"), "");
      ok(await page.isHidden("#generate-section"), "no generation for a classifier");
      match((await page.textContent("#model"))!, /glimpse classifier, 2 glimpses of 3×3/);
      ok(await notBlank(page, "glimpses"), "the glimpses are drawn");
      equal(await page.locator("#probs tr").count(), 1 + 2 + 1, "a header, a row per glimpse, the label");
      match((await page.textContent("#probs"))!, /label \d/);
    } finally {
      await browser.close();
      await server.stop();
      await Deno.remove(run, { recursive: true });
    }
  },
});

Deno.test({
  name: "page: weights that cannot be loaded give a clear message on the page",
  ignore: !chromium,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const run = await tinyRun();
    const server = await servePage(run);
    await Deno.remove(`${run}/checkpoint.safetensors`); // gone after the server checked it
    const browser = await launch();
    try {
      const page = await browser.newPage();
      await page.goto(server.url);
      await page.waitForFunction(() => document.getElementById("error")!.textContent !== "", null, { timeout: 60_000 });
      match((await page.textContent("#error"))!, /^Cannot load the model's weights: the server answered 404/);
    } finally {
      await browser.close();
      await server.stop();
      await Deno.remove(run, { recursive: true });
    }
  },
});
