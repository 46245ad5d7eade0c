/**
 * A runner's arena, described as data. A runner writes its buffers down as a tree whose leaves say what each is:
 * a number (that many floats), {@link perStep} (a store of every step's rows), {@link at} (a place the arena
 * already holds: shared weights, a team's rows) or any other {@link Carver} (something that lays itself out, such
 * as the attention struct). {@link carve} allocates the leaves depth-first in the order written and gives back the
 * same tree with byte offsets (or what each carver made) in place of the leaves. The description is the layout:
 * another thread that carves the same one from the same arena position finds the same buffers (the pools rely on
 * it).
 *
 * @example
 * ```ts
 * import { carve, perStep } from "./layout.ts";
 * import type { Allocator } from "./kernels.ts";
 * declare const arena: Allocator;
 * const n = 100, T = 64, H = 256;
 * const b = carve(arena, { x: n * 784, gates: perStep(n, 4 * H, T), absent: undefined });
 * b.gates.at(3); // byte offset of step 3's rows, [n, 4H]
 * ```
 *
 * @module
 */
import type { Allocator } from "./kernels.ts";

/** A leaf that lays itself out on the arena and gives back what it made. */
export type Carver<R = unknown> = (arena: Allocator) => R;

/** A description of buffers: sizes in floats, carvers, absent parts (undefined), and groups of them. */
export type Layout = number | Carver | undefined | readonly Layout[] | { readonly [name: string]: Layout };

/**
 * What {@link carve} gives for a layout: byte offsets for sizes, the carvers' results, the same groups (unknown
 * for a layout typed only as {@link Layout}).
 */
export type Carved<L> = Layout extends L ? unknown
  : L extends number ? number
  : L extends Carver<infer R> ? R
  : L extends undefined ? undefined
  : { -readonly [K in keyof L]: Carved<L[K]> };

/** Allocates a layout's leaves from `arena`, depth-first in the order written. */
export function carve<L extends Layout>(arena: Allocator, layout: L): Carved<L> {
  return carveAny(arena, layout) as Carved<L>;
}

function carveAny(arena: Allocator, layout: Layout): unknown {
  if (layout === undefined) return undefined;
  if (typeof layout === "number") return arena.alloc(layout);
  if (typeof layout === "function") return layout(arena);
  if (Array.isArray(layout)) return layout.map((part) => carveAny(arena, part));
  return Object.fromEntries(Object.entries(layout).map(([name, part]) => [name, carveAny(arena, part)]));
}

/** A place the arena already holds (byte offset `ptr`): nothing is allocated. */
export function at(ptr: number): Carver<number> {
  return () => ptr;
}

/**
 * A per-step store [slots, n, width] in the arena: step t's rows start at {@link at}(t). A training runner keeps
 * every step (slots = T, for the backward pass); a forward-only one two, taking turns (step t reads only t − 1).
 */
export class Steps {
  constructor(readonly ptr: number, private readonly stride: number, private readonly slots: number) {}
  /** Byte offset of step t's first row. */
  at(t: number): number {
    return this.ptr + 4 * (t % this.slots) * this.stride;
  }
}

/** A new per-step store of `n` rows of `width` floats for each of `slots` steps. */
export function perStep(n: number, width: number, slots: number): Carver<Steps> {
  return (arena) => new Steps(arena.alloc(slots * n * width), n * width, slots);
}

/** A per-step store that lies in the arena already, at `ptr` with `stride` floats between steps (a team's rows). */
export function stepsAt(ptr: number, stride: number, slots: number): Carver<Steps> {
  return () => new Steps(ptr, stride, slots);
}

/** Weights (or gradients) by parameter name, as plain arrays (the names and shapes of paramSpecs). */
export type FusedWeights = Record<string, Float32Array>;

/** Where each parameter lies in a flat weight (or gradient) vector. */
export interface WeightOffsets {
  /** Floats in the vector. */
  total: number;
  /** Each parameter's [offset, size] in floats. */
  at: Record<string, [number, number]>;
}

/** Each parameter's [offset, size] in floats within a flat weight vector, and the total. */
export function weightOffsets(specs: { name: string; shape: number[] }[]): WeightOffsets {
  let total = 0;
  const at: Record<string, [number, number]> = {};
  for (const spec of specs) {
    const size = spec.shape.reduce((a, b) => a * b, 1);
    at[spec.name] = [total, size];
    total += size;
  }
  return { total, at };
}
