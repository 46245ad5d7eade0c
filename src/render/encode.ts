/**
 * PNG and animated GIF encoding of {@link Raster}s, by a few lines of our own: PNG as 8-bit RGB
 * rows deflated by node:zlib; GIF89a with one palette (exact greys, or 6×7×6 colour levels) and
 * GIF's LZW. Both are checked against independent decoders (pngjs, omggif) in the spec.
 *
 * @module
 */
import { deflateSync } from "node:zlib";
import type { Raster } from "./raster.ts";

/** What encoding needs of a raster: its size and RGB bytes. */
type Pixels = Pick<Raster, "width" | "height" | "rgb">;

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

/** GIF's palette for these frames: 256 greys where every pixel is grey, else 6×7×6 levels of red, green, blue. */
function palette(frames: Pixels[]): { table: Uint8Array; index(r: number, g: number, b: number): number } {
  const grey = frames.every((f) => {
    for (let p = 0; p < f.width * f.height; p++) {
      if (f.rgb[3 * p] !== f.rgb[3 * p + 1] || f.rgb[3 * p] !== f.rgb[3 * p + 2]) return false;
    }
    return true;
  });
  const table = new Uint8Array(256 * 3);
  if (grey) {
    for (let i = 0; i < 256; i++) table.fill(i, 3 * i, 3 * i + 3);
    return { table, index: (r) => r };
  }
  const level = (v: number, n: number) => Math.round((v * (n - 1)) / 255);
  for (let r = 0; r < 6; r++) {
    for (let g = 0; g < 7; g++) {
      for (let b = 0; b < 6; b++) {
        const i = (r * 7 + g) * 6 + b;
        table.set([Math.round((r * 255) / 5), Math.round((g * 255) / 6), Math.round((b * 255) / 5)], 3 * i);
      }
    }
  }
  return { table, index: (r, g, b) => (level(r, 6) * 7 + level(g, 7)) * 6 + level(b, 6) };
}

/** GIF's variable-length LZW of 8-bit indices (minimum code size 8), in sub-blocks of at most 255 bytes. */
function lzw(indices: Uint8Array): Uint8Array {
  const CLEAR = 256, END = 257, bytes: number[] = [];
  let acc = 0, bits = 0, size = 9, next = END + 1, table = new Map<number, number>();
  const emit = (code: number) => {
    acc |= code << bits;
    bits += size;
    for (; bits >= 8; bits -= 8, acc >>>= 8) bytes.push(acc & 0xff);
  };
  emit(CLEAR);
  let code = indices[0];
  for (let i = 1; i < indices.length; i++) {
    const k = indices[i], key = (code << 8) | k, known = table.get(key);
    if (known !== undefined) {
      code = known;
      continue;
    }
    emit(code);
    if (next === 4096) { // the table is full: start again
      emit(CLEAR);
      table = new Map();
      next = END + 1;
      size = 9;
    } else {
      if (next >= 1 << size) size++;
      table.set(key, next++);
    }
    code = k;
  }
  emit(code);
  emit(END);
  if (bits > 0) bytes.push(acc & 0xff);
  const out: number[] = [8];
  for (let at = 0; at < bytes.length; at += 255) {
    const block = bytes.slice(at, at + 255);
    out.push(block.length, ...block);
  }
  out.push(0);
  return Uint8Array.from(out);
}

/**
 * Encodes frames as an animated GIF89a, looping; `delays` in milliseconds per frame. One global
 * palette (see {@link palette}: exact for grey frames), each frame LZW-coded in full.
 */
export function encodeGif(frames: Raster[], delays: number[]): Uint8Array {
  const width = Math.max(1, ...frames.map((f) => f.width)), height = Math.max(1, ...frames.map((f) => f.height));
  const { table, index } = palette(frames);
  const u16 = (v: number) => [v & 0xff, v >> 8];
  const parts: Uint8Array[] = [
    new TextEncoder().encode("GIF89a"),
    Uint8Array.from([...u16(width), ...u16(height), 0xf7, 0, 0]), // a global table of 256 colours
    table,
    Uint8Array.from([0x21, 0xff, 11, ...new TextEncoder().encode("NETSCAPE2.0"), 3, 1, 0, 0, 0]), // loop forever
  ];
  frames.forEach((f, k) => {
    const delay = Math.round((delays[k] ?? 100) / 10); // hundredths of a second
    parts.push(Uint8Array.from([0x21, 0xf9, 4, 0x04, ...u16(delay), 0, 0])); // keep the frame, no transparency
    parts.push(Uint8Array.from([0x2c, 0, 0, 0, 0, ...u16(f.width), ...u16(f.height), 0]));
    const indices = new Uint8Array(f.width * f.height);
    for (let p = 0; p < indices.length; p++) indices[p] = index(f.rgb[3 * p], f.rgb[3 * p + 1], f.rgb[3 * p + 2]);
    parts.push(lzw(indices));
  });
  parts.push(Uint8Array.of(0x3b));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) (out.set(p, at), at += p.length);
  return out;
}
