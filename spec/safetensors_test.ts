// deno-lint-ignore no-import-prefix -- tests only: kept out of deno.json, whose every entry a first run installs
import fc from "npm:fast-check@3.23.2";
import { decodeSafetensors, encodeSafetensors, MAX_HEADER_BYTES, type NamedTensor } from "../src/safetensors.ts";
import { deepEqual, equal, throws } from "./_assert.ts";

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
    () => decodeSafetensors(rawFile({ w: { dtype: "F16", shape: [2], data_offsets: [0, 4] } }, 4), "f16"),
    /is F16; draw.ts reads F32 tensors only/,
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
