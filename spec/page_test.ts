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
import {
  drawAndRead,
  generate,
  hasChromium,
  launch,
  newPage,
  notBlank,
  type Page,
  servePage,
  waitReady,
} from "./_browser.ts";
import { ROOT, tinyRun } from "./_cli.ts";

const chromium = await hasChromium();

/** Serves `run`, opens Chromium on it, runs `body`, and cleans up (the run folder too). */
async function withPage(
  run: string,
  body: (page: Page, url: string) => Promise<void>,
  env: Record<string, string> = {},
) {
  const server = await servePage(run, env);
  const browser = await launch();
  try {
    await body(await newPage(browser), server.url);
  } finally {
    await browser.close();
    await server.stop();
    await Deno.remove(run, { recursive: true });
  }
}

/** A page test: ignored where Chromium is not installed (.ci/run installs it). */
function pageTest(name: string, fn: () => Promise<void>) {
  Deno.test({ name, ignore: !chromium, sanitizeResources: false, sanitizeOps: false, fn });
}

pageTest(
  "page: loads the model, generates T steps, reads and redraws a mouse drawing with its nats, in Chromium",
  async () => {
    const run = await tinyRun();
    await withPage(run, async (page, url) => {
      await waitReady(page, url);
      equal(await page.textContent("#error"), "", "no error on the page");
      match((await page.textContent("#backend"))!, /^(webgpu|wasm|cpu) /, "the page says which backend runs");
      match((await page.textContent("#model"))!, /DRAW, T=3, LSTM 4/);
      equal(await generate(page), 3, "the step slider runs over T = 3 steps");
      ok(await notBlank(page, "gen"), "the generation canvas is not blank");
      match(await drawAndRead(page), /−ELBO [0-9.]+ nats \(Lx [0-9.]+, Lz [0-9.]+\)/);
      ok(await notBlank(page, "reading"), "the reading canvas is not blank");
      ok(!(await page.isHidden("#curve-section")), "a run directory shows its loss curve");
      const shot = await Deno.makeTempFile({ suffix: ".png" });
      await page.screenshot({ path: shot, fullPage: true });
      ok((await Deno.stat(shot)).size > 1000, "a screenshot is written");
      await Deno.remove(shot);
    });
  },
);

pageTest("page: the ELBO it shows for a fixed image and fixed noise is the library's", async () => {
  const run = await tinyRun();
  const model = modelFromCheckpoint(await loadCheckpoint(`${run}/checkpoint.safetensors`)) as Draw;
  await withPage(run, async (page, url) => {
    await waitReady(page, url);
    const rng = new Rng(4), image = Uint8Array.from({ length: 28 * 28 }, () => rng.uniform() < 0.2 ? 1 : 0);
    const got = await page.evaluate(async ([pixels, seed]) => {
      const p = (globalThis as unknown as {
        drawPage: { read(px: Uint8Array, seed: number): Promise<{ lx: number; lz: number }> };
      }).drawPage;
      return await p.read(Uint8Array.from(pixels as number[]), seed as number);
    }, [Array.from(image), 7]);
    await selectBackend("cpu");
    const ds: Dataset = { name: "drawing", count: 1, height: 28, width: 28, channels: 1, scale: 1, images: image };
    const x = batchTensor(ds, [0]);
    const out = model.loss(x, new Rng(7));
    const want = { lx: (await out.lx.data())[0], lz: (await out.lz.data())[0] };
    tf.dispose([x, out.lx, out.lz, out.loss]);
    assertClose([got.lx, got.lz], [want.lx, want.lz], { rtol: 1e-4, what: "page's (Lx, Lz) against the library's" });
  });
  model.dispose();
});

pageTest(
  "page: a classifier shows its glimpses over a test image and the class probabilities after each glimpse",
  async () => {
    const run = await tinyRun("cluttered-60", 9);
    await withPage(run, async (page, url) => {
      await waitReady(page, url);
      equal(await page.textContent("#error"), "");
      ok(await page.isHidden("#generate-section"), "no generation for a classifier");
      match((await page.textContent("#model"))!, /glimpse classifier, 2 glimpses of 3×3/);
      ok(await notBlank(page, "glimpses"), "the glimpses are drawn");
      equal(await page.locator("#probs tr").count(), 1 + 2 + 1, "a header, a row per glimpse, the label");
      match((await page.textContent("#probs"))!, /label \d/);
    }, { DRAW_DATA_DIR: `${ROOT}fixtures` });
  },
);

pageTest("page: weights that cannot be loaded give a clear message on the page", async () => {
  const run = await tinyRun();
  await withPage(run, async (page, url) => {
    await Deno.remove(`${run}/checkpoint.safetensors`); // gone after the server checked it
    await page.goto(url);
    await page.waitForFunction(() => document.getElementById("error")!.textContent !== "", null, { timeout: 60_000 });
    match((await page.textContent("#error"))!, /^Cannot load the model's weights: the server answered 404/);
  });
});
