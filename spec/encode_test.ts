/**
 * Our PNG and GIF encoders (src/render/encode.ts) against independent decoders: pngjs for PNG,
 * omggif for GIF (both pinned here, test-only).
 */
// deno-lint-ignore no-import-prefix -- tests only: kept out of deno.json, whose every entry a first run installs
import pngjs from "npm:pngjs@7.0.0";
// deno-lint-ignore no-import-prefix -- tests only
import omggif from "npm:omggif@1.0.10";
import { Buffer } from "node:buffer";
import { encodeGif, encodePng } from "../src/render/encode.ts";
import type { Raster } from "../src/render/raster.ts";
import { Rng } from "../src/random.ts";
import { deepEqual, equal } from "./_assert.ts";

const frame = (width: number, height: number, rgb: Uint8Array) => ({ width, height, rgb }) as Raster;

Deno.test("encodePng(): pngjs reads back every pixel, at odd sizes", () => {
  const rng = new Rng(1);
  for (const [w, h] of [[1, 1], [5, 3], [37, 19], [300, 2]]) {
    const rgb = Uint8Array.from({ length: w * h * 3 }, () => Math.floor(rng.uniform() * 256));
    const png = pngjs.PNG.sync.read(Buffer.from(encodePng({ width: w, height: h, rgb })));
    deepEqual([png.width, png.height], [w, h]);
    const back = new Uint8Array(w * h * 3);
    for (let p = 0; p < w * h; p++) back.set(png.data.subarray(4 * p, 4 * p + 3), 3 * p);
    deepEqual(back, rgb);
  }
});

/** Every frame of a GIF as RGB, its delays in ms and its loop count, through omggif. */
function decodeGif(bytes: Uint8Array) {
  const reader = new omggif.GifReader(bytes);
  const frames: Uint8Array[] = [], delays: number[] = [];
  for (let k = 0; k < reader.numFrames(); k++) {
    const rgba = new Uint8Array(reader.width * reader.height * 4);
    reader.decodeAndBlitFrameRGBA(k, rgba);
    frames.push(
      Uint8Array.from({ length: reader.width * reader.height * 3 }, (_, i) => rgba[4 * ((i / 3) | 0) + i % 3]),
    );
    delays.push(reader.frameInfo(k).delay * 10);
  }
  return { width: reader.width, height: reader.height, frames, delays, loop: reader.loopCount() };
}

Deno.test("encodeGif(): grey frames come back exactly (past 4,096 LZW codes too), with their delays, looping", () => {
  const rng = new Rng(2);
  const [w, h] = [97, 61]; // noise: the code table fills and restarts several times per frame
  const frames = [0, 1, 2].map(() => {
    const rgb = new Uint8Array(w * h * 3);
    for (let p = 0; p < w * h; p++) rgb.fill(Math.floor(rng.uniform() * 256), 3 * p, 3 * p + 3);
    return frame(w, h, rgb);
  });
  frames.push(frame(w, h, new Uint8Array(w * h * 3).fill(200))); // a flat frame: long runs
  const gif = decodeGif(encodeGif(frames, [100, 250, 40, 1000]));
  deepEqual([gif.width, gif.height, gif.loop], [w, h, 0]);
  deepEqual(gif.delays, [100, 250, 40, 1000]);
  gif.frames.forEach((f, k) => deepEqual(f, frames[k].rgb, `frame ${k}`));
});

Deno.test("encodeGif(): colour frames come back within one step of the 6×7×6 palette", () => {
  const rng = new Rng(3);
  const [w, h] = [16, 9];
  const rgb = Uint8Array.from({ length: w * h * 3 }, () => Math.floor(rng.uniform() * 256));
  const [back] = decodeGif(encodeGif([frame(w, h, rgb)], [100])).frames;
  const steps = [255 / 5, 255 / 6, 255 / 5];
  for (let i = 0; i < rgb.length; i++) {
    equal(Math.abs(back[i] - rgb[i]) <= steps[i % 3] / 2 + 0.5, true, `channel ${i % 3} of pixel ${(i / 3) | 0}`);
  }
});
