// deno-lint-ignore no-import-prefix -- tests only: kept out of deno.json, whose every entry a first run installs
import fc from "npm:fast-check@3.23.2";
import * as tf from "../src/tf.ts";
import { attentionWindow, filterbank, filterMeans, readPatch, writePatch } from "../src/attention.ts";
import { assertClose, assertNormClose, ok, throws } from "./_assert.ts";
import { testEveryBackend, values } from "./_backends.ts";
import { refBank, refRead, refWindow, refWrite } from "./_reference.ts";

const SEED = 20150216; // fast-check's global seed for this file
const f = Math.fround;

/** Raw window outputs (g̃X, g̃Y, log σ², log δ̃, log γ), far off the image included. */
const rawWindow = fc.tuple(
  fc.float({ min: f(-30), max: f(30), noNaN: true }),
  fc.float({ min: f(-30), max: f(30), noNaN: true }),
  fc.float({ min: f(-6), max: f(6), noNaN: true }),
  fc.float({ min: f(-4), max: f(3), noNaN: true }),
  fc.float({ min: f(-2), max: f(2), noNaN: true }),
);

testEveryBackend("filterbank() rows are non-negative and sum to 1 for any window, on or off the image", async () => {
  const cases: { raws: number[][]; N: number; A: number; B: number }[] = [];
  fc.assert(
    fc.property(
      fc.array(rawWindow, { minLength: 1, maxLength: 16 }),
      fc.integer({ min: 2, max: 8 }),
      fc.integer({ min: 1, max: 40 }),
      fc.integer({ min: 1, max: 40 }),
      (raws, N, A, B) => {
        cases.push({ raws, N, A, B });
      },
    ),
    { seed: SEED, numRuns: 60 },
  );
  for (const { raws, N, A, B } of cases) {
    const rawT = tf.tensor2d(raws);
    const win = attentionWindow(rawT, N, A, B);
    const { FX, FY } = filterbank(win, N, A, B);
    tf.dispose([rawT, ...Object.values(win)]);
    for (const [F, size] of [[FX, A], [FY, B]] as const) {
      const v = await values(F);
      for (let row = 0; row < v.length / size; row++) {
        let s = 0;
        for (let k = 0; k < size; k++) {
          const e = v[row * size + k];
          ok(e >= 0 && Number.isFinite(e), `entry ${e} of row ${row} is negative or not finite`);
          s += e;
        }
        assertClose(s, 1, { rtol: 0, atol: 1e-5, what: `row ${row} sum (N=${N}, A=${A}, B=${B})` });
      }
    }
  }
});

testEveryBackend("filterMeans() follows Eqs 19–20 on a hand-computed case (grid counted from 1)", async () => {
  // A = 7, B = 4, N = 2; g̃X = 0.5 → gX = (8/2)(1.5) = 6; g̃Y = −0.5 → gY = (5/2)(0.5) = 1.25;
  // δ̃ = 1 → δ = (7 − 1)/(2 − 1) = 6. μX = 6 + (i − 1.5)·6 = 3, 9; μY = 1.25 ∓ 3 = −1.75, 4.25.
  const raw = tf.tensor2d([[0.5, -0.5, 0, 0, 0]]);
  const zero = tf.zeros([1, 5]) as tf.Tensor2D;
  const win = attentionWindow(raw, 2, 7, 4);
  assertClose(await values(filterMeans(win.gX, win.delta, 2)), [3, 9]);
  assertClose(await values(filterMeans(win.gY, win.delta, 2)), [-1.75, 4.25]);
  // A centred window with δ̃ = 1 puts its outer filters on the first and last pixel: 1, 3, 5.
  const c = attentionWindow(zero, 3, 5, 5);
  tf.dispose([raw, zero]);
  assertClose(await values(filterMeans(c.gX, c.delta, 3)), [1, 3, 5]);
  tf.dispose(Object.values(win));
  tf.dispose(Object.values(c));
}, { webgpu: true });

testEveryBackend("filterbank() entries follow Eq 25 on a hand-computed case", async (_b, rtol) => {
  // N = 3 on a 5-wide image, centred, σ² = 1: row 1 has μ = 1, so F[1, a] ∝ exp(−(a − 1)²/2).
  const zero = tf.zeros([1, 5]) as tf.Tensor2D;
  const win = attentionWindow(zero, 3, 5, 5);
  const { FX, FY } = filterbank(win, 3, 5, 5);
  zero.dispose();
  const e = [0, 1, 2, 3, 4].map((d) => Math.exp(-d * d / 2));
  const Z = e.reduce((s, v) => s + v, 0);
  const fx = await values(FX);
  assertClose(fx.slice(0, 5), e.map((v) => v / Z), { rtol, atol: 1e-7, what: "F_X row 1" });
  assertClose(fx.slice(10, 15), e.map((v) => v / Z).reverse(), { rtol, atol: 1e-7, what: "F_X row 3" });
  FY.dispose();
  tf.dispose(Object.values(win));
}, { webgpu: true });

testEveryBackend("filterbank() of a centred window is symmetric", async () => {
  for (const [N, A, B, ls2, ld] of [[4, 9, 7, 0.3, -0.2], [5, 28, 28, 1, 0], [2, 6, 11, -1, 0.5]]) {
    const raw = tf.tensor2d([[0, 0, ls2, ld, 0]]);
    const win = attentionWindow(raw, N, A, B);
    const { FX, FY } = filterbank(win, N, A, B);
    tf.dispose([raw, ...Object.values(win)]);
    for (const [F, size] of [[FX, A], [FY, B]] as const) {
      const v = await values(F);
      for (let i = 0; i < N; i++) {
        for (let a = 0; a < size; a++) {
          assertClose(v[i * size + a], v[(N - 1 - i) * size + (size - 1 - a)], { rtol: 1e-5, atol: 1e-7 });
        }
      }
    }
  }
});

Deno.test("attentionWindow() and filterbank() reject N = 1 (outside Eq 24) with a RangeError", () => {
  const raw = tf.zeros([1, 5]) as tf.Tensor2D;
  throws(() => attentionWindow(raw, 1, 28, 28), RangeError);
  throws(
    () => filterMeans(tf.zeros([1, 1]) as tf.Tensor2D, tf.ones([1, 1]) as tf.Tensor2D, 1),
    /N must be an integer >= 2/,
  );
  throws(() => attentionWindow(tf.zeros([1, 4]) as tf.Tensor2D, 3, 5, 5), TypeError);
  raw.dispose();
});

/** A batch of random windows, images and patches for the read/write tests. */
function randomCase(seed: number, batch: number, N: number, A: number, B: number, C: number) {
  const raw = tf.randomUniform([batch, 5], -1, 1, "float32", seed) as tf.Tensor2D;
  const img = tf.randomUniform([batch, B, C, A], 0, 1, "float32", seed + 1) as tf.Tensor4D;
  const patch = tf.randomNormal([batch, N, C, N], 0, 1, "float32", seed + 2) as tf.Tensor4D;
  return { raw, img, patch };
}

testEveryBackend(
  "readPatch() and writePatch() match the float64 reference (Eqs 27, 29), colour included",
  async (_b, rtol) => {
    for (const [N, A, B, C] of [[3, 7, 5, 1], [2, 6, 6, 3]]) {
      const { raw, img, patch } = randomCase(7, 2, N, A, B, C);
      const win = attentionWindow(raw, N, A, B);
      const bank = filterbank(win, N, A, B);
      const r = await values(readPatch(img, bank, win.gamma));
      const w = await values(writePatch(patch, bank, win.gamma));
      const rawV = await raw.data(), imgV = await img.data(), patchV = await patch.data();
      for (let n = 0; n < 2; n++) {
        const rw = refWindow(rawV.slice(n * 5, n * 5 + 5), N, A, B);
        const D = B * C * A, P = N * C * N;
        assertClose(r.slice(n * P, (n + 1) * P), refRead(imgV.slice(n * D, (n + 1) * D), C, rw, N, A, B), {
          rtol,
          atol: 1e-6,
          what: "read",
        });
        assertClose(w.slice(n * D, (n + 1) * D), refWrite(patchV.slice(n * P, (n + 1) * P), C, rw, N, A, B), {
          rtol,
          atol: 1e-5,
          what: "write",
        });
        const fx = await values(tf.slice(bank.FX, [n, 0, 0], [1, N, A]));
        assertClose(fx, refBank(rw.gX, rw.delta, rw.sigma2, N, A), { rtol, atol: 1e-7, what: "F_X" });
      }
      tf.dispose([raw, img, patch, bank.FX, bank.FY, ...Object.values(win)]);
    }
  },
  { webgpu: true },
);

testEveryBackend("write is read transposed: ⟨read(x), w⟩ = ⟨x, write(w)⟩ with γ = 1, and write is linear", async () => {
  const cases: [number, number, number, number, number][] = [];
  fc.assert(
    fc.property(
      fc.integer({ min: 2, max: 6 }),
      fc.integer({ min: 1, max: 12 }),
      fc.integer({ min: 1, max: 12 }),
      fc.integer({ min: 1, max: 3 }),
      fc.integer({ min: 0, max: 1e6 }),
      (N, A, B, C, seed) => {
        cases.push([N, A, B, C, seed]);
      },
    ),
    { seed: SEED, numRuns: 25 },
  );
  for (const [N, A, B, C, seed] of cases) {
    const [lhs, rhs, lin, sum] = tf.tidy(() => {
      const { raw, img, patch } = randomCase(seed, 3, N, A, B, C);
      const unit = tf.concat([tf.slice(raw, [0, 0], [3, 4]), tf.zeros([3, 1])], 1) as tf.Tensor2D; // log γ = 0
      const win = attentionWindow(unit, N, A, B);
      const bank = filterbank(win, N, A, B);
      const lhs = tf.sum(tf.mul(readPatch(img, bank, win.gamma), patch));
      const rhs = tf.sum(tf.mul(img, writePatch(patch, bank, win.gamma)));
      const other = tf.randomNormal(patch.shape, 0, 1, "float32", seed + 9) as tf.Tensor4D;
      const combo = tf.add(tf.mul(patch, 2.5), tf.mul(other, -0.75)) as tf.Tensor4D;
      const lin = writePatch(combo, bank, win.gamma);
      const sum = tf.add(
        tf.mul(writePatch(patch, bank, win.gamma), 2.5),
        tf.mul(writePatch(other, bank, win.gamma), -0.75),
      );
      return [lhs, rhs, lin, sum];
    });
    const l = (await values(lhs))[0], r = (await values(rhs))[0];
    assertClose(l, r, { rtol: 1e-4, atol: 1e-4, what: `adjoint (N=${N}, A=${A}, B=${B}, C=${C})` });
    assertClose(await values(lin), await values(sum), { rtol: 1e-4, atol: 1e-5, what: "linearity" });
  }
});

/** L(raw, img, patch) = Σ R⊙read + Σ S⊙write, for a gradient check through Eqs 19–29. */
function refAttentionLoss(
  raw: number[],
  img: number[],
  patch: number[],
  R: number[],
  S: number[],
  N: number,
  A: number,
  B: number,
  C: number,
) {
  const win = refWindow(raw, N, A, B);
  const r = refRead(img, C, win, N, A, B);
  const w = refWrite(patch, C, win, N, A, B);
  return r.reduce((s, v, k) => s + v * R[k], 0) + w.reduce((s, v, k) => s + v * S[k], 0);
}

testEveryBackend("attention gradients match central finite differences of the float64 reference", async (_b, rtol) => {
  const [N, A, B, C] = [3, 6, 5, 2];
  const { raw, img, patch } = randomCase(11, 1, N, A, B, C);
  const R = tf.randomNormal([1, N, C, N], 0, 1, "float32", 12) as tf.Tensor4D;
  const S = tf.randomNormal([1, B, C, A], 0, 1, "float32", 13) as tf.Tensor4D;
  const grad = tf.grads((rw: tf.Tensor, im: tf.Tensor, pa: tf.Tensor) => {
    const win = attentionWindow(rw as tf.Tensor2D, N, A, B);
    const bank = filterbank(win, N, A, B);
    return tf.add(
      tf.sum(tf.mul(readPatch(im as tf.Tensor4D, bank, win.gamma), R)),
      tf.sum(tf.mul(writePatch(pa as tf.Tensor4D, bank, win.gamma), S)),
    );
  });
  const [gRaw, gImg, gPatch] = grad([raw, img, patch]);
  const args = [Array.from(await raw.data()), Array.from(await img.data()), Array.from(await patch.data())];
  const Rv = Array.from(await R.data()), Sv = Array.from(await S.data());
  const h = 1e-6;
  const fd = args.map((arg, which) =>
    arg.map((_, k) => {
      const at = (d: number) => {
        const a = args.map((x) => x.slice());
        a[which][k] += d;
        return refAttentionLoss(a[0], a[1], a[2], Rv, Sv, N, A, B, C);
      };
      return (at(h) - at(-h)) / (2 * h);
    })
  );
  assertNormClose(await values(gRaw), fd[0], { rtol: Math.max(rtol, 1e-4) * 10, what: "∂L/∂(window params)" });
  assertNormClose(await values(gImg), fd[1], { rtol: Math.max(rtol, 1e-4) * 10, what: "∂L/∂image" });
  assertNormClose(await values(gPatch), fd[2], { rtol: Math.max(rtol, 1e-4) * 10, what: "∂L/∂patch" });
  tf.dispose([raw, img, patch, R, S]);
}, { webgpu: true });
