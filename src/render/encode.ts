/**
 * PNG and animated GIF encoding of {@link Raster}s: PNG by a few lines of our own (8-bit RGB rows,
 * deflated by node:zlib), GIF through gifenc (palette quantisation and LZW), loaded on first use.
 *
 * @module
 */
import { deflateSync } from "node:zlib";
import type Gifenc from "./gifenc.d.ts";
import type { Raster } from "./raster.ts";
import { loadOptional } from "../optional.ts";

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

/** CRC-32 (ISO 3309, as PNG's chunks use) by table. */
const CRC = Uint32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** One PNG chunk: length, type, data, CRC of type and data. */
function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length), view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  out.set(new TextEncoder().encode(type), 4);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/** Encodes a raster as PNG bytes: 8-bit RGB, no interlace, every row unfiltered, deflated. */
export function encodePng(r: Pixels): Uint8Array {
  const { width: w, height: h } = r, row = 3 * w;
  const raw = new Uint8Array(h * (row + 1)); // each row: filter type 0, then its RGB bytes
  for (let y = 0; y < h; y++) raw.set(r.rgb.subarray(y * row, (y + 1) * row), y * (row + 1) + 1);
  const head = new Uint8Array(13), view = new DataView(head.buffer);
  view.setUint32(0, w);
  view.setUint32(4, h);
  head.set([8, 2, 0, 0, 0], 8); // bit depth 8, colour type 2 (RGB), deflate, adaptive filtering, no interlace
  const parts = [
    Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a),
    chunk("IHDR", head),
    chunk("IDAT", new Uint8Array(deflateSync(raw))),
    chunk("IEND", new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) (out.set(p, at), at += p.length);
  return out;
}

/** Encodes frames as an animated GIF, looping; `delays` in milliseconds per frame. */
export async function encodeGif(frames: Raster[], delays: number[]): Promise<Uint8Array> {
  const gifenc = (await loadOptional<{ default: typeof Gifenc }>("gifenc")).default;
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
