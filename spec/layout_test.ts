/**
 * The arena layouts of the T-step programs (src/engine/program/layout.ts): a description carves into buffers of
 * the sizes written, in the order written, none overlapping; absent parts stay absent, places already held
 * allocate nothing, and the same description from the same position gives the same offsets (what a pool's
 * threads rely on to find one another's buffers).
 */
// deno-lint-ignore no-import-prefix -- tests only: kept out of deno.json, whose every entry a first run installs
import fc from "npm:fast-check@3.23.2";
import { Arena } from "../src/engine/fused/wasm.ts";
import { at, carve, type Layout, perStep, stepsAt } from "../src/engine/program/layout.ts";
import { deepEqual, equal, ok } from "./_assert.ts";

const SEED = 20150216; // fast-check's global seed for this file

/** Layout trees of sizes (1–300 floats), absent parts and nested groups (objects and arrays), at most 4 deep. */
const layouts: fc.Arbitrary<Layout> = fc.letrec<{ node: Layout }>((tie) => ({
  node: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.integer({ min: 1, max: 300 }),
    fc.constant(undefined),
    fc.array(tie("node"), { maxLength: 4 }),
    fc.dictionary(fc.stringMatching(/^[a-z][a-zA-Z]{0,5}$/), tie("node"), { maxKeys: 4 }),
  ),
})).node;

/** The leaves of a layout and of its carved tree side by side, depth-first: [size or undefined, offset]. */
function leaves(layout: Layout, carved: unknown, out: [number | undefined, unknown][] = []) {
  if (typeof layout === "number" || layout === undefined) out.push([layout, carved]);
  else if (typeof layout === "object") {
    const entries = Array.isArray(layout) ? layout.map((l, i) => [i, l] as const) : Object.entries(layout);
    for (const [k, l] of entries) leaves(l, (carved as Record<string | number, unknown>)[k], out);
  }
  return out;
}

Deno.test("carve(): every size gets its own buffer, in the order written; absent parts stay absent", () => {
  fc.assert(
    fc.property(layouts, fc.integer({ min: 0, max: 1000 }), (layout, start) => {
      const arena = new Arena(16 * start);
      const from = arena.used, carved = carve(arena, layout);
      let end = from;
      for (const [size, ptr] of leaves(layout, carved)) {
        if (size === undefined) {
          equal(ptr, undefined);
          continue;
        }
        ok(typeof ptr === "number" && ptr >= end, `buffer at ${ptr} starts after the last one's end ${end}`);
        equal(ptr % 16, 0, "16-byte aligned (the kernels' SIMD loads)");
        end = (ptr as number) + 4 * size;
      }
      ok(arena.used >= end, "the arena holds every buffer");
      // the same description from the same position: the same offsets
      deepEqual(carve(new Arena(16 * start), layout), carved);
    }),
    { seed: SEED, numRuns: 200 },
  );
});

Deno.test("carve(): at() and stepsAt() allocate nothing; perStep() gives each step its rows", () => {
  const arena = new Arena(0), before = arena.used;
  const b = carve(arena, { shared: at(4096), rows: stepsAt(8192, 6, 3) });
  equal(arena.used, before, "nothing allocated");
  equal(b.shared, 4096);
  deepEqual([b.rows.at(0), b.rows.at(1), b.rows.at(3)], [8192, 8192 + 24, 8192], "3 slots of 6 floats, taking turns");
  const s = carve(arena, { store: perStep(5, 4, 2) }).store; // 5 rows of 4 floats, 2 slots
  equal(s.at(1) - s.at(0), 4 * 5 * 4);
  equal(s.at(2), s.at(0), "step 2 reuses slot 0");
  ok(arena.used >= s.ptr + 4 * 2 * 5 * 4, "the arena holds both slots");
});
