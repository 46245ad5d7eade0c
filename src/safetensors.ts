/**
 * The safetensors format (https://github.com/huggingface/safetensors): an 8-byte little-endian
 * header length N, N bytes of JSON mapping each tensor name to {dtype, shape, data_offsets}
 * (offsets relative to the byte buffer after the header) plus an optional "__metadata__" map of
 * strings, then the byte buffer. draw.ts reads F32 and F16 tensors (F16 widened to float32 as it reads) and
 * writes either: float32 by default, half precision (IEEE binary16) where asked, as shipped models are.
 *
 * Reading distrusts the file: the header length is checked against the file size and a cap before
 * anything is allocated, every offset must lie inside the buffer, and tensors may not overlap.
 *
 * @module
 */

/** A float32 tensor to store: its shape and values. */
export interface NamedTensor {
  /** The tensor's shape. */
  shape: number[];
  /** Its values, row-major. */
  data: Float32Array;
}

/** What {@link decodeSafetensors} returns. */
export interface Safetensors {
  tensors: Map<string, NamedTensor>;
  metadata: Record<string, string>;
}

/** A file that is not valid safetensors, or not one draw.ts can use. */
export class SafetensorsError extends Error {
  override name = "SafetensorsError";
}

/** Header JSON larger than this is refused (the reference implementation uses 100 MB). */
export const MAX_HEADER_BYTES = 100_000_000;

const DTYPE_BYTES: Record<string, number> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
};

/** How tensors are stored: float32, or half precision (IEEE binary16, the shipped models' weights). */
export type Dtype = "F32" | "F16";

/**
 * `data` rounded to half precision (to nearest, ties to even); refuses (RangeError) a finite value
 * that half precision cannot hold (beyond ±65504), naming `name`.
 */
export function toHalf(data: Float32Array, name: string): Float16Array {
  const half = Float16Array.from(data);
  const bad = half.findIndex((h, k) => !Number.isFinite(h) && Number.isFinite(data[k]));
  if (bad >= 0) {
    throw new RangeError(
      `Cannot store ${name} in half precision as ${name}[${bad}] is ${data[bad]}, beyond its ±65504: store it as F32`,
    );
  }
  return half;
}

/**
 * Serialises tensors (in the given order) and string metadata, every tensor as `dtype` (default
 * F32; F16 rounds each value to nearest, refusing one beyond half precision's range).
 *
 * @example
 * ```ts
 * import { decodeSafetensors, encodeSafetensors } from "./safetensors.ts";
 * const bytes = encodeSafetensors(new Map([["w", { shape: [2], data: new Float32Array([1, 2]) }]]), { step: "3" });
 * decodeSafetensors(bytes, "example").metadata.step; // "3"
 * ```
 */
export function encodeSafetensors(
  tensors: Map<string, NamedTensor>,
  metadata: Record<string, string> = {},
  dtype: Dtype = "F32",
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header["__metadata__"] = metadata;
  let offset = 0;
  const stored: (Float32Array | Float16Array)[] = [];
  for (const [name, t] of tensors) {
    const size = t.shape.reduce((a, b) => a * b, 1);
    if (size !== t.data.length) {
      throw new TypeError(`Cannot save ${name} as its shape [${t.shape}] holds ${size} values, not ${t.data.length}`);
    }
    const data = dtype === "F16" ? toHalf(t.data, name) : t.data;
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + data.byteLength] };
    offset += data.byteLength;
    stored.push(data);
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - ((8 + new TextEncoder().encode(json).length) % 8)) % 8); // align the buffer to 8
  const head = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + head.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let at = 8 + head.length;
  for (const data of stored) {
    // Little-endian, as the format requires (and as every platform Deno runs on stores it).
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), at);
    at += data.byteLength;
  }
  return out;
}

/**
 * Parses safetensors bytes, validating the header before allocating anything. `what` names the
 * file in errors. F32 and F16 tensors are accepted, F16 widened to float32 (exactly).
 */
export function decodeSafetensors(bytes: Uint8Array, what: string): Safetensors {
  const bad = (why: string) =>
    new SafetensorsError(`Cannot read ${what} as ${why}: it is truncated, damaged or not a draw.ts checkpoint`);
  if (bytes.length < 8) throw bad(`it is ${bytes.length} bytes long, shorter than the 8-byte header length`);
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) throw bad(`its header claims ${n} bytes, over the ${MAX_HEADER_BYTES}-byte limit`);
  if (n > BigInt(bytes.length - 8)) {
    throw bad(`its header claims ${n} bytes but the file has ${bytes.length - 8} after the length`);
  }
  const headerLength = Number(n);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + headerLength)));
  } catch (e) {
    throw bad(`its header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    throw bad("its header is not a JSON object");
  }
  const bufferStart = 8 + headerLength;
  const bufferLength = bytes.length - bufferStart;
  const metadata: Record<string, string> = {};
  const entries: [string, { shape: number[]; begin: number; end: number; dtype: Dtype }][] = [];
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (typeof raw !== "object" || raw === null) throw bad("its __metadata__ is not an object");
      for (const [k, v] of Object.entries(raw)) {
        if (typeof v !== "string") throw bad(`its metadata value ${k} is not a string`);
        metadata[k] = v;
      }
      continue;
    }
    const e = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e !== "object" || e === null) throw bad(`tensor ${name} is not an object`);
    if (typeof e.dtype !== "string" || !(e.dtype in DTYPE_BYTES)) {
      throw bad(`tensor ${name} has unknown dtype ${String(e.dtype)}`);
    }
    if (e.dtype !== "F32" && e.dtype !== "F16") {
      throw bad(`tensor ${name} is ${e.dtype}; draw.ts reads F32 and F16 tensors only`);
    }
    const dtype: Dtype = e.dtype;
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw bad(`tensor ${name} has an invalid shape ${JSON.stringify(e.shape)}`);
    }
    const off = e.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      throw bad(`tensor ${name} has invalid data_offsets ${JSON.stringify(off)}`);
    }
    const [begin, end] = off as number[];
    if (begin > end || end > bufferLength) {
      throw bad(`tensor ${name} spans bytes ${begin}–${end}, outside the ${bufferLength}-byte buffer`);
    }
    const size = (e.shape as number[]).reduce((a, b) => a * b, 1);
    if (end - begin !== size * DTYPE_BYTES[dtype]) {
      throw bad(`tensor ${name} has ${end - begin} bytes for shape [${e.shape}] of ${dtype}`);
    }
    entries.push([name, { shape: e.shape as number[], begin, end, dtype }]);
  }
  const sorted = [...entries].sort((a, b) => a[1].begin - b[1].begin);
  for (let k = 1; k < sorted.length; k++) {
    if (sorted[k][1].begin < sorted[k - 1][1].end) throw bad(`tensors ${sorted[k - 1][0]} and ${sorted[k][0]} overlap`);
  }
  const tensors = new Map<string, NamedTensor>();
  for (const [name, { shape, begin, end, dtype }] of entries) {
    const raw = bytes.slice(bufferStart + begin, bufferStart + end); // a copy, aligned
    const data = dtype === "F16" ? Float32Array.from(new Float16Array(raw.buffer)) : new Float32Array(raw.buffer);
    tensors.set(name, { shape, data });
  }
  return { tensors, metadata };
}
