/**
 * The IDX format of LeCun's MNIST files: a magic number (two zero bytes, a type byte, a dimension
 * count), big-endian 32-bit dimension sizes, then the values. Only unsigned bytes (type 0x08) occur
 * in MNIST; other types are refused.
 *
 * @module
 */
import { DataError } from "./files.ts";

/** A parsed IDX file of unsigned bytes. */
export interface Idx {
  dims: number[];
  data: Uint8Array;
}

/**
 * Parses IDX bytes, checking the magic number, the dimension count, and that the data length is
 * exactly the product of the dimensions. `what` names the file in errors.
 */
export function parseIdx(bytes: Uint8Array, what: string, expectDims?: number): Idx {
  const fix = "get a good copy (see README: Data)";
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0) {
    throw new DataError(`Cannot read ${what} as it is not an IDX file (bad magic number): ${fix}`);
  }
  if (bytes[2] !== 0x08) {
    throw new DataError(
      `Cannot read ${what} as its IDX type is 0x${bytes[2].toString(16)}, not 0x08 (unsigned bytes): ${fix}`,
    );
  }
  const rank = bytes[3];
  if (rank < 1 || (expectDims !== undefined && rank !== expectDims)) {
    throw new DataError(`Cannot read ${what} as it has ${rank} dimensions, not ${expectDims}: ${fix}`);
  }
  if (bytes.length < 4 + 4 * rank) throw new DataError(`Cannot read ${what} as its header is truncated: ${fix}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims = Array.from({ length: rank }, (_, k) => view.getUint32(4 + 4 * k, false));
  const size = dims.reduce((a, b) => a * b, 1);
  const start = 4 + 4 * rank;
  if (bytes.length - start !== size) {
    throw new DataError(
      `Cannot read ${what} as it holds ${
        bytes.length - start
      } values where its header [${dims}] says ${size} (truncated or padded): ${fix}`,
    );
  }
  return { dims, data: bytes.subarray(start) };
}

/** Builds IDX bytes (for fixtures and tests). */
export function encodeIdx(dims: number[], data: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  out.set([0, 0, 0x08, dims.length]);
  const view = new DataView(out.buffer);
  dims.forEach((d, k) => view.setUint32(4 + 4 * k, d, false));
  out.set(data, 4 + 4 * dims.length);
  return out;
}
