/**
 * The threads of a pool that train DRAW together on the step's large products (program/draw.ts).
 *
 * Split by images alone, each of two threads multiplies its 50 rows by a whole LSTM weight at every
 * step, and a CBLAS sgemm repacks all of the weight for each such product: with OpenBLAS here,
 * [50, 520]·[520, 1024] runs at 106 GFLOP/s, [100, 520]·[520, 512] at 122 (both threads at once).
 * So in a team the four products of a step that take an LSTM's weight (the encoder's and the
 * decoder's gates forward, and their inputs' gradients backward) are split by columns instead:
 * every thread multiplies the rows of the whole batch by its own columns of the weight. Everything
 * else stays split by images. The price is a barrier before and after each of those products.
 *
 * The shared block (one per pool, in the arena): control words, then the whole batch's stores of
 * the encoder's and decoder's inputs and gates for every step, [T, batch, ·] (each thread's runner
 * sees its own rows of them as its stores), one step's gradients of both inputs, [batch, ·], and
 * where the encoder's input begins with x (read without attention), x's share of the gates, [batch, G].
 *
 * @module
 */
import type { Allocator } from "./kernels.ts";

/** What a thread's barrier throws when another thread of its team failed (its own error says why). */
export class TeamFailure extends Error {
  override name = "TeamFailure";
}

/** Control words: arrivals at the current barrier, barriers passed, whether a thread failed. */
const WORD = { COUNT: 0, PASSED: 1, FAILED: 2, size: 4 } as const;

/**
 * Checks of the barrier before a waiting thread sleeps in Atomics.wait (about 10 µs here). The
 * partner's work between two barriers is as large as this thread's, so it often arrives within
 * that; where it was descheduled (other processes on the cores), spinning longer would take the
 * core it needs: with another two-thread training beside it, a step took 10% longer with 20,000
 * checks (about 0.1 ms) than with these, and alone the same within the noise.
 */
const SPINS = 2_000;

/** The widths (floats per image) of the shared stores. */
export interface TeamSizes {
  T: number;
  /** The encoder's input, the decoder's input, the gates (4H). */
  E: number;
  Q: number;
  G: number;
  /** Floats at the start of the encoder's input that stay the same over the steps (x, read whole; else 0). */
  X: number;
}

/** Where a team's shared block lies, and one thread's place in the team (what a worker is told). */
export interface TeamPlace {
  /** Byte offset of the shared block (see {@link Team.allocate}). */
  ptr: number;
  /** Images in the whole batch; this thread's first image and how many it has. */
  batch: number;
  first: number;
  n: number;
  /** Threads in the team, and this one's rank (0: the main thread). */
  size: number;
  rank: number;
}

/** Floats of the shared block for `batch` images. */
function blockFloats(batch: number, s: TeamSizes): number {
  return WORD.size + batch * (s.T * (s.E + s.Q + 2 * s.G) + s.E + s.Q + (s.X > 0 ? s.G : 0));
}

/** One thread's view of its team: the shared stores, its columns, the barrier. */
export class Team {
  /** Byte offsets of the whole batch's stores: [T, batch, E], [T, batch, G], [T, batch, Q], [T, batch, G]. */
  readonly encIn: number;
  readonly encG: number;
  readonly decIn: number;
  readonly decG: number;
  /** Byte offsets of one step's input gradients of the whole batch, [batch, E] and [batch, Q]. */
  readonly dEncIn: number;
  readonly dDecIn: number;
  /** Byte offset of x's share of the encoder's gates, [batch, G] (0 where sizes.X is 0). */
  readonly xGates: number;
  private readonly words: Int32Array;

  constructor(arena: Allocator, readonly place: TeamPlace, readonly sizes: TeamSizes) {
    const { ptr, batch } = place, { T, E, Q, G, X } = sizes;
    this.words = arena.i32(ptr, WORD.size);
    let at = ptr + 4 * WORD.size;
    const take = (floats: number) => {
      const p = at;
      at += 4 * floats;
      return p;
    };
    this.encIn = take(T * batch * E);
    this.encG = take(T * batch * G);
    this.decIn = take(T * batch * Q);
    this.decG = take(T * batch * G);
    this.dEncIn = take(batch * E);
    this.dDecIn = take(batch * Q);
    this.xGates = X > 0 ? take(batch * G) : 0;
  }

  /** Allocates the shared block of a team for `batch` images; returns its byte offset. */
  static allocate(arena: Allocator, batch: number, sizes: TeamSizes): number {
    return arena.alloc(blockFloats(batch, sizes));
  }

  /** This thread's columns [c0, c1) of `width`, in whole SIMD vectors (4 floats). */
  columns(width: number): [number, number] {
    const { size, rank } = this.place;
    const chunk = Math.ceil(width / size / 4) * 4;
    return [Math.min(width, rank * chunk), Math.min(width, (rank + 1) * chunk)];
  }

  /** Clears the control words before a pass (the main thread, while no other thread runs). */
  reset(): void {
    Atomics.store(this.words, WORD.COUNT, 0);
    Atomics.store(this.words, WORD.FAILED, 0);
  }

  /**
   * Tells the others this thread failed: their barriers throw instead of waiting for it (the pool
   * calls it when a thread's pass throws, wherever it threw).
   */
  fail(): void {
    Atomics.store(this.words, WORD.FAILED, 1);
    Atomics.add(this.words, WORD.PASSED, 1);
    Atomics.notify(this.words, WORD.PASSED);
  }

  /** Waits until every thread of the team has arrived here; throws if one of them failed. */
  barrier(): void {
    const words = this.words, passed = Atomics.load(words, WORD.PASSED);
    this.check();
    if (Atomics.add(words, WORD.COUNT, 1) === this.place.size - 1) {
      Atomics.store(words, WORD.COUNT, 0);
      Atomics.add(words, WORD.PASSED, 1);
      Atomics.notify(words, WORD.PASSED);
      return;
    }
    for (let i = 0; i < SPINS; i++) if (Atomics.load(words, WORD.PASSED) !== passed) return this.check();
    while (Atomics.load(words, WORD.PASSED) === passed) Atomics.wait(words, WORD.PASSED, passed, 1000);
    this.check();
  }

  private check(): void {
    if (Atomics.load(this.words, WORD.FAILED)) {
      throw new TeamFailure("Cannot go on with the pass: another thread of the fused engine's team failed");
    }
  }
}
