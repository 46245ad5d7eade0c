/**
 * The wasm SIMD kernels (src/engine/fused/kernels/) one by one against independent references: the products
 * against a float64 product (every transpose case, packed and not, odd sizes that are not
 * multiples of the 4-lane vectors or the 8-column panels), the fast math against Math, the LSTM
 * cell against tfjs's autodiff, and the attention kernels against the tfjs composition of
 * attention.ts at every Table 3 size (values and gradients), the noise against random.ts's
 * fillNoise (bit for bit). The products also run through a CBLAS library on the same memory where
 * one is found.
 */
// deno-lint-ignore no-import-prefix -- tests only: kept out of deno.json, whose every entry a first run installs
import fc from "npm:fast-check@3.23.2";
import * as tf from "../src/tf.ts";
import { selectBackend } from "../src/backend.ts";
import { attentionWindow, filterbank, readPatch, writePatch } from "../src/attention.ts";
import { AttentionKernels } from "../src/engine/fused/attention_kernels.ts";
import { openCblas } from "../src/engine/fused/cblas.ts";
import { instantiate, type KernelExports, loadKernels, newArena, noiseTables } from "../src/engine/fused/wasm.ts";
import { cblasProducts, type Products, wasmProducts } from "../src/engine/fused/products.ts";
import { fillNoise, Rng } from "../src/random.ts";
import { assertClose, assertNormClose, equal, ok } from "./_assert.ts";

const SEED = 20151120;
const module = await loadKernels();
const blas = openCblas();

/** The kernels on a fresh arena, with helpers to move arrays in and out. */
function harness() {
  const arena = newArena(module);
  const k: KernelExports = instantiate(module, arena.memory);
  const put = (v: Float32Array | number) => {
    const n = typeof v === "number" ? v : v.length, ptr = arena.alloc(n);
    if (typeof v !== "number") arena.f32(ptr, n).set(v);
    return ptr;
  };
  return { arena, k, put, get: (ptr: number, n: number) => arena.f32(ptr, n).slice() };
}

/** C = op(A)·op(B) + beta·C in float64. */
function refProduct(
  tA: boolean,
  tB: boolean,
  M: number,
  N: number,
  K: number,
  A: Float32Array,
  B: Float32Array,
  C: Float32Array,
  beta: 0 | 1,
): Float32Array {
  const out = new Float32Array(M * N);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = beta * C[i * N + j];
      for (let k = 0; k < K; k++) s += (tA ? A[k * M + i] : A[i * K + k]) * (tB ? B[j * K + k] : B[k * N + j]);
      out[i * N + j] = s;
    }
  }
  return out;
}

const productKinds: [string, (h: ReturnType<typeof harness>, work: number, floats: number) => Products][] = [
  ["wasm", (h, work, floats) => wasmProducts(h.k, work, floats)],
  ...(blas
    ? [["cblas", (h: ReturnType<typeof harness>) => cblasProducts(h.arena, blas.gemm, blas.path)] as const]
    : []),
] as [string, (h: ReturnType<typeof harness>, work: number, floats: number) => Products][];

for (const [kind, make] of productKinds) {
  Deno.test(`gemm (${kind}): every transpose case, beta 0 and 1, odd sizes, = the float64 product`, () => {
    const h = harness();
    const work = h.put(64 * 64);
    const p = make(h, work, 64 * 64);
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 19 }),
        fc.integer({ min: 1, max: 21 }),
        fc.integer({ min: 0, max: 17 }),
        fc.boolean(),
        fc.boolean(),
        fc.constantFrom(0 as const, 1 as const),
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        (M, N, K, tA, tB, beta, seed) => {
          const rng = new Rng(seed);
          const A = rng.fillNormal(new Float32Array(M * K)), B = rng.fillNormal(new Float32Array(K * N));
          const C = rng.fillNormal(new Float32Array(M * N));
          const want = refProduct(tA, tB, M, N, K, A, B, C, beta);
          const pa = h.put(A), pb = h.put(B), pc = h.put(C);
          p.gemm(tA, tB, M, N, K, pa, tA ? M : K, pb, tB ? K : N, beta, pc, N);
          assertClose(h.get(pc, M * N), want, { rtol: 1e-5, atol: 1e-5, what: `${M}×${N}×${K} ${tA} ${tB} ${beta}` });
          // the same with op(B) packed once, as a weight is
          const pc2 = h.put(C), packed = h.put(h.k.packedSize(K, N));
          const operand = { K, N, trans: tB, ptr: pb, ld: tB ? K : N, packed };
          p.pack(operand);
          p.gemmWith(tA, M, pa, tA ? M : K, operand, beta, pc2, N);
          assertClose(h.get(pc2, M * N), want, { rtol: 1e-5, atol: 1e-5, what: `packed ${M}×${N}×${K}` });
        },
      ),
      { seed: SEED, numRuns: 150 },
    );
  });

  Deno.test(`gemm (${kind}): strided views (row strides wider than the matrix) at the LSTM's sizes`, () => {
    const h = harness(), rng = new Rng(3);
    const work = h.put(h.k.packedSize(520, 1024));
    const p = make(h, work, h.k.packedSize(520, 1024));
    for (const [M, N, K] of [[50, 1024, 520], [520, 1024, 50], [50, 520, 1024], [7, 35, 256]]) {
      const lda = K + 3, ldc = N + 5; // A's and C's rows sit inside wider rows
      const A = rng.fillNormal(new Float32Array(M * lda)), B = rng.fillNormal(new Float32Array(K * N));
      const C = rng.fillNormal(new Float32Array(M * ldc));
      const pa = h.put(A), pb = h.put(B), pc = h.put(C);
      p.gemm(false, false, M, N, K, pa, lda, pb, N, 1, pc, ldc);
      const got = h.get(pc, M * ldc);
      const dense = Float32Array.from({ length: M * K }, (_, i) => A[Math.floor(i / K) * lda + (i % K)]);
      const c0 = Float32Array.from({ length: M * N }, (_, i) => C[Math.floor(i / N) * ldc + (i % N)]);
      const want = refProduct(false, false, M, N, K, dense, B, c0, 1);
      const gotDense = Float32Array.from({ length: M * N }, (_, i) => got[Math.floor(i / N) * ldc + (i % N)]);
      assertClose(gotDense, want, { rtol: 1e-4, atol: 1e-3, what: `${M}×${N}×${K}` });
      for (let i = 0; i < M; i++) {
        for (let j = N; j < ldc; j++) equal(got[i * ldc + j], C[i * ldc + j], "outside C untouched");
      }
    }
  });
}

Deno.test("fast math: e^x within 2e-7 relative, σ and tanh within 3e-7, over the engine's range; NaN kept", () => {
  const h = harness();
  const xs = Float32Array.from({ length: 20_003 }, (_, i) => -87 + (i * 175) / 20_003);
  const special = Float32Array.of(0, -0, 1e-30, -1e-30, 88, -87, 1e4, -1e4, NaN, Infinity, -Infinity);
  const all = new Float32Array([...xs, ...special]);
  const src = h.put(all), dst = h.put(all.length);
  h.k.expInto(src, dst, all.length);
  const e = h.get(dst, all.length);
  let worst = 0;
  for (let i = 0; i < xs.length; i++) worst = Math.max(worst, Math.abs(e[i] / Math.exp(xs[i]) - 1));
  ok(worst < 2e-7, `e^x relative error ${worst}`);
  const s = xs.length;
  equal(e[s], 1);
  ok(e[s + 6] > 1e38 && Number.isFinite(e[s + 6]), "e^10000 clamps to a finite float");
  ok(e[s + 7] >= 0 && e[s + 7] < 1e-37, "e^−10000 clamps to a tiny float");
  ok(Number.isNaN(e[s + 8]), "NaN stays NaN");
  h.k.sigmoidInto(src, dst, all.length);
  const sg = h.get(dst, all.length);
  h.k.tanhInto(src, dst, all.length);
  const th = h.get(dst, all.length);
  let ws = 0, wt = 0;
  for (let i = 0; i < all.length; i++) {
    if (Number.isNaN(all[i])) continue;
    ws = Math.max(ws, Math.abs(sg[i] - 1 / (1 + Math.exp(-all[i]))));
    wt = Math.max(wt, Math.abs(th[i] - Math.tanh(all[i])));
  }
  ok(ws < 3e-7, `σ absolute error ${ws}`);
  ok(wt < 3e-7, `tanh absolute error ${wt}`);
  ok(Object.is(th[s + 1], -0) || th[s + 1] === 0, "tanh(−0) is zero");
  equal(th[s + 9], 1);
  equal(th[s + 10], -1);
  equal(sg[s + 9], 1);
  ok(sg[s + 10] >= 0 && sg[s + 10] < 1e-38, "σ(−∞) is 0 within the clamp of e^x");
});

Deno.test("noise: the kernel draws fillNoise's values bit for bit (wedge and tail too), from any index", () => {
  const h = harness();
  const tables = noiseTables(h.arena, h.k);
  const cases: [number, number, number][] = [[0, 0, 100_003], [0xdeadbeef, 12_345, 50_001], [7, 2 ** 31 - 10, 21]];
  for (const [seed, start, count] of cases) {
    const out = h.put(count);
    h.k.noise!(seed, start, count, out, tables);
    const got = h.get(out, count), want = fillNoise(seed, start, new Float32Array(count));
    for (let i = 0; i < count; i++) if (got[i] !== want[i]) equal(got[i], want[i], `seed ${seed}, draw ${start + i}`);
    if (count > 50_000) ok(got.some((v) => Math.abs(v) > 3.442619855899), "some draws from the tail");
  }
});

Deno.test("lstmForward/lstmBackward = the LSTM cell through tfjs autodiff, H a multiple of 4 or not, first step too", async () => {
  await selectBackend("cpu");
  for (const [n, H, first] of [[3, 7, false], [2, 5, true], [4, 8, false], [2, 4, true], [1, 1, false]] as const) {
    const h = harness(), rng = new Rng(n * 31 + H), G = 4 * H;
    const pre = rng.fillNormal(new Float32Array(n * G)), bias = rng.fillNormal(new Float32Array(G));
    const cPrev = first ? new Float32Array(n * H) : rng.fillNormal(new Float32Array(n * H));
    const dh = rng.fillNormal(new Float32Array(n * H)), dcIn = rng.fillNormal(new Float32Array(n * H));
    const pg = h.put(pre), pb = h.put(bias), pcp = first ? 0 : h.put(cPrev), pc = h.put(n * H), ph = h.put(n * H);
    h.k.lstmForward(n, H, pg, pb, pcp, pc, ph);
    const pdh = h.put(dh), pdc = h.put(dcIn), pdg = h.put(n * G);
    h.k.lstmBackward(n, H, pg, pc, pcp, pdh, pdc, pdg);
    // the same cell in tfjs: gates i, f, o = σ, g = tanh; c = f·c' + i·g; h = o·tanh(c)
    const cell = (gates: tf.Tensor, cp: tf.Tensor) => {
      const [sig, g] = tf.split(tf.add(gates, tf.tensor1d(bias)), [3 * H, H], 1);
      const [i, f, o] = tf.split(tf.sigmoid(sig), 3, 1);
      const c = tf.add(tf.mul(f, cp), tf.mul(i, tf.tanh(g)));
      return { c, h: tf.mul(o, tf.tanh(c)) };
    };
    const tg = tf.tensor2d(pre, [n, G]), tc = tf.tensor2d(cPrev, [n, H]);
    const ref = cell(tg, tc);
    const what = `n=${n} H=${H}${first ? ", first step" : ""}`;
    assertClose(h.get(pc, n * H), await ref.c.data() as Float32Array, { rtol: 1e-5, atol: 1e-6, what: `c, ${what}` });
    assertClose(h.get(ph, n * H), await ref.h.data() as Float32Array, { rtol: 1e-5, atol: 1e-6, what: `h, ${what}` });
    const [dg, dcp] = tf.grads((g: tf.Tensor, cp: tf.Tensor) => {
      const r = cell(g, cp);
      return tf.add(tf.sum(tf.mul(r.h, tf.tensor2d(dh, [n, H]))), tf.sum(tf.mul(r.c, tf.tensor2d(dcIn, [n, H]))));
    })([tg, tc]);
    assertClose(h.get(pdg, n * G), await dg.data() as Float32Array, {
      rtol: 1e-4,
      atol: 1e-6,
      what: `∂gates, ${what}`,
    });
    if (!first) {
      assertClose(h.get(pdc, n * H), await dcp.data() as Float32Array, {
        rtol: 1e-4,
        atol: 1e-6,
        what: `∂c', ${what}`,
      });
    }
    tf.dispose([tg, tc, ref.c, ref.h, dg, dcp]);
  }
});

/** Table 3's attention sizes, odd ones, and colour. */
const ATTENTION_SIZES = [[2, 28, 28, 1], [5, 28, 28, 1], [3, 7, 6, 2], [12, 54, 54, 3], [5, 32, 32, 3], [3, 5, 9, 1]];

/**
 * The attention kernels against the tfjs composition of attention.ts (Eqs 19–29) for `n` windows `raw` on an
 * A×B×C image: read and write, values and the gradients of both with respect to the window and the canvas/patch.
 * Tolerances: float32 sums of at most A·B terms of order 1 (values 1e-4 relative); the gradients as a norm per
 * image and quantity, so that one wrong window shows (a wrong image's share of a batch norm would not).
 */
async function checkAttention(N: number, A: number, B: number, C: number, raw: Float32Array, rng: Rng, what: string) {
  const n = raw.length / 5, D = B * C * A;
  const k = await AttentionKernels.create(N, A, B, C, n);
  const x = Float32Array.from({ length: n * D }, () => rng.uniform());
  const c = rng.fillNormal(new Float32Array(n * D));
  const s = c.map((v) => 1 / (1 + Math.exp(-v))); // s = σ(c), the canvas's means
  const w = rng.fillNormal(new Float32Array(n * N * C * N));
  const dP = rng.fillNormal(new Float32Array(n * N * 2 * C * N));
  const dC = rng.fillNormal(new Float32Array(n * D));
  const P = k.read(raw, x, s);
  const { dRaw: dRawRead, dc } = k.readBackward(dP, true);
  const canvas = k.write(raw, w);
  const { dRaw: dRawWrite, dw } = k.writeBackward(dC);
  const t = {
    raw: tf.tensor2d(raw, [n, 5]),
    x: tf.tensor4d(x, [n, B, C, A]),
    c: tf.tensor4d(c, [n, B, C, A]),
    w: tf.tensor4d(w, [n, N, C, N]),
    dP: tf.tensor4d(dP, [n, N, 2 * C, N]),
    dC: tf.tensor4d(dC, [n, B, C, A]),
  };
  const read = (r: tf.Tensor, cv: tf.Tensor) => {
    const win = attentionWindow(r as tf.Tensor2D, N, A, B);
    const both = tf.concat([t.x, tf.sub(t.x, tf.sigmoid(cv))], 2) as tf.Tensor4D;
    return readPatch(both, filterbank(win, N, A, B), win.gamma);
  };
  const write = (r: tf.Tensor, wv: tf.Tensor) => {
    const win = attentionWindow(r as tf.Tensor2D, N, A, B);
    return writePatch(wv as tf.Tensor4D, filterbank(win, N, A, B), win.gamma);
  };
  /** Per image: `got` against `want`, each `size` long. */
  const perImage = (got: Float32Array, want: Float32Array, size: number, label: string, norm: boolean) => {
    for (let b = 0; b < n; b++) {
      const [g, r] = [got.subarray(b * size, (b + 1) * size), want.subarray(b * size, (b + 1) * size)];
      const where = `${label}, ${what}, window ${Array.from(raw.subarray(5 * b, 5 * b + 5), (v) => v.toFixed(2))}`;
      if (norm) assertNormClose(g, r, { rtol: 1e-4, atol: 1e-6, what: where });
      else assertClose(g, r, { rtol: 1e-4, atol: 1e-5, what: where });
    }
  };
  const pRef = tf.tidy(() => read(t.raw, t.c));
  perImage(P, await pRef.data() as Float32Array, N * 2 * C * N, "read", false);
  const [gr, gs] = tf.grads((r: tf.Tensor, cv: tf.Tensor) => tf.sum(tf.mul(read(r, cv), t.dP)))([t.raw, t.c]);
  perImage(dRawRead, await gr.data() as Float32Array, 5, "read ∂raw", true);
  perImage(dc, await gs.data() as Float32Array, D, "read ∂c", true);
  const cRef = tf.tidy(() => write(t.raw, t.w));
  perImage(canvas, await cRef.data() as Float32Array, D, "write", false);
  const [gr2, gw] = tf.grads((r: tf.Tensor, wv: tf.Tensor) => tf.sum(tf.mul(write(r, wv), t.dC)))([t.raw, t.w]);
  perImage(dRawWrite, await gr2.data() as Float32Array, 5, "write ∂raw", true);
  perImage(dw, await gw.data() as Float32Array, N * C * N, "write ∂w", true);
  tf.dispose([...Object.values(t), pRef, cRef, gr, gs, gr2, gw]);
}

Deno.test("attention kernels = tfjs filterbank + read/write, values and gradients (every Table 3 size, odd sizes)", async () => {
  await selectBackend("cpu");
  const rng = new Rng(5);
  for (const [N, A, B, C] of ATTENTION_SIZES) {
    const raw = Float32Array.from({ length: 3 * 5 }, () => rng.uniform() - 0.5);
    await checkAttention(N, A, B, C, raw, rng, `N=${N} on ${A}×${B}×${C}`);
  }
});

Deno.test("attention kernels = tfjs for windows anywhere: off the image, tiny or huge σ², δ and γ (property)", async () => {
  await selectBackend("cpu");
  // raw window values (Eqs 21–24): g̃ in [−3, 3] puts the centre up to 2 image widths off either side;
  // log σ², log δ̃ and log γ over e^±6, e^±4 and e^±3
  const window = fc.tuple(
    fc.float({ min: -3, max: 3, noNaN: true }),
    fc.float({ min: -3, max: 3, noNaN: true }),
    fc.float({ min: -6, max: 6, noNaN: true }),
    fc.float({ min: -4, max: 4, noNaN: true }),
    fc.float({ min: -3, max: 3, noNaN: true }),
  );
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom([2, 28, 28, 1], [5, 28, 28, 1], [3, 7, 6, 2], [3, 5, 9, 1]),
      fc.array(window, { minLength: 1, maxLength: 3 }),
      fc.integer({ min: 0, max: 2 ** 31 - 1 }),
      async ([N, A, B, C], windows, seed) => {
        await checkAttention(N, A, B, C, Float32Array.from(windows.flat()), new Rng(seed), `N=${N} on ${A}×${B}×${C}`);
      },
    ),
    { seed: SEED, numRuns: 60 },
  );
});

Deno.test("every filterbank row sums to 1, row by row, for windows anywhere (Eq 25's normalisation, property)", async () => {
  // A write of a patch that is one-hot at (i, j) paints (1/γ)·F_Yᵀ[:, j]·F_X[i, :] (Eq 29): its pixels sum to
  // (1/γ)·ΣF_Y[j, ·]·ΣF_X[i, ·], which is 1/γ for every (i, j) exactly when every row of both banks sums to 1.
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom([2, 28, 28], [5, 7, 6], [3, 5, 9], [12, 100, 100]),
      fc.tuple(
        fc.float({ min: -3, max: 3, noNaN: true }),
        fc.float({ min: -3, max: 3, noNaN: true }),
        fc.float({ min: -6, max: 6, noNaN: true }),
        fc.float({ min: -4, max: 4, noNaN: true }),
        fc.float({ min: -3, max: 3, noNaN: true }),
      ),
      async ([N, A, B], win) => {
        const n = N * N, k = await AttentionKernels.create(N, A, B, 1, n);
        const raw = Float32Array.from({ length: 5 * n }, (_, q) => win[q % 5]);
        const w = new Float32Array(n * n);
        for (let p = 0; p < n; p++) w[p * n + p] = 1; // image p: one-hot at patch position p = (row j, column i)
        const out = k.write(raw, w);
        for (let p = 0; p < n; p++) {
          const sum = out.subarray(p * A * B, (p + 1) * A * B).reduce((s, v) => s + v, 0);
          assertClose([sum * Math.exp(win[4])], [1], {
            rtol: 1e-5,
            what: `rows ${p % N} of F_X and ${Math.floor(p / N)} of F_Y, window ${win.map((v) => v.toFixed(2))}`,
          });
        }
      },
    ),
    { seed: SEED, numRuns: 40 },
  );
});

Deno.test("image-only read kernel (the classifier's, Section 4.1) = tfjs filterbank + read, at 12×12 from 100×100", async () => {
  await selectBackend("cpu");
  const rng = new Rng(6);
  const [N, A, B, C, n] = [12, 100, 100, 1, 2];
  const k = await AttentionKernels.create(N, A, B, C, n);
  const raw = Float32Array.from({ length: n * 5 }, () => rng.uniform() - 0.5);
  const x = Float32Array.from({ length: n * B * C * A }, () => rng.uniform());
  const dP = rng.fillNormal(new Float32Array(n * N * C * N));
  const P = k.read(raw, x, null);
  const { dRaw } = k.readBackward(dP, false);
  const tr = tf.tensor2d(raw, [n, 5]), tx = tf.tensor4d(x, [n, B, C, A]), tdP = tf.tensor4d(dP, [n, N, C, N]);
  const read = (r: tf.Tensor) => {
    const win = attentionWindow(r as tf.Tensor2D, N, A, B);
    return readPatch(tx, filterbank(win, N, A, B), win.gamma);
  };
  const pRef = tf.tidy(() => read(tr));
  assertClose(P, await pRef.data() as Float32Array, { rtol: 1e-4, atol: 1e-5, what: "glimpse" });
  const [g] = tf.grads((r: tf.Tensor) => tf.sum(tf.mul(read(r), tdP)))([tr]);
  assertNormClose(dRaw, await g.data() as Float32Array, { rtol: 1e-4, atol: 1e-6, what: "∂raw" });
  tf.dispose([tr, tx, tdP, pRef, g]);
});

Deno.test("filterbank rows stay finite and sum to 1 for windows far off the image (no NaN from masked lanes)", async () => {
  const k = await AttentionKernels.create(5, 7, 6, 1, 2);
  // a window far to the left and tiny, and one huge: every row a softmax over 7 (or 6) pixels
  const raw = Float32Array.of(-40, 30, -20, 3, 0, 2, -2, 8, -3, 1);
  const out = k.write(raw, new Float32Array(2 * 25).fill(1));
  ok(out.every(Number.isFinite), "canvas finite");
  // with w = 1 everywhere the canvas holds (1/γ)·Σ_ij F_Y[j, r]·F_X[i, a]; summed over pixels, N²/γ
  for (let b = 0; b < 2; b++) {
    const sum = out.subarray(b * 42, (b + 1) * 42).reduce((s, v) => s + v, 0);
    assertClose([sum], [25 / Math.exp(raw[b * 5 + 4])], { rtol: 1e-5, what: `image ${b}` });
  }
});
