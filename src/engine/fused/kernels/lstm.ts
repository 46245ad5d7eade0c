// AssemblyScript. The LSTM cell of RNN^enc (Eq 5), RNN^dec (Eq 7) and the classifier, forward and
// backward, for a batch of n. Gate order i, f, o, g in blocks of H: gates [n, 4H].
import { vsigmoid, vtanh } from "./fastmath";
import { ld, st } from "./vector";

/**
 * gates (pre-activations without bias) → i, f, o = σ(· + bias), g = tanh(· + bias), in place;
 * c = f·cPrev + i·g (cPrev = 0: none, the first step) and h = o·tanh(c), [n, H] each.
 */
export function lstmForward(n: i32, H: i32, gates: usize, bias: usize, cPrev: usize, c: usize, h: usize): void {
  const G = 4 * H, hb = <usize> H << 2;
  if ((H & 3) == 0) {
    lstmForward4(n, H, gates, bias, cPrev, c, h);
    return;
  }
  for (let b = 0; b < n; b++) {
    const g = gates + (<usize> (b * G) << 2), row = <usize> (b * H) << 2;
    for (let k = 0; k < H; k += 4) {
      const o = <usize> k << 2;
      const cols = min(4, H - k); // the last block of a row may be partial
      const i4 = vsigmoid(f32x4.add(ld(g + o, cols), ld(bias + o, cols)));
      const f4 = vsigmoid(f32x4.add(ld(g + hb + o, cols), ld(bias + hb + o, cols)));
      const o4 = vsigmoid(f32x4.add(ld(g + 2 * hb + o, cols), ld(bias + 2 * hb + o, cols)));
      const g4 = vtanh(f32x4.add(ld(g + 3 * hb + o, cols), ld(bias + 3 * hb + o, cols)));
      const cp = cPrev == 0 ? f32x4.splat(0) : ld(cPrev + row + o, cols);
      const c4 = f32x4.relaxed_madd(f4, cp, f32x4.mul(i4, g4));
      st(g + o, i4, cols);
      st(g + hb + o, f4, cols);
      st(g + 2 * hb + o, o4, cols);
      st(g + 3 * hb + o, g4, cols);
      st(c + row + o, c4, cols);
      st(h + row + o, f32x4.mul(o4, vtanh(c4)), cols);
    }
  }
}

/** {@link lstmForward} where H is a multiple of 4: whole vectors only. */
function lstmForward4(n: i32, H: i32, gates: usize, bias: usize, cPrev: usize, c: usize, h: usize): void {
  const G = 4 * H, hb = <usize> H << 2;
  for (let b = 0; b < n; b++) {
    const g = gates + (<usize> (b * G) << 2), row = <usize> (b * H) << 2;
    for (let k = 0; k < H; k += 4) {
      const o = <usize> k << 2;
      const i4 = vsigmoid(f32x4.add(v128.load(g + o), v128.load(bias + o)));
      const f4 = vsigmoid(f32x4.add(v128.load(g + hb + o), v128.load(bias + hb + o)));
      const o4 = vsigmoid(f32x4.add(v128.load(g + 2 * hb + o), v128.load(bias + 2 * hb + o)));
      const g4 = vtanh(f32x4.add(v128.load(g + 3 * hb + o), v128.load(bias + 3 * hb + o)));
      const cp = cPrev == 0 ? f32x4.splat(0) : v128.load(cPrev + row + o);
      const c4 = f32x4.relaxed_madd(f4, cp, f32x4.mul(i4, g4));
      v128.store(g + o, i4);
      v128.store(g + hb + o, f4);
      v128.store(g + 2 * hb + o, o4);
      v128.store(g + 3 * hb + o, g4);
      v128.store(c + row + o, c4);
      v128.store(h + row + o, f32x4.mul(o4, vtanh(c4)));
    }
  }
}

/**
 * Backward through one LSTM step: dh is ∂h_t (read); dc carries ∂c_t in and ∂c_{t−1} out;
 * writes the pre-activation gate gradients [n, 4H] into dGates. gates, c and cPrev are the
 * forward pass's (activated gates).
 */
export function lstmBackward(
  n: i32,
  H: i32,
  gates: usize,
  c: usize,
  cPrev: usize,
  dh: usize,
  dc: usize,
  dGates: usize,
): void {
  const G = 4 * H, hb = <usize> H << 2;
  const one = f32x4.splat(1);
  for (let b = 0; b < n; b++) {
    const g = gates + (<usize> (b * G) << 2), dg = dGates + (<usize> (b * G) << 2), row = <usize> (b * H) << 2;
    for (let k = 0; k < H; k += 4) {
      const o = <usize> k << 2;
      const cols = min(4, H - k);
      const i4 = ld(g + o, cols),
        f4 = ld(g + hb + o, cols),
        o4 = ld(g + 2 * hb + o, cols),
        g4 = ld(g + 3 * hb + o, cols);
      const tc = vtanh(ld(c + row + o, cols));
      const dh4 = ld(dh + row + o, cols);
      // ∂c_t = ∂c + ∂h·o·(1 − tanh²c)
      const dc4 = f32x4.add(ld(dc + row + o, cols), f32x4.mul(f32x4.mul(dh4, o4), f32x4.relaxed_nmadd(tc, tc, one)));
      const cp = cPrev == 0 ? f32x4.splat(0) : ld(cPrev + row + o, cols);
      const di = f32x4.mul(f32x4.mul(dc4, g4), f32x4.mul(i4, f32x4.sub(one, i4)));
      const df = f32x4.mul(f32x4.mul(dc4, cp), f32x4.mul(f4, f32x4.sub(one, f4)));
      const dO = f32x4.mul(f32x4.mul(dh4, tc), f32x4.mul(o4, f32x4.sub(one, o4)));
      const dG = f32x4.mul(f32x4.mul(dc4, i4), f32x4.relaxed_nmadd(g4, g4, one));
      st(dg + o, di, cols);
      st(dg + hb + o, df, cols);
      st(dg + 2 * hb + o, dO, cols);
      st(dg + 3 * hb + o, dG, cols);
      st(dc + row + o, f32x4.mul(dc4, f4), cols);
    }
  }
}
