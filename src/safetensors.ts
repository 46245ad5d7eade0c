/**
 * The safetensors format (https://github.com/huggingface/safetensors): an 8-byte little-endian
 * header length N, N bytes of JSON mapping each tensor name to {dtype, shape, data_offsets}
 * (offsets relative to the byte buffer after the header) plus an optional "__metadata__" map of
 * strings, then the byte buffer. draw.ts reads F32 and F16 tensors (F16 widened to float32 as it reads), and I8
 * matrices each with a float32 scale per column (`<name>:scale`, multiplied back in as it reads). It writes float32 by
 * default, half precision (IEEE binary16) where asked, as shipped models are, or 8-bit matrices beside half-precision
 * vectors (a quarter of float32's bytes: {@link toInt8}).
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

/**
 * How tensors are stored: float32; half precision (IEEE binary16, the shipped models' weights); or I8, every matrix
 * as 8-bit integers with a float32 scale per column ({@link toInt8}) and every other tensor in half precision.
 */
export type Dtype = "F32" | "F16" | "I8";

/** The name of the tensor that holds the column scales of I8 matrix `name`. */
export const scaleName = (name: string): string => `${name}:scale`;

/**
 * A matrix [rows, cols] as 8-bit integers and a scale per column: column c's largest magnitude m_c maps to ±127,
 * each value to round(x / s_c) with s_c = m_c / 127 (ties away from zero), so that x ≈ q·s_c within s_c / 2. A column
 * of zeros has scale 0. Refuses (RangeError) a value that is not finite, naming `name`.
 */
export function toInt8(data: Float32Array, shape: number[], name: string): { q: Int8Array; scale: Float32Array } {
  if (shape.length !== 2) throw new TypeError(`Cannot store ${name} as I8: it is not a matrix (shape [${shape}])`);
  const [rows, cols] = shape;
  const bad = data.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw new RangeError(`Cannot store ${name} as I8 as ${name}[${bad}] is ${data[bad]}`);
  const scale = new Float32Array(cols);
  for (let k = 0; k < data.length; k++) scale[k % cols] = Math.max(scale[k % cols], Math.abs(data[k]));
  for (let c = 0; c < cols; c++) scale[c] = Math.fround(scale[c] / 127);
  const q = new Int8Array(rows * cols);
  for (let k = 0; k < data.length; k++) {
    const s = scale[k % cols];
    q[k] = s === 0 ? 0 : Math.max(-127, Math.min(127, Math.sign(data[k]) * Math.round(Math.abs(data[k]) / s)));
  }
  return { q, scale };
}

/** What `dtype` stores for tensor `t`, read back as float32: the values a model loads from such a file. */
export function storedValues(t: NamedTensor, dtype: Dtype, name: string): Float32Array {
  if (dtype === "F32") return Float32Array.from(t.data);
  if (dtype === "F16" || t.shape.length !== 2) return Float32Array.from(toHalf(t.data, name));
  const { q, scale } = toInt8(t.data, t.shape, name);
  return Float32Array.from(q, (v, k) => v * scale[k % scale.length]);
}

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
 * Serialises tensors and string metadata, every tensor as `dtype` (default F32; F16 rounds each value to nearest,
 * refusing one beyond half precision's range; I8 stores each matrix as {@link toInt8} makes it, `<name>:scale` beside
 * it, and the other tensors as F16). The header lists them in the given order; the buffer holds them widest first.
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
  const stored: [string, Float32Array | Float16Array | Int8Array, number[]][] = [];
  for (const [name, t] of tensors) {
    const size = t.shape.reduce((a, b) => a * b, 1);
    if (size !== t.data.length) {
      throw new TypeError(`Cannot save ${name} as its shape [${t.shape}] holds ${size} values, not ${t.data.length}`);
    }
    if (dtype === "I8" && t.shape.length === 2) {
      const { q, scale } = toInt8(t.data, t.shape, name);
      stored.push([scaleName(name), scale, [t.shape[1]]], [name, q, t.shape]);
    } else stored.push([name, dtype === "F32" ? t.data : toHalf(t.data, name), t.shape]);
  }
  // widest values first, so that every tensor starts aligned to its own width (the buffer starts at a multiple of 8)
  const width = (d: Float32Array | Float16Array | Int8Array) => d.BYTES_PER_ELEMENT;
  stored.sort((a, b) => width(b[1]) - width(a[1]));
  const DTYPES = { 4: "F32", 2: "F16", 1: "I8" } as const;
  let offset = 0;
  for (const [name, data, shape] of stored) {
    const entry = { dtype: DTYPES[width(data) as 4 | 2 | 1], shape, data_offsets: [offset, offset + data.byteLength] };
    offset += data.byteLength;
    header[name] = entry;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - ((8 + new TextEncoder().encode(json).length) % 8)) % 8); // align the buffer to 8
  const head = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + head.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let at = 8 + head.length;
  for (const [, data] of stored) {
    // Little-endian, as the format requires (and as every platform Deno runs on stores it).
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), at);
    at += data.byteLength;
  }
  return out;
}

/**
 * Parses safetensors bytes, validating the header before allocating anything. `what` names the
 * file in errors. F32 and F16 tensors are accepted, F16 widened to float32 (exactly), and I8 tensors with their
 * `<name>:scale` (F32 or F16, a value per column), multiplied back in; the scales are not returned as tensors.
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
    if (e.dtype !== "F32" && e.dtype !== "F16" && e.dtype !== "I8") {
      throw bad(`tensor ${name} is ${e.dtype}; draw.ts reads F32, F16 and I8 tensors only`);
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
  const read = new Map<string, NamedTensor>();
  for (const [name, { shape, begin, end, dtype }] of entries) {
    const raw = bytes.slice(bufferStart + begin, bufferStart + end); // a copy, aligned
    const data = dtype === "F16"
      ? Float32Array.from(new Float16Array(raw.buffer))
      : dtype === "I8"
      ? Float32Array.from(new Int8Array(raw.buffer))
      : new Float32Array(raw.buffer);
    read.set(name, { shape, data });
  }
  const dtypes = new Map(entries.map(([name, e]) => [name, e.dtype]));
  const tensors = new Map<string, NamedTensor>();
  for (const [name, t] of read) {
    if (name.endsWith(":scale")) {
      const of = name.slice(0, -":scale".length);
      if (dtypes.get(of) !== "I8") throw bad(`tensor ${name} scales ${of}, which is not an I8 tensor of the file`);
      if (dtypes.get(name) === "I8") throw bad(`tensor ${name} is I8: a scale is F32 or F16`);
      continue;
    }
    if (dtypes.get(name) === "I8") {
      const s = read.get(scaleName(name));
      if (t.shape.length !== 2) throw bad(`tensor ${name} is I8 but not a matrix (shape [${t.shape}])`);
      if (!s) throw bad(`tensor ${name} is I8 without ${scaleName(name)}, its column scales`);
      if (s.shape.length !== 1 || s.shape[0] !== t.shape[1]) {
        throw bad(
          `tensor ${scaleName(name)} has shape [${s.shape}], not [${t.shape[1]}] (a scale per column of ${name})`,
        );
      }
      const cols = t.shape[1];
      t.data.forEach((v, k) => t.data[k] = v * s.data[k % cols]);
    }
    tensors.set(name, t);
  }
  return { tensors, metadata };
}
