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

/** A uniform draw in [0, 1) from state s (already advanced), as Rng.uniform. */
function uniform(s: u32): f64 {
  return <f64> <u32> bits(s) / 4294967296.0;
}

/** out[j] = standard normal number start + j of stream seed (as float32), j < count. */
export function noise(seed: u32, start: i32, count: i32, out: usize, tables: usize): void {
  for (let j = 0; j < count; j++) {
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
