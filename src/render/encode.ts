/**
 * PNG and animated GIF encoding of {@link Raster}s, through pngjs and gifenc.
 *
 * @module
 */
import pngjs from "pngjs";
// @ts-types="./gifenc.d.ts"
import gifenc from "gifenc";
import type { Raster } from "./raster.ts";

/** What encoding needs of a raster: its size and RGB bytes. */
type Pixels = Pick<Raster, "width" | "height" | "rgb">;

function rgba(r: Pixels): Uint8Array {
  const out = new Uint8Array(r.width * r.height * 4);
  for (let p = 0; p < r.width * r.height; p++) {
    out[p * 4] = r.rgb[p * 3];
    out[p * 4 + 1] = r.rgb[p * 3 + 1];
    out[p * 4 + 2] = r.rgb[p * 3 + 2];
    out[p * 4 + 3] = 255;
  }
  return out;
}

/** Encodes a raster as PNG bytes. */
export function encodePng(r: Pixels): Uint8Array {
  const png = new pngjs.PNG({ width: r.width, height: r.height });
  png.data.set(rgba(r));
  return new Uint8Array(pngjs.PNG.sync.write(png));
}

/** Encodes frames as an animated GIF, looping; `delays` in milliseconds per frame. */
export function encodeGif(frames: Raster[], delays: number[]): Uint8Array {
  const gif = gifenc.GIFEncoder();
  frames.forEach((f, k) => {
    const data = rgba(f);
    const palette = gifenc.quantize(data, 256);
    gif.writeFrame(gifenc.applyPalette(data, palette), f.width, f.height, {
      palette,
      delay: delays[k] ?? 100,
      repeat: 0,
    });
  });
  gif.finish();
  return gif.bytes();
}
