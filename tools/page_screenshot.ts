/**
 * The README's picture of the page: serves a model (default: the shipped mnist), generates,
 * draws a "7" with scripted mouse moves, reads it, and writes a screenshot.
 *
 * Run: deno run -A tools/page_screenshot.ts [model-or-run] [out.png]
 *
 * @module
 */
import { drawAndRead, generate, launch, newPage, servePage, waitReady } from "../spec/_browser.ts";

const [target = "mnist", out = "docs/page.png"] = Deno.args;
const server = await servePage(target);
const browser = await launch();
try {
  const page = await newPage(browser);
  await waitReady(page, server.url);
  await generate(page);
  await drawAndRead(page);
  await page.waitForTimeout(4000); // both step sliders play to the last step
  await page.screenshot({ path: out, fullPage: true });
  console.log(`wrote ${out}`);
} finally {
  await browser.close();
  await server.stop();
}
