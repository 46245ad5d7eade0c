/**
 * The page `cli.ts serve` shows: DRAW generating step by step, reading and redrawing a digit drawn
 * with the mouse, the classifier's glimpses, the run's loss curve. It runs the library's own code
 * (bundled for the browser by serve.ts): the checkpoint parser, the model, and the same pictures
 * as `cli.ts sample` (pictures.ts), so its numbers are the library's.
 *
 * @module
 */
/// <reference lib="dom" />
import * as tf from "../tf.ts";
import "@tensorflow/tfjs-backend-webgpu";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import { type Model, modelFromCheckpoint, parseCheckpoint } from "../checkpoint.ts";
import { type Classifier, classifierForward } from "../classifier.ts";
import type { Dataset } from "../data/dataset.ts";
import type { Draw } from "../draw.ts";
import { generationFrames, generationTrace, glimpsePicture, lossCurve, readingFrames } from "../pictures.ts";
import { Rng } from "../random.ts";
import type { Raster } from "../render/raster.ts";

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

/** Shows a one-line error on the page (and keeps it for the tests). */
function fail(message: string): void {
  $("error").textContent = message;
}

/** The fastest backend this browser has: WebGPU with an adapter, else wasm, else cpu. */
async function startBackend(): Promise<string> {
  const gpu = (navigator as Navigator & { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
  if (gpu && (await gpu.requestAdapter().catch(() => null)) && (await tf.setBackend("webgpu").catch(() => false))) {
    return "webgpu (this browser's GPU)";
  }
  if (typeof WebAssembly === "object") {
    setWasmPaths("/tfjs-wasm/");
    if (await tf.setBackend("wasm").catch(() => false)) return "wasm (no WebGPU adapter here)";
  }
  await tf.setBackend("cpu");
  return "cpu (neither WebGPU nor WebAssembly here: slow)";
}

/** Paints a raster (pictures.ts) on a canvas at its own size. */
function paint(canvas: HTMLCanvasElement, r: Raster): void {
  canvas.width = r.width;
  canvas.height = r.height;
  const img = new ImageData(r.width, r.height);
  for (let p = 0; p < r.width * r.height; p++) {
    img.data.set(r.rgb.subarray(3 * p, 3 * p + 3), 4 * p);
    img.data[4 * p + 3] = 255;
  }
  canvas.getContext("2d")!.putImageData(img, 0, 0);
}

/** A step slider over frames: shows frame t on `canvas`, labels it, and plays all steps once. */
function stepper(canvas: string, slider: string, label: string) {
  let frames: Raster[] = [];
  let timer: number | undefined;
  const show = (t: number) => {
    const s = $<HTMLInputElement>(slider);
    s.value = String(t);
    $(label).textContent = `${t} of ${frames.length}`;
    paint($<HTMLCanvasElement>(canvas), frames[t - 1]);
  };
  $<HTMLInputElement>(slider).addEventListener("input", (e) => {
    clearInterval(timer);
    show(Number((e.target as HTMLInputElement).value));
  });
  return (next: Raster[]) => {
    frames = next;
    const s = $<HTMLInputElement>(slider);
    s.max = String(frames.length);
    clearInterval(timer);
    let t = 1;
    show(t);
    timer = setInterval(() => {
      if (++t > frames.length) return clearInterval(timer);
      show(t);
    }, Math.max(30, 3000 / frames.length)) as unknown as number;
  };
}

/** The 28×28 (or the model's size) drawing pad: mouse or finger, drawn as 0/1 pixels. */
function drawingPad(H: number, W: number) {
  const canvas = $<HTMLCanvasElement>("pad"), ctx = canvas.getContext("2d")!;
  const pixels = new Uint8Array(H * W);
  const cell = canvas.width / W;
  const redraw = () => {
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.fillStyle = "#fff";
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) if (pixels[y * W + x]) ctx.fillRect(x * cell, y * cell, cell, cell);
    }
  };
  const ink = (e: PointerEvent) => {
    const r = canvas.getBoundingClientRect();
    const cx = ((e.clientX - r.left) / r.width) * W, cy = ((e.clientY - r.top) / r.height) * H;
    for (let y = Math.floor(cy - 1.2); y <= cy + 1.2; y++) {
      for (let x = Math.floor(cx - 1.2); x <= cx + 1.2; x++) {
        if (x >= 0 && y >= 0 && x < W && y < H && (x + 0.5 - cx) ** 2 + (y + 0.5 - cy) ** 2 <= 1.44) {
          pixels[y * W + x] = 1;
        }
      }
    }
    redraw();
  };
  let down = false;
  canvas.addEventListener("pointerdown", (e) => {
    down = true;
    canvas.setPointerCapture(e.pointerId);
    ink(e);
  });
  canvas.addEventListener("pointermove", (e) => down && ink(e));
  canvas.addEventListener("pointerup", () => (down = false));
  redraw();
  return {
    pixels,
    clear: () => {
      pixels.fill(0);
      redraw();
    },
    set: (values: ArrayLike<number>) => {
      pixels.set(Array.from(values, (v) => (v > 0.5 ? 1 : 0)));
      redraw();
    },
  };
}

/** A one-image data set of 0/1 pixels, as the model reads images. */
function asDataset(pixels: Uint8Array, H: number, W: number): Dataset {
  return { name: "your drawing", count: 1, height: H, width: W, channels: 1, scale: 1, images: pixels.slice() };
}

/** The generation and reading panels of a DRAW model. */
function drawPanels(model: Draw) {
  const { height: H, width: W, channels: C } = model.config;
  const showGen = stepper("gen", "gen-step", "gen-step-label"),
    showRead = stepper("reading", "read-step", "read-step-label");
  let seed = 1;
  $("generate").addEventListener("click", async () => {
    const { frames } = generationFrames(model.config, await generationTrace(model, 16, new Rng(seed++)), 4);
    showGen(frames);
  });
  if (C !== 1) {
    $("read-section").hidden = true; // the pad draws one channel
    return {};
  }
  const pad = drawingPad(H, W);
  $("clear").addEventListener("click", () => pad.clear());
  /** −ELBO of an image under noise seed `noiseSeed`, with the reading's frames: the page's numbers. */
  const read = async (pixels: Uint8Array, noiseSeed: number) => {
    const r = await readingFrames(model, asDataset(pixels, H, W), 0, new Rng(noiseSeed));
    showRead(r.frames);
    const nats = $("nats");
    nats.textContent = `−ELBO ${(r.lx + r.lz).toFixed(2)} nats (Lx ${r.lx.toFixed(2)}, Lz ${r.lz.toFixed(2)}), ` +
      `one sample of z (noise seed ${noiseSeed})`;
    nats.dataset.lx = String(r.lx);
    nats.dataset.lz = String(r.lz);
    return { lx: r.lx, lz: r.lz };
  };
  $("read").addEventListener("click", () => read(pad.pixels, 1));
  return { read, pad };
}

/** The classifier's panel: glimpses over a test image and the class probabilities after each. */
async function classifierPanel(model: Classifier) {
  $("generate-section").hidden = true;
  $("read-section").hidden = true;
  $("classify-section").hidden = false;
  const res = await fetch("/examples.bin");
  if (!res.ok) return fail(`No test images to classify: ${await res.text()}`);
  const bytes = new Uint8Array(await res.arrayBuffer());
  const { height: H, width: W, glimpses: G, classes: K } = model.config, size = H * W;
  const count = Math.floor(bytes.length / (size + 1));
  let k = 0;
  const show = async () => {
    const one: Dataset = {
      name: "test image",
      count: 1,
      height: H,
      width: W,
      channels: 1,
      scale: 1 / 255,
      images: bytes.slice(k * size, (k + 1) * size),
      labels: bytes.slice(count * size + k, count * size + k + 1),
    };
    paint($<HTMLCanvasElement>("glimpses"), await glimpsePicture(model, one, 1));
    const x = tf.tensor4d(Float32Array.from(one.images, (v) => v / 255), [1, H, W, 1]);
    const rows: string[] = [
      `<tr><td>glimpse</td>${Array.from({ length: K }, (_, c) => `<td>${c}</td>`).join("")}</tr>`,
    ];
    for (let g = 1; g <= G; g++) {
      const p = tf.tidy(() => tf.softmax(classifierForward(model.weights, { ...model.config, glimpses: g }, x).logits));
      const v = await p.data();
      p.dispose();
      rows.push(`<tr><td>${g}</td>${Array.from(v, (q) => `<td>${(100 * q).toFixed(0)}%</td>`).join("")}</tr>`);
    }
    x.dispose();
    $("probs").innerHTML = rows.join("") + `<tr><td colspan="${K + 1}">label ${one.labels![0]}</td></tr>`;
    k = (k + 1) % count;
  };
  $("classify").addEventListener("click", show);
  await show();
}

/** Loads the model and the run's curve, and wires the panels. */
async function main(): Promise<void> {
  let backend: string;
  try {
    backend = await startBackend();
  } catch (e) {
    return fail(`This browser cannot run tfjs: ${(e as Error).message}`);
  }
  $("backend").textContent = backend;
  let model: Model;
  try {
    const res = await fetch("/model.safetensors");
    if (!res.ok) throw new Error(`the server answered ${res.status}: ${await res.text()}`);
    model = modelFromCheckpoint(parseCheckpoint(new Uint8Array(await res.arrayBuffer()), "model.safetensors"));
  } catch (e) {
    $("model").textContent = "no model";
    return fail(`Cannot load the model's weights: ${(e as Error).message}`);
  }
  const c = model.config as unknown as Record<string, number>;
  $("model").textContent = model.kind === "draw"
    ? `DRAW, T=${c.T}, LSTM ${c.hidden}, z ${c.z}, read ${c.readN || "whole"}, write ${c.writeN || "whole"}, ` +
      `${c.height}×${c.width}×${c.channels}`
    : `the glimpse classifier, ${c.glimpses} glimpses of ${c.readN}×${c.readN} on ${c.height}×${c.width}`;
  const metrics = await fetch("/metrics.jsonl");
  if (metrics.ok) {
    $("curve-section").hidden = false;
    $("curve").innerHTML = lossCurve(await metrics.text(), "cost against examples seen");
  }
  const page = model.kind === "draw" ? drawPanels(model as Draw) : (await classifierPanel(model as Classifier), {});
  // for tests and the curious: the page's own reading of an image, and a sign that it is ready
  Object.assign(globalThis, { drawPage: { ready: true, backend, ...page } });
  document.body.dataset.ready = "true";
}

main().catch((e) => fail(`The page failed: ${(e as Error).message}`));
