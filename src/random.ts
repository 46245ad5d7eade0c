/**
 * Seeded randomness. Every random draw in draw.ts comes from a {@link Rng} whose whole state is one
 * 32-bit integer, so a run can save it in a checkpoint and resume the same noise stream.
 *
 * @module
 */

/**
 * The ziggurat of Marsaglia & Tsang (2000) for standard normals, 128 strips: for strip i,
 * KN[i] (the share of it under the curve, as a 31-bit integer), WN[i] (its width over 2³¹) and
 * FN[i] (the density at its edge).
 */
const ZIGGURAT = (() => {
  const KN = new Uint32Array(128), WN = new Float64Array(128), FN = new Float64Array(128);
  const m1 = 2147483648, vn = 9.91256303526217e-3;
  let dn = 3.442619855899, tn = dn;
  const q = vn / Math.exp(-0.5 * dn * dn);
  KN[0] = Math.floor((dn / q) * m1);
  KN[1] = 0;
  WN[0] = q / m1;
  WN[127] = dn / m1;
  FN[0] = 1;
  FN[127] = Math.exp(-0.5 * dn * dn);
  for (let i = 126; i >= 1; i--) {
    dn = Math.sqrt(-2 * Math.log(vn / dn + Math.exp(-0.5 * dn * dn)));
    KN[i + 1] = Math.floor((dn / tn) * m1);
    tn = dn;
    FN[i] = Math.exp(-0.5 * dn * dn);
    WN[i] = dn / m1;
  }
  return { KN, WN, FN, R: 3.442619855899 };
})();

/** A small, fast, seedable generator (mulberry32) with Gaussian draws by the ziggurat method. */
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

  /** The next 32 bits of the stream, as a signed integer. */
  next32(): number {
    return mulberry32(this.state = (this.state + 0x6d2b79f5) >>> 0);
  }

  /** A uniform draw in [0, 1). */
  uniform(): number {
    return (this.next32() >>> 0) / 4294967296;
  }

  /** An integer draw in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** One standard normal draw, by the ziggurat (the plain form of {@link fillNormal}'s loop). */
  normal(): number {
    const { KN, WN } = ZIGGURAT;
    const hz = this.next32(), iz = hz & 127;
    return Math.abs(hz) < KN[iz] ? hz * WN[iz] : this.normalTail(hz, iz);
  }

  /**
   * Fills `out` with standard normal draws: {@link normal} n times, the same stream bit for bit
   * (the spec checks), on a local copy of the state: most take one 32-bit integer, a product and a
   * comparison.
   */
  fillNormal(out: Float32Array): Float32Array {
    const { KN, WN } = ZIGGURAT;
    let s = this.state | 0; // the state's 32 bits; next32's steps give the same bits on int32
    for (let i = 0; i < out.length; i++) {
      s = (s + 0x6d2b79f5) | 0;
      const hz = mulberry32(s), iz = hz & 127;
      if (Math.abs(hz) < KN[iz]) {
        out[i] = hz * WN[iz];
      } else {
        this.state = s >>> 0;
        out[i] = this.normalTail(hz, iz);
        s = this.state | 0;
      }
    }
    this.state = s >>> 0;
    return out;
  }

  /** The ziggurat's slow path: a draw outside strip iz's rectangle (the wedge, or the tail past R). */
  normalTail(hz: number, iz: number): number {
    const { KN, WN, FN, R } = ZIGGURAT;
    for (;;) {
      const x = hz * WN[iz];
      if (iz === 0) { // the tail, |z| > R, by Marsaglia's method
        let t: number, y: number;
        do {
          t = -Math.log(1 - this.uniform()) / R;
          y = -Math.log(1 - this.uniform());
        } while (y + y < t * t);
        return hz > 0 ? R + t : -R - t;
      }
      if (FN[iz] + this.uniform() * (FN[iz - 1] - FN[iz]) < Math.exp(-0.5 * x * x)) return x;
      hz = this.next32();
      iz = hz & 127;
      if (Math.abs(hz) < KN[iz]) return hz * WN[iz];
    }
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

/** The ziggurat's tables, for the wasm kernel that draws {@link fillNoise}'s values (src/engine/fused/kernels/noise.ts). */
export function zigguratTables(): { KN: Uint32Array; WN: Float64Array; FN: Float64Array; R: number } {
  return ZIGGURAT;
}

/**
 * DRAW's noise ε by counter: out[j] is standard normal number start + j of stream `seed`, a function
 * of (seed, index) alone, so that each thread of the fused engine draws its own images' share of a
 * batch's noise and gets the values one thread would. Number i is the ziggurat ({@link Rng.normal})
 * on a mulberry32 stream started at murmur3's finaliser of seed ⊕ i·φ: most take its first 32 bits,
 * the wedge and the tail more of the same stream. The kernel `noise` computes the same values bit
 * for bit (integer steps, the same float64 products, and the host's exp and log); the spec checks.
 */
export function fillNoise(seed: number, start: number, out: Float32Array): Float32Array {
  const { KN, WN } = ZIGGURAT;
  let slow: Rng | undefined;
  for (let j = 0; j < out.length; j++) {
    const s = (noiseState(seed, start + j) + 0x6d2b79f5) | 0;
    const hz = mulberry32(s), iz = hz & 127;
    if (Math.abs(hz) < KN[iz]) {
      out[j] = hz * WN[iz];
    } else {
      slow ??= new Rng(0);
      slow.state = s >>> 0;
      out[j] = slow.normalTail(hz, iz);
    }
  }
  return out;
}

/** mulberry32's 32 bits (as a signed integer) for its state s, already advanced. */
function mulberry32(s: number): number {
  let t = Math.imul(s ^ (s >>> 15), s | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return (t ^ (t >>> 14)) | 0;
}

/** Where number i of noise stream `seed` starts its mulberry32 stream: murmur3's fmix32 of seed ⊕ i·φ. */
function noiseState(seed: number, i: number): number {
  let h = seed ^ Math.imul(i, 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}
