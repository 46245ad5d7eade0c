// AssemblyScript. DRAW's noise ε by counter (src/random.ts's fillNoise, the reference): number i of
// stream `seed` is the ziggurat on a mulberry32 stream started at murmur3's fmix32(seed ⊕ i·φ).
// The host's values bit for bit: the same 32-bit integer steps, the same float64 products and
// comparisons, and the host's own e^x and log (imported: the slow paths, about 1.2% of draws).

/** The host's e^x and log (Math.exp and Math.log), imported as noise.hostExp and noise.hostLog. */
declare function hostExp(x: f64): f64;
declare function hostLog(x: f64): f64;

/** Byte offsets of the ziggurat's tables (random.ts's KN, WN, FN and R) in the block the host writes. */
const KN = 0, WN = 512, FN = 1536, R = 2560;

/** Floats of the tables' block. */
export function noiseTablesSize(): i32 {
  return (R + 8) >> 2;
}

/** mulberry32's 32 bits for state s (already advanced). */
function bits(s: u32): i32 {
  let t: u32 = (s ^ (s >>> 15)) * (s | 1);
  t ^= t + (t ^ (t >>> 7)) * (t | 61);
  return <i32> (t ^ (t >>> 14));
}

/** Lane k (0–3) of v. */
function lane(v: v128, k: i32): i32 {
  if (k == 0) return i32x4.extract_lane(v, 0);
  if (k == 1) return i32x4.extract_lane(v, 1);
  return k == 2 ? i32x4.extract_lane(v, 2) : i32x4.extract_lane(v, 3);
}

/** A uniform draw in [0, 1) from state s (already advanced), as Rng.uniform. */
function uniform(s: u32): f64 {
  return <f64> <u32> bits(s) / 4294967296.0;
}

/**
 * out[j] = standard normal number start + j of stream seed (as float32), j < count: four at a time
 * (the hashes and mulberry32 on i32x4 lanes, the products on f64x2), the slow paths lane by lane.
 */
export function noise(seed: u32, start: i32, count: i32, out: usize, tables: usize): void {
  const lanes = i32x4(0, 1, 2, 3), sv = i32x4.splat(seed);
  let j = 0;
  for (; j + 4 <= count; j += 4) {
    let h = v128.xor(sv, i32x4.mul(i32x4.add(i32x4.splat(start + j), lanes), i32x4.splat(0x9e3779b1)));
    h = i32x4.mul(v128.xor(h, i32x4.shr_u(h, 16)), i32x4.splat(0x85ebca6b));
    h = i32x4.mul(v128.xor(h, i32x4.shr_u(h, 13)), i32x4.splat(0xc2b2ae35));
    const s = i32x4.add(v128.xor(h, i32x4.shr_u(h, 16)), i32x4.splat(0x6d2b79f5));
    let t = i32x4.mul(v128.xor(s, i32x4.shr_u(s, 15)), v128.or(s, i32x4.splat(1)));
    t = v128.xor(t, i32x4.add(t, i32x4.mul(v128.xor(t, i32x4.shr_u(t, 7)), v128.or(t, i32x4.splat(61)))));
    const hz = v128.xor(t, i32x4.shr_u(t, 14));
    const i0 = <usize> (i32x4.extract_lane(hz, 0) & 127), i1 = <usize> (i32x4.extract_lane(hz, 1) & 127);
    const i2 = <usize> (i32x4.extract_lane(hz, 2) & 127), i3 = <usize> (i32x4.extract_lane(hz, 3) & 127);
    let kn = i32x4.splat(load<i32>(tables + KN + (i0 << 2)));
    kn = i32x4.replace_lane(kn, 1, load<i32>(tables + KN + (i1 << 2)));
    kn = i32x4.replace_lane(kn, 2, load<i32>(tables + KN + (i2 << 2)));
    kn = i32x4.replace_lane(kn, 3, load<i32>(tables + KN + (i3 << 2)));
    // |hz| < KN[iz] as unsigned 32-bit integers: exactly the host's float64 comparison (|−2³¹| = 2³¹ fails both)
    const fast = i32x4.bitmask(i32x4.lt_u(i32x4.abs(hz), kn));
    const w01 = f64x2.replace_lane(
      f64x2.splat(load<f64>(tables + WN + (i0 << 3))),
      1,
      load<f64>(tables + WN + (i1 << 3)),
    );
    const w23 = f64x2.replace_lane(
      f64x2.splat(load<f64>(tables + WN + (i2 << 3))),
      1,
      load<f64>(tables + WN + (i3 << 3)),
    );
    const lo = f32x4.demote_f64x2_zero(f64x2.mul(f64x2.convert_low_i32x4_s(hz), w01));
    const hi = f32x4.demote_f64x2_zero(f64x2.mul(f64x2.convert_low_i32x4_s(i32x4.shuffle(hz, hz, 2, 3, 0, 1)), w23));
    const o = out + (<usize> j << 2);
    v128.store(o, i32x4.shuffle(lo, hi, 0, 1, 4, 5));
    if (fast != 15) {
      for (let k = 0; k < 4; k++) {
        if ((fast >> k) & 1) continue;
        const z = lane(hz, k);
        store<f32>(o + (<usize> k << 2), <f32> tail(<u32> lane(s, k), z, z & 127, tables));
      }
    }
  }
  for (; j < count; j++) {
    let h: u32 = seed ^ (<u32> (start + j) * 0x9e3779b1);
    h = (h ^ (h >>> 16)) * 0x85ebca6b;
    h = (h ^ (h >>> 13)) * 0xc2b2ae35;
    const s: u32 = (h ^ (h >>> 16)) + 0x6d2b79f5;
    const hz = bits(s), iz = hz & 127;
    const v = abs(<f64> hz) < <f64> load<u32>(tables + KN + (<usize> iz << 2))
      ? <f64> hz * load<f64>(tables + WN + (<usize> iz << 3))
      : tail(s, hz, iz, tables);
    store<f32>(out + (<usize> j << 2), <f32> v);
  }
}

/** The ziggurat's slow path (Rng.normalTail) on the stream at state s: the wedge, or the tail past R. */
function tail(s: u32, hz: i32, iz: i32, tables: usize): f64 {
  const r = load<f64>(tables + R);
  while (true) {
    const x = <f64> hz * load<f64>(tables + WN + (<usize> iz << 3));
    if (iz == 0) { // the tail, |z| > R, by Marsaglia's method
      let t: f64, y: f64;
      do {
        s += 0x6d2b79f5;
        t = -hostLog(1 - uniform(s)) / r;
        s += 0x6d2b79f5;
        y = -hostLog(1 - uniform(s));
      } while (y + y < t * t);
      return hz > 0 ? r + t : -r - t;
    }
    s += 0x6d2b79f5;
    const fi = load<f64>(tables + FN + (<usize> iz << 3)), fp = load<f64>(tables + FN + (<usize> (iz - 1) << 3));
    if (fi + uniform(s) * (fp - fi) < hostExp(-0.5 * x * x)) return x;
    s += 0x6d2b79f5;
    hz = bits(s);
    iz = hz & 127;
    if (abs(<f64> hz) < <f64> load<u32>(tables + KN + (<usize> iz << 2))) {
      return <f64> hz * load<f64>(tables + WN + (<usize> iz << 3));
    }
  }
  return 0; // not reached: the loop returns
}
