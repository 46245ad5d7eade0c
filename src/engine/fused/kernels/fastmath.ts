// AssemblyScript. Vectorised e^x, σ(x) and tanh(x) on four lanes, for the LSTM cells and the
// filterbanks. About 1e-7 relative error for e^x (Cephes' single-precision polynomial), 2e-7
// absolute for σ, 3e-7 for tanh (Eigen's rational form); the spec checks the bounds against
// Math.exp and Math.tanh.

/**
 * e^x for each lane: 2^n·e^r with n = round(x·log₂e), |r| ≤ ln2/2, e^r by a degree-6 polynomial.
 * n is rounded by adding 1.5·2²³ (the float's low bits then hold n), and the clamps are pmin/pmax
 * (one instruction each; a NaN in x stays NaN), so no lane conversions are needed.
 */
export function vexp(x: v128): v128 {
  x = f32x4.pmin(f32x4.pmax(x, f32x4.splat(-87.3)), f32x4.splat(88.3)); // e^x stays a normal float
  const magic = f32x4.splat(12582912.0); // 1.5·2²³
  const t = f32x4.relaxed_madd(x, f32x4.splat(1.44269504), magic);
  const n = f32x4.sub(t, magic); // round(x·log₂e), exactly
  // r = x − n·ln2, with ln2 split in two so that n·ln2_hi is exact
  let r = f32x4.relaxed_nmadd(n, f32x4.splat(0.693359375), x);
  r = f32x4.relaxed_nmadd(n, f32x4.splat(-2.12194440e-4), r);
  let p = f32x4.splat(1.9875691500e-4);
  p = f32x4.relaxed_madd(p, r, f32x4.splat(1.3981999507e-3));
  p = f32x4.relaxed_madd(p, r, f32x4.splat(8.3334519073e-3));
  p = f32x4.relaxed_madd(p, r, f32x4.splat(4.1665795894e-2));
  p = f32x4.relaxed_madd(p, r, f32x4.splat(1.6666665459e-1));
  p = f32x4.relaxed_madd(p, r, f32x4.splat(5.0000001201e-1));
  p = f32x4.relaxed_madd(f32x4.mul(p, r), r, f32x4.add(r, f32x4.splat(1)));
  // 2^n from the exponent bits: t's low bits hold n + 0x400000 (two's complement)
  const pow2 = i32x4.shl(i32x4.sub(t, i32x4.splat(0x4b400000 - 127)), 23);
  return f32x4.mul(p, pow2);
}

/** σ(x) = 1 / (1 + e^{−x}) for each lane. */
export function vsigmoid(x: v128): v128 {
  const one = f32x4.splat(1);
  return f32x4.div(one, f32x4.add(one, vexp(f32x4.neg(x))));
}

/**
 * tanh(x) for each lane: x·P(x²)/Q(x²), Eigen's rational approximation (degrees 13 over 6), on x
 * clamped to ±9 (where it rounds to ±1) and the result kept within ±1. No e^x: half the time of
 * sign(x)·(1 − e^{−2|x|})/(1 + e^{−2|x|}), within 3e-7 of tanh. NaN stays NaN (pmin/pmax).
 */
export function vtanh(x: v128): v128 {
  const one = f32x4.splat(1), top = f32x4.splat(9);
  x = f32x4.pmin(f32x4.pmax(x, f32x4.neg(top)), top);
  const x2 = f32x4.mul(x, x);
  let p = f32x4.splat(-2.76076847742355e-16);
  p = f32x4.relaxed_madd(x2, p, f32x4.splat(2.00018790482477e-13));
  p = f32x4.relaxed_madd(x2, p, f32x4.splat(-8.60467152213735e-11));
  p = f32x4.relaxed_madd(x2, p, f32x4.splat(5.12229709037114e-8));
  p = f32x4.relaxed_madd(x2, p, f32x4.splat(1.48572235717979e-5));
  p = f32x4.relaxed_madd(x2, p, f32x4.splat(6.37261928875436e-4));
  p = f32x4.relaxed_madd(x2, p, f32x4.splat(4.89352455891786e-3));
  let q = f32x4.splat(1.19825839466702e-6);
  q = f32x4.relaxed_madd(x2, q, f32x4.splat(1.18534705686654e-4));
  q = f32x4.relaxed_madd(x2, q, f32x4.splat(2.2684346324390e-3));
  q = f32x4.relaxed_madd(x2, q, f32x4.splat(4.89352518554385e-3));
  const t = f32x4.div(f32x4.mul(x, p), q);
  return f32x4.pmin(f32x4.pmax(t, f32x4.neg(one)), one);
}

/** Σ of the four lanes. */
export function hsum(v: v128): f32 {
  const s = f32x4.add(v, i32x4.shuffle(v, v, 2, 3, 0, 1));
  return f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1);
}

/** e^x for one value, through the vector routine (the same rounding as the vector lanes). */
export function expf(x: f32): f32 {
  return f32x4.extract_lane(vexp(f32x4.splat(x)), 0);
}

/** σ(x) for one value. */
export function sigmoidf(x: f32): f32 {
  return f32x4.extract_lane(vsigmoid(f32x4.splat(x)), 0);
}

/** tanh(x) for one value. */
export function tanhf(x: f32): f32 {
  return f32x4.extract_lane(vtanh(f32x4.splat(x)), 0);
}

/** dst[k] = σ(src[k]) for k < len (dst may be src). */
export function sigmoidInto(src: usize, dst: usize, len: i32): void {
  let k = 0;
  for (; k + 4 <= len; k += 4) v128.store(dst + (<usize> k << 2), vsigmoid(v128.load(src + (<usize> k << 2))));
  for (; k < len; k++) store<f32>(dst + (<usize> k << 2), sigmoidf(load<f32>(src + (<usize> k << 2))));
}

/** dst[k] = e^{src[k]} for k < len (for the spec). */
export function expInto(src: usize, dst: usize, len: i32): void {
  let k = 0;
  for (; k + 4 <= len; k += 4) v128.store(dst + (<usize> k << 2), vexp(v128.load(src + (<usize> k << 2))));
  for (; k < len; k++) store<f32>(dst + (<usize> k << 2), expf(load<f32>(src + (<usize> k << 2))));
}

/** dst[k] = tanh(src[k]) for k < len (for the spec). */
export function tanhInto(src: usize, dst: usize, len: i32): void {
  let k = 0;
  for (; k + 4 <= len; k += 4) v128.store(dst + (<usize> k << 2), vtanh(v128.load(src + (<usize> k << 2))));
  for (; k < len; k++) store<f32>(dst + (<usize> k << 2), tanhf(load<f32>(src + (<usize> k << 2))));
}
