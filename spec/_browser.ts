/**
 * A real headless browser for the page's tests and the README's screenshot: Debian's Chromium
 * driven by playwright-core (pinned here, not in deno.json: a user never installs it).
 */
/// <reference lib="dom" />
// deno-lint-ignore no-import-prefix -- tests and tools only: kept out of deno.json, whose every entry a first run installs
import { type Browser, chromium, type Page } from "npm:playwright-core@1.64.1";

/** Where Debian's chromium package puts the browser (.ci/run installs it). */
export const CHROMIUM = "/usr/bin/chromium";

/** Whether the browser is installed. */
export async function hasChromium(): Promise<boolean> {
  try {
    return (await Deno.stat(CHROMIUM)).isFile;
  } catch {
    return false;
  }
}

/** Headless Chromium, with no network of its own (background services off) and no sandbox (root in CI). */
export function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
  });
}

/** `cli.ts serve` on a free port in a subprocess; resolves with its address once it prints it. */
export async function servePage(target: string, env: Record<string, string> = {}) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../cli.ts", import.meta.url).pathname, "serve", target, "--port", "0"],
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!/http:\/\/\S+\//.test(text)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`serve exited before listening: ${text}`);
    text += value;
  }
  reader.releaseLock();
  return {
    url: text.match(/http:\/\/\S+\//)![0],
    stop: async () => {
      child.kill("SIGINT");
      await child.status;
      await child.stderr.cancel();
      await child.stdout.cancel().catch(() => {});
    },
  };
}

/** Opens `url` in `page` and waits until the page has loaded its model. */
export async function waitReady(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await page.waitForSelector("body[data-ready=true]", { timeout: 120_000 });
}

/** A new page of the README's size. */
export function newPage(browser: Browser): Promise<Page> {
  return browser.newPage({ viewport: { width: 1000, height: 1500 } });
}

export type { Page };

/** Presses Generate and waits for the step slider to reach T; returns T. */
export async function generate(page: Page): Promise<number> {
  await page.click("#generate");
  await page.waitForFunction(() => (document.getElementById("gen-step") as HTMLInputElement).max !== "1", null, {
    timeout: 120_000,
  });
  return Number(await page.getAttribute("#gen-step", "max"));
}

/** Draws a stroke on the pad with the mouse (a "7"), presses Read and waits for the nats. */
export async function drawAndRead(page: Page): Promise<string> {
  const box = (await page.locator("#pad").boundingBox())!;
  const at = (u: number, v: number) => page.mouse.move(box.x + u * box.width, box.y + v * box.height);
  await at(0.25, 0.22);
  await page.mouse.down();
  for (let k = 0; k <= 10; k++) await at(0.25 + 0.5 * k / 10, 0.22);
  for (let k = 0; k <= 14; k++) await at(0.75 - 0.3 * k / 14, 0.22 + 0.6 * k / 14);
  await page.mouse.up();
  await page.click("#read");
  await page.waitForFunction(() => /nats/.test(document.getElementById("nats")!.textContent ?? ""), null, {
    timeout: 120_000,
  });
  return (await page.textContent("#nats"))!;
}

/** Whether a canvas shows more than one colour (something was drawn on it). */
export function notBlank(page: Page, id: string): Promise<boolean> {
  return page.evaluate((canvasId: string) => {
    const c = document.getElementById(canvasId) as HTMLCanvasElement;
    if (!c.width || !c.height) return false;
    const d = c.getContext("2d")!.getImageData(0, 0, c.width, c.height).data;
    for (let p = 4; p < d.length; p += 4) if (d[p] !== d[0] || d[p + 1] !== d[1] || d[p + 2] !== d[2]) return true;
    return false;
  }, id);
}
