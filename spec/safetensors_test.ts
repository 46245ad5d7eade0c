// deno-lint-ignore no-import-prefix -- tests only: kept out of deno.json, whose every entry a first run installs
import fc from "npm:fast-check@3.23.2";
import {
  decodeSafetensors,
  encodeSafetensors,
  MAX_HEADER_BYTES,
  type NamedTensor,
  storedValues,
  toHalf,
  toInt8,
} from "../src/safetensors.ts";
import { deepEqual, equal, ok, throws } from "./_assert.ts";

const f = Math.fround;

/** Builds a file from a raw header object and buffer length, for hostile cases. */
function rawFile(header: unknown, bufferBytes: number, claimed?: bigint): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + bufferBytes);
  new DataView(out.buffer).setBigUint64(0, claimed ?? BigInt(json.length), true);
  out.set(json, 8);
  return out;
}

Deno.test("encodeSafetensors() and decodeSafetensors() round-trip any float32 tensors and metadata", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.tuple(
          fc.stringMatching(/^[a-z][a-z0-9._]{0,12}$/),
          fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }),
        ),
        { maxLength: 5 },
      ),
      fc.float({ min: f(-1e6), max: f(1e6), noNaN: true }),
      (specs, scale) => {
        const tensors = new Map<string, NamedTensor>();
        for (const [name, shape] of specs) {
          if (name === "__metadata__" || tensors.has(name)) continue;
          const size = shape.reduce((a, b) => a * b, 1);
          tensors.set(name, { shape, data: Float32Array.from({ length: size }, (_, k) => f(scale * (k - 1.5))) });
        }
        const bytes = encodeSafetensors(tensors, { step: "7", note: "ok" });
        const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
        equal((8 + n) % 8, 0, "buffer starts 8-byte aligned");
        const back = decodeSafetensors(bytes, "t");
        deepEqual(back.metadata, { step: "7", note: "ok" });
        deepEqual([...back.tensors.keys()].sort(), [...tensors.keys()].sort());
        for (const [k, t] of tensors) {
          deepEqual(back.tensors.get(k)!.shape, t.shape);
          deepEqual(Array.from(back.tensors.get(k)!.data), Array.from(t.data));
        }
      },
    ),
    { seed: 7, numRuns: 60 },
  );
});

/** A file of one F16 tensor `w` holding the given binary16 bit patterns, after a 2-byte tensor `a` (unaligned). */
function halfFile(bits: number[]): Uint8Array {
  const file = rawFile({
    a: { dtype: "F16", shape: [1], data_offsets: [0, 2] },
    w: { dtype: "F16", shape: [bits.length], data_offsets: [2, 2 + 2 * bits.length] },
  }, 2 + 2 * bits.length);
  const view = new DataView(file.buffer, file.length - 2 * bits.length);
  bits.forEach((b, k) => view.setUint16(2 * k, b, true));
  return file;
}

Deno.test("decodeSafetensors() reads F16 tensors, by hand: sign, exponent, fraction, subnormals", () => {
  // 0x3C00 = +1 · 2^0; 0xC000 = −1 · 2^1; 0x7BFF = (2 − 2^−10) · 2^15 = 65504, the largest;
  // 0x3555 = (1 + 341/1024) · 2^−2 = 0.333251953125; 0x0001 = 2^−24, the smallest subnormal; 0x8000 = −0
  const w = decodeSafetensors(halfFile([0x3c00, 0xc000, 0x7bff, 0x3555, 0x0001, 0x8000]), "half").tensors.get("w")!;
  deepEqual(Array.from(w.data), [1, -2, 65504, 0.333251953125, 2 ** -24, -0]);
});

Deno.test("encodeSafetensors(…, 'F16') stores each value rounded to nearest half, half the bytes, and refuses what half cannot hold", () => {
  fc.assert(
    fc.property(
      fc.array(fc.float({ min: f(-65504), max: f(65504), noNaN: true }), { minLength: 1, maxLength: 40 }),
      (values) => {
        const data = Float32Array.from(values);
        const tensors = new Map([["w", { shape: [data.length], data }]]);
        const half = encodeSafetensors(tensors, { step: "1" }, "F16");
        const back = decodeSafetensors(half, "h");
        deepEqual(back.metadata, { step: "1" });
        deepEqual(Array.from(back.tensors.get("w")!.data), values.map((v) => Math.f16round(v)));
        equal(encodeSafetensors(tensors, { step: "1" }).length - half.length, 2 * data.length, "two bytes a value");
      },
    ),
    { seed: 11, numRuns: 100 },
  );
  // ties to even: 1 + 2^−11 lies halfway between 1 and 1 + 2^−10, and goes to 1
  deepEqual(Array.from(toHalf(Float32Array.of(1 + 2 ** -11, 65519, 2 ** -26), "t")), [1, 65504, 0]);
  throws(
    () => encodeSafetensors(new Map([["big", { shape: [2], data: Float32Array.of(1, 70000) }]]), {}, "F16"),
    /Cannot store big in half precision as big\[1\] is 70000, beyond its ±65504: store it as F32/,
  );
});

Deno.test("encodeSafetensors(…, 'I8') stores matrices in 8 bits, a scale per column, within half a step; vectors as F16", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 9 }),
      fc.integer({ min: 1, max: 9 }),
      fc.array(fc.float({ min: f(-1e4), max: f(1e4), noNaN: true }), { minLength: 81, maxLength: 81 }),
      (rows, cols, values) => {
        const m = Float32Array.from(values.slice(0, rows * cols));
        if (cols > 1) { for (let r = 0; r < rows; r++) m[r * cols] = 0; // column 0 all zeros: scale 0
         }
        const v = Float32Array.from(values.slice(0, 3));
        const tensors = new Map([["v", { shape: [3], data: v }], ["m", { shape: [rows, cols], data: m }]]);
        const bytes = encodeSafetensors(tensors, { step: "2" }, "I8");
        const back = decodeSafetensors(bytes, "q");
        deepEqual([...back.tensors.keys()], ["v", "m"], "the scales are read into the matrix, not returned");
        deepEqual(Array.from(back.tensors.get("v")!.data), Array.from(v, (x) => Math.f16round(x)));
        const got = back.tensors.get("m")!.data, { q, scale } = toInt8(m, [rows, cols], "m");
        deepEqual(Array.from(got), Array.from(storedValues({ shape: [rows, cols], data: m }, "I8", "m")));
        for (let c = 0; c < cols; c++) {
          const column = Array.from({ length: rows }, (_, r) => m[r * cols + c]);
          const largest = Math.max(...column.map(Math.abs));
          equal(scale[c], Math.fround(largest / 127), `column ${c}'s scale`);
          column.forEach((x, r) => {
            // half a step, float32's rounding of q·s, and a column below float32's normal numbers may store zeros
            const within = scale[c] / 2 + Math.abs(x) * 2 ** -23 + 2 ** -126;
            ok(Math.abs(got[r * cols + c] - x) <= within, `m[${r}, ${c}] = ${x}: ${got[r * cols + c]}`);
            ok(Math.abs(q[r * cols + c]) <= 127);
          });
        }
        const f32 = encodeSafetensors(tensors, { step: "2" });
        ok(bytes.length < f32.length - 3 * rows * cols + 4 * cols + 64, "a byte a matrix value, four a column's scale");
      },
    ),
    { seed: 13, numRuns: 100 },
  );
  // by hand: columns (2, −0.5) and (−1, 0.25), scales 2/127 and 1/127; −0.5 is −31.75 steps of 2/127: −32
  const { q, scale } = toInt8(Float32Array.of(2, -1, -0.5, 0.25), [2, 2], "h");
  deepEqual([Array.from(q), Array.from(scale)], [[127, -127, -32, 32], [Math.fround(2 / 127), Math.fround(1 / 127)]]);
  throws(() => toInt8(Float32Array.of(1, NaN), [1, 2], "n"), /Cannot store n as I8 as n\[1\] is NaN/);
});

Deno.test("decodeSafetensors() refuses an I8 tensor without its scales, scales of the wrong shape, or scales of nothing", () => {
  const i8 = (shape: number[], scale?: number[]) =>
    rawFile({
      ...(scale ? { "w:scale": { dtype: "F32", shape: scale, data_offsets: [0, 4 * scale[0]] } } : {}),
      w: { dtype: "I8", shape, data_offsets: [4 * (scale?.[0] ?? 0), 4 * (scale?.[0] ?? 0) + shape[0] * shape[1]] },
    }, 4 * (scale?.[0] ?? 0) + shape[0] * shape[1]);
  equal(decodeSafetensors(i8([2, 2], [2]), "ok").tensors.size, 1);
  throws(() => decodeSafetensors(i8([2, 2]), "bare"), /tensor w is I8 without w:scale, its column scales/);
  throws(() => decodeSafetensors(i8([2, 2], [3]), "shape"), /tensor w:scale has shape \[3\], not \[2\]/);
  throws(
    () => decodeSafetensors(rawFile({ "v:scale": { dtype: "F32", shape: [1], data_offsets: [0, 4] } }, 4), "orphan"),
    /tensor v:scale scales v, which is not an I8 tensor of the file/,
  );
});

Deno.test("decodeSafetensors() refuses hostile or damaged files before allocating", () => {
  const good = encodeSafetensors(new Map([["w", { shape: [2, 2], data: new Float32Array(4) }]]));
  throws(() => decodeSafetensors(good.subarray(0, 5), "tiny"), /shorter than the 8-byte header length/);
  throws(
    () => decodeSafetensors(rawFile({}, 0, 2n ** 62n), "huge"),
    new RegExp(`over the ${MAX_HEADER_BYTES}-byte limit`),
  );
  throws(() => decodeSafetensors(rawFile({}, 0, 4096n), "long"), /header claims 4096 bytes but the file has/);
  throws(
    () => decodeSafetensors(good.subarray(0, good.length - 4), "cut"),
    /spans bytes 0–16, outside the 12-byte buffer/,
  );
  throws(
    () => decodeSafetensors(rawFile({ w: { dtype: "Q4", shape: [1], data_offsets: [0, 4] } }, 4), "dt"),
    /unknown dtype Q4/,
  );
  throws(
    () => decodeSafetensors(rawFile({ w: { dtype: "BF16", shape: [2], data_offsets: [0, 4] } }, 4), "bf16"),
    /is BF16; draw.ts reads F32, F16 and I8 tensors only/,
  );
  throws(
    () => decodeSafetensors(rawFile({ w: { dtype: "F16", shape: [3], data_offsets: [0, 4] } }, 4), "f16"),
    /has 4 bytes for shape \[3\] of F16/,
  );
  throws(
    () => decodeSafetensors(rawFile({ w: { dtype: "F32", shape: [2], data_offsets: [4, 1e15] } }, 8), "off"),
    /outside the 8-byte buffer/,
  );
  throws(
    () => decodeSafetensors(rawFile({ w: { dtype: "F32", shape: [3], data_offsets: [0, 8] } }, 8), "sz"),
    /has 8 bytes for shape \[3\]/,
  );
  throws(
    () => decodeSafetensors(rawFile({ w: { dtype: "F32", shape: [-1], data_offsets: [0, 4] } }, 4), "neg"),
    /invalid shape/,
  );
  throws(
    () =>
      decodeSafetensors(
        rawFile({
          a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
          b: { dtype: "F32", shape: [2], data_offsets: [4, 12] },
        }, 12),
        "ov",
      ),
    /overlap/,
  );
  const notJson = new Uint8Array(16);
  new DataView(notJson.buffer).setBigUint64(0, 8n, true);
  notJson.set(new TextEncoder().encode("{oops!!}"), 8);
  throws(() => decodeSafetensors(notJson, "nj"), /not valid UTF-8 JSON/);
  throws(() => decodeSafetensors(rawFile([1, 2], 0), "arr"), /header is not a JSON object/);
  throws(() => decodeSafetensors(rawFile({ __metadata__: { a: 1 } }, 0), "meta"), /metadata value a is not a string/);
});
