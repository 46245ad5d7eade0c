/**
 * Seeded randomness. Every random draw in draw.ts comes from a {@link Rng} whose whole state is one
 * 32-bit integer, so a run can save it in a checkpoint and resume the same noise stream.
 *
 * @module
 */

/** A small, fast, seedable generator (mulberry32) with Gaussian draws by Marsaglia's polar method. */
export class Rng {
  /** The generator state; save it to resume the same stream. */
  state: number;

  /** Starts a stream from an integer seed. */
  constructor(seed: number) {
    if (!Number.isFinite(seed)) {
      throw new TypeError(`Cannot seed Rng as seed must be a finite number: current value is ${seed}`);
    }
    this.state = seed >>> 0;
  }

  /** A uniform draw in [0, 1). */
  uniform(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer draw in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Fills `out` with standard normal draws. */
  fillNormal(out: Float32Array): Float32Array {
    for (let i = 0; i < out.length; i += 2) {
      // Marsaglia's polar method: a point uniform in the unit disc, (u, v) with s = u² + v² < 1,
      // gives two independent normals u·f and v·f, f = √(−2 ln s / s); one log and no sin or cos
      // (the noise of a training step is T·batch·z draws: this halves their cost against Box–Muller)
      let u: number, v: number, s: number;
      do {
        u = 2 * this.uniform() - 1;
        v = 2 * this.uniform() - 1;
        s = u * u + v * v;
      } while (s >= 1 || s === 0);
      const f = Math.sqrt((-2 * Math.log(s)) / s);
      out[i] = u * f;
      if (i + 1 < out.length) out[i + 1] = v * f;
    }
    return out;
  }

  /** Shuffles `items` in place (Fisher–Yates) and returns it. */
  shuffle<T>(items: T[] | Int32Array | Uint32Array): typeof items {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = items[i];
      items[i] = items[j];
      items[j] = tmp;
    }
    return items;
  }
}
