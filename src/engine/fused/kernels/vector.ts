// AssemblyScript. Small vector loops shared by the kernels: y += a·x, x·y, column sums, row copies.
import { hsum } from "./fastmath";

/** y[k] += a·x[k] for k < len. */
export function axpy(a: f32, x: usize, y: usize, len: i32): void {
  const av = f32x4.splat(a);
  let k = 0;
  for (; k + 4 <= len; k += 4) {
    const o = <usize> k << 2;
    v128.store(y + o, f32x4.relaxed_madd(av, v128.load(x + o), v128.load(y + o)));
  }
  for (; k < len; k++) {
    const o = <usize> k << 2;
    store<f32>(y + o, load<f32>(y + o) + a * load<f32>(x + o));
  }
}

/** Σ_k x[k]·y[k] for k < len. */
export function dot(x: usize, y: usize, len: i32): f32 {
  let acc = f32x4.splat(0);
  let k = 0;
  for (; k + 4 <= len; k += 4) {
    const o = <usize> k << 2;
    acc = f32x4.relaxed_madd(v128.load(x + o), v128.load(y + o), acc);
  }
  let s = hsum(acc);
  for (; k < len; k++) s += load<f32>(x + (<usize> k << 2)) * load<f32>(y + (<usize> k << 2));
  return s;
}

/** into[k] += Σ_r m[r, k] for the rows × cols matrix m (bias gradients). */
export function addColumnSums(m: usize, rows: i32, cols: i32, into: usize): void {
  for (let r = 0; r < rows; r++) axpy(1, m + (<usize> (r * cols) << 2), into, cols);
}

/** dst row r (stride dstStride floats) = src row r (stride srcStride; 0 repeats one row), cols floats each. */
export function copyRows(dst: usize, dstStride: i32, src: usize, srcStride: i32, rows: i32, cols: i32): void {
  for (let r = 0; r < rows; r++) {
    memory.copy(dst + (<usize> (r * dstStride) << 2), src + (<usize> (r * srcStride) << 2), <usize> cols << 2);
  }
}

/** y[k] += x[k] for k < len (the pool's gradient sum). */
export function addInto(x: usize, y: usize, len: i32): void {
  axpy(1, x, y, len);
}

/** The first `cols` (1–4) floats at p as a vector (zeros past them). */
export function ld(p: usize, cols: i32): v128 {
  if (cols == 4) return v128.load(p);
  let v = f32x4.splat(0);
  v = f32x4.replace_lane(v, 0, load<f32>(p));
  if (cols > 1) v = f32x4.replace_lane(v, 1, load<f32>(p, 4));
  if (cols > 2) v = f32x4.replace_lane(v, 2, load<f32>(p, 8));
  return v;
}

/** Stores the first `cols` (1–4) lanes of v at p. */
export function st(p: usize, v: v128, cols: i32): void {
  if (cols == 4) {
    v128.store(p, v);
    return;
  }
  store<f32>(p, f32x4.extract_lane(v, 0));
  if (cols > 1) store<f32>(p, f32x4.extract_lane(v, 1), 4);
  if (cols > 2) store<f32>(p, f32x4.extract_lane(v, 2), 8);
}

/** dst row r += src row r (row strides in floats), cols floats each (Eq 18's canvas update, ∂h sums). */
export function addRows(dst: usize, dstStride: i32, src: usize, srcStride: i32, rows: i32, cols: i32): void {
  for (let r = 0; r < rows; r++) {
    axpy(1, src + (<usize> (r * srcStride) << 2), dst + (<usize> (r * dstStride) << 2), cols);
  }
}

/** x[k] = 0 for k < len (a pass's accumulators, cleared inside the pass). */
export function zero(x: usize, len: i32): void {
  memory.fill(x, 0, <usize> len << 2);
}
