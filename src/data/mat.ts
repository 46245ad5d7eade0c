/**
 * MATLAB Level 5 MAT-files (the format of SVHN's `*_32x32.mat`), numeric arrays only: a 128-byte
 * header, then data elements, each possibly zlib-compressed (miCOMPRESSED). Arrays are stored
 * column-major (first index fastest). Written from the published MAT-File Format description.
 *
 * @module
 */
import { concatBytes, DataError } from "./files.ts";

/** A numeric MATLAB array: its dimensions and values in column-major order. */
export interface MatArray {
  /** MATLAB dimensions, e.g. [32, 32, 3, n]. */
  dims: number[];
  /** MATLAB class name: "uint8", "double", ... */
  className: string;
  /** The values; uint8 arrays stay bytes, every other class becomes Float64Array. */
  data: Uint8Array | Float64Array;
}

const MI = {
  INT8: 1,
  UINT8: 2,
  INT16: 3,
  UINT16: 4,
  INT32: 5,
  UINT32: 6,
  SINGLE: 7,
  DOUBLE: 9,
  INT64: 12,
  UINT64: 13,
  MATRIX: 14,
  COMPRESSED: 15,
} as const;

/** Bytes per value of each numeric storage type. */
const WIDTH: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 2, 5: 4, 6: 4, 7: 4, 9: 8, 12: 8, 13: 8 };

/** MATLAB array classes (mxCLASS) by number. */
const CLASSES: Record<number, string> = {
  1: "cell",
  2: "struct",
  3: "object",
  4: "char",
  5: "sparse",
  6: "double",
  7: "single",
  8: "int8",
  9: "uint8",
  10: "int16",
  11: "uint16",
  12: "int32",
  13: "uint32",
  14: "int64",
  15: "uint64",
};

async function inflate(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

async function deflate(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new CompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

interface Element {
  type: number;
  data: Uint8Array;
  next: number;
}

/** Reads one data element's tag (full or small format) at `at`. */
function element(buf: Uint8Array, at: number, little: boolean, what: string): Element {
  if (at + 8 > buf.length) throw new DataError(`Cannot read ${what} as a data element at byte ${at} is truncated`);
  const view = new DataView(buf.buffer, buf.byteOffset + at, 8);
  const first = view.getUint32(0, little);
  if (first >>> 16 !== 0) { // small data element: type and size in 4 bytes, data in the next 4
    const size = first >>> 16;
    if (size > 4) throw new DataError(`Cannot read ${what} as a small data element at byte ${at} claims ${size} bytes`);
    return { type: first & 0xffff, data: buf.subarray(at + 4, at + 4 + size), next: at + 8 };
  }
  const size = view.getUint32(4, little);
  if (at + 8 + size > buf.length) {
    throw new DataError(
      `Cannot read ${what} as the data element at byte ${at} needs ${size} bytes and the file ends first (truncated?)`,
    );
  }
  const pad = first === MI.COMPRESSED ? 0 : (8 - (size % 8)) % 8;
  return { type: first, data: buf.subarray(at + 8, at + 8 + size), next: Math.min(buf.length, at + 8 + size + pad) };
}

function numbers(e: Element, little: boolean, what: string): Float64Array | Uint8Array {
  const width = WIDTH[e.type];
  if (!width) throw new DataError(`Cannot read ${what} as it holds data of unsupported MAT type ${e.type}`);
  if (e.type === MI.UINT8) return e.data;
  const n = e.data.length / width, out = new Float64Array(n);
  const v = new DataView(e.data.buffer, e.data.byteOffset, e.data.length);
  for (let i = 0; i < n; i++) {
    const o = i * width;
    switch (e.type) {
      case MI.INT8:
        out[i] = v.getInt8(o);
        break;
      case MI.INT16:
        out[i] = v.getInt16(o, little);
        break;
      case MI.UINT16:
        out[i] = v.getUint16(o, little);
        break;
      case MI.INT32:
        out[i] = v.getInt32(o, little);
        break;
      case MI.UINT32:
        out[i] = v.getUint32(o, little);
        break;
      case MI.SINGLE:
        out[i] = v.getFloat32(o, little);
        break;
      case MI.DOUBLE:
        out[i] = v.getFloat64(o, little);
        break;
      case MI.INT64:
        out[i] = Number(v.getBigInt64(o, little));
        break;
      case MI.UINT64:
        out[i] = Number(v.getBigUint64(o, little));
        break;
    }
  }
  return out;
}

/** Parses an miMATRIX element; returns undefined for classes other than numeric ones. */
function matrix(e: Element, little: boolean, what: string): [string, MatArray] | undefined {
  const buf = e.data;
  const flags = element(buf, 0, little, what);
  const dimsEl = element(buf, flags.next, little, what);
  const nameEl = element(buf, dimsEl.next, little, what);
  const name = new TextDecoder().decode(nameEl.data);
  const flagWord = new DataView(flags.data.buffer, flags.data.byteOffset, 4).getUint32(0, little);
  const className = CLASSES[flagWord & 0xff] ?? `class ${flagWord & 0xff}`;
  if (
    !["double", "single", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64"].includes(className)
  ) {
    return undefined;
  }
  if (flagWord & 0x0800) throw new DataError(`Cannot read ${what} as variable ${name} is complex`);
  const dims = Array.from(numbers(dimsEl, little, what));
  const real = element(buf, nameEl.next, little, what);
  let data = numbers(real, little, what);
  if (className === "uint8" && !(data instanceof Uint8Array)) data = Uint8Array.from(data);
  const count = dims.reduce((a, b) => a * b, 1);
  if (data.length !== count) {
    throw new DataError(`Cannot read ${what} as variable ${name} is [${dims}] but holds ${data.length} values`);
  }
  return [name, { dims, className, data }];
}

/**
 * The numeric variables of a Level 5 MAT-file, by name (cells, structs and text are skipped).
 * Throws a DataError naming `what` for anything else: a v7.3 (HDF5) file, a bad header, a
 * truncated element.
 */
export async function readMat(bytes: Uint8Array, what: string): Promise<Map<string, MatArray>> {
  const fix = "get a good copy (see README: Data)";
  if (bytes.length >= 8 && bytes[0] === 0x89 && String.fromCharCode(...bytes.subarray(1, 4)) === "HDF") {
    throw new DataError(`Cannot read ${what} as it is a MATLAB v7.3 (HDF5) file, not Level 5: ${fix}`);
  }
  const head = new TextDecoder().decode(bytes.subarray(0, 10));
  if (bytes.length < 128 || head !== "MATLAB 5.0") {
    throw new DataError(`Cannot read ${what} as it is not a MATLAB Level 5 MAT-file (no "MATLAB 5.0" header): ${fix}`);
  }
  const endian = String.fromCharCode(bytes[126], bytes[127]);
  if (endian !== "IM" && endian !== "MI") {
    throw new DataError(`Cannot read ${what} as its endian indicator is "${endian}"`);
  }
  const little = endian === "IM";
  const out = new Map<string, MatArray>();
  for (let at = 128; at < bytes.length;) {
    const e = element(bytes, at, little, what);
    let m = e;
    if (e.type === MI.COMPRESSED) {
      let inflated: Uint8Array;
      try {
        inflated = await inflate(e.data);
      } catch (err) {
        throw new DataError(
          `Cannot read ${what} as a compressed element at byte ${at} is corrupt (${(err as Error).message}): ${fix}`,
        );
      }
      m = element(inflated, 0, little, what);
    }
    if (m.type === MI.MATRIX) {
      const v = matrix(m, little, what);
      if (v) out.set(v[0], v[1]);
    }
    at = e.next;
  }
  return out;
}

function tagged(type: number, data: Uint8Array): Uint8Array {
  const pad = (8 - (data.length % 8)) % 8;
  const out = new Uint8Array(8 + data.length + pad);
  const v = new DataView(out.buffer);
  v.setUint32(0, type, true);
  v.setUint32(4, data.length, true);
  out.set(data, 8);
  return out;
}

/**
 * Writes numeric arrays (uint8 or double, column-major values) as a little-endian Level 5
 * MAT-file, each variable zlib-compressed as MATLAB does for `save -v7`. For fixtures.
 */
export async function writeMat(vars: Record<string, MatArray>): Promise<Uint8Array> {
  const header = new Uint8Array(128).fill(32);
  header.set(new TextEncoder().encode("MATLAB 5.0 MAT-file, written by draw.ts fixtures"));
  header.fill(0, 116, 124); // no subsystem data
  header[124] = 0x00;
  header[125] = 0x01; // version 0x0100
  header[126] = "I".charCodeAt(0);
  header[127] = "M".charCodeAt(0);
  const parts: Uint8Array[] = [header];
  for (const [name, a] of Object.entries(vars)) {
    const cls = a.className === "uint8" ? 9 : 6;
    const flags = new Uint8Array(8);
    new DataView(flags.buffer).setUint32(0, cls, true);
    const dims = new Uint8Array(4 * a.dims.length);
    a.dims.forEach((d, i) => new DataView(dims.buffer).setInt32(4 * i, d, true));
    const values = a.className === "uint8" ? Uint8Array.from(a.data) : new Uint8Array(Float64Array.from(a.data).buffer);
    const body = concatBytes([
      tagged(MI.UINT32, flags),
      tagged(MI.INT32, dims),
      tagged(MI.INT8, new TextEncoder().encode(name)),
      tagged(a.className === "uint8" ? MI.UINT8 : MI.DOUBLE, values),
    ]);
    const z = await deflate(tagged(MI.MATRIX, body));
    const tag = new Uint8Array(8);
    new DataView(tag.buffer).setUint32(0, MI.COMPRESSED, true);
    new DataView(tag.buffer).setUint32(4, z.length, true);
    parts.push(tag, z);
  }
  return concatBytes(parts);
}
