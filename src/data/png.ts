/**
 * PNG decoding, for data sets stored as PNG files (SVHN's photographs) and for reading back what
 * render/encode.ts writes: pngjs does the work.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { loadOptional } from "../optional.ts";
import { DataError } from "./files.ts";

/** pngjs's synchronous reader, the one part of it used here. */
interface PngReader {
  PNG: { sync: { read(bytes: Buffer): { width: number; height: number; data: Uint8Array } } };
}

/**
 * Decodes a PNG to RGB bytes (any bit depth and colour type, through pngjs, loaded on first use); a broken file
 * is a DataError naming `what` and ending with `fix`, what to do about it.
 */
export async function decodePng(
  bytes: Uint8Array,
  what: string,
  fix = "give a PNG file",
): Promise<{ width: number; height: number; rgb: Uint8Array }> {
  const pngjs = (await loadOptional<{ default: PngReader }>("pngjs")).default;
  let png: { width: number; height: number; data: Uint8Array };
  try {
    png = pngjs.PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length));
  } catch (e) {
    throw new DataError(`Cannot read ${what} as it is not a valid PNG (${(e as Error).message}): ${fix}`);
  }
  const rgb = new Uint8Array(png.width * png.height * 3);
  for (let p = 0; p < png.width * png.height; p++) {
    for (let c = 0; c < 3; c++) rgb[p * 3 + c] = png.data[p * 4 + c];
  }
  return { width: png.width, height: png.height, rgb };
}
