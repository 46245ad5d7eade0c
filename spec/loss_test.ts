// deno-lint-ignore no-import-prefix -- tests only: kept out of deno.json, whose every entry a first run installs
import fc from "npm:fast-check@3.23.2";
import * as tf from "../src/tf.ts";
import { bernoulliNll, klStandardNormal } from "../src/loss.ts";
import { Rng } from "../src/random.ts";
import { assertClose, ok, throws } from "./_assert.ts";
import { testEveryBackend, values } from "./_backends.ts";

const SEED = 20150216;
const f = Math.fround;

testEveryBackend(
  "bernoulliNll() is −log D(x | c) of Eq 9, exact on a hand case and for intensities in [0, 1]",
  async (_b, rtol) => {
    // c = 0 gives p = ½: each pixel costs log 2 whatever x is.
    const c0 = tf.zeros([1, 4]), x0 = tf.tensor2d([[0, 1, 1, 0.25]]);
    assertClose(await values(bernoulliNll(c0, x0)), [4 * Math.LN2], { rtol });
    // General case against −x log σ(c) − (1 − x) log(1 − σ(c)) in float64.
    const cv = [-3, -0.5, 0.7, 2.5, 6], xv = [0, 1, 0.3, 1, 0.9];
    const want = cv.reduce((s, c, k) => {
      const p = 1 / (1 + Math.exp(-c));
      return s - xv[k] * Math.log(p) - (1 - xv[k]) * Math.log(1 - p);
    }, 0);
    const c1 = tf.tensor2d([cv]), x1 = tf.tensor2d([xv]);
    assertClose(await values(bernoulliNll(c1, x1)), [want], { rtol });
    tf.dispose([c0, x0, c1, x1]);
  },
  { webgpu: true },
);

testEveryBackend("bernoulliNll() stays finite and exact for extreme logits", async () => {
  // softplus(c) − x·c: c = 100, x = 0 costs 100 nats; c = −100, x = 1 costs 100; the others ~0.
  const c = tf.tensor2d([[100, -100, 100, -100]]), x = tf.tensor2d([[0, 1, 1, 0]]);
  const v = await values(bernoulliNll(c, x));
  assertClose(v, [200], { rtol: 1e-6 });
  tf.dispose([c, x]);
}, { webgpu: true });

testEveryBackend("bernoulliNll() gradient is σ(c) − x, also at exactly c = 0", async (_b, rtol) => {
  const c = tf.tensor2d([[0, 0, 0, -2, 3]]), x = tf.tensor2d([[0, 1, 0.5, 1, 0]]);
  const [gc, gx] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(bernoulliNll(a, b)))([c, x]);
  const s = (v: number) => 1 / (1 + Math.exp(-v));
  assertClose(await values(gc), [0.5, -0.5, 0, s(-2) - 1, s(3)], { rtol, atol: 1e-6, what: "∂/∂c" });
  assertClose(await values(gx), [0, 0, 0, 2, -3], { rtol, atol: 1e-6, what: "∂/∂x" });
  tf.dispose([c, x]);
}, { webgpu: true });

Deno.test("bernoulliNll() rejects logits and targets of different shapes", () => {
  const a = tf.zeros([2, 3]), b = tf.zeros([2, 4]);
  throws(() => bernoulliNll(a, b), /differ in shape/);
  tf.dispose([a, b]);
});

/** KL(N(μ, σ²) ‖ N(μ₂, σ₂²)) between one-dimensional Gaussians, the textbook form. */
const klGeneric = (mu: number, s: number, mu2: number, s2: number) =>
  Math.log(s2 / s) + (s * s + (mu - mu2) ** 2) / (2 * s2 * s2) - 0.5;

testEveryBackend("klStandardNormal() (Eq 11) equals the generic KL between diagonal Gaussians", async (_b, rtol) => {
  const cases: number[][][] = [];
  fc.assert(
    fc.property(
      fc.array(
        fc.tuple(fc.float({ min: f(-4), max: f(4), noNaN: true }), fc.float({ min: f(-3), max: f(2), noNaN: true })),
        {
          minLength: 1,
          maxLength: 12,
        },
      ),
      (pairs) => {
        cases.push(pairs);
      },
    ),
    { seed: SEED, numRuns: 40 },
  );
  for (const pairs of cases) {
    const mu = tf.tensor2d([pairs.map((p) => p[0])]), ls = tf.tensor2d([pairs.map((p) => p[1])]);
    const got = (await values(klStandardNormal(mu, ls)))[0];
    const want = pairs.reduce((s, [m, l]) => s + klGeneric(m, Math.exp(l), 0, 1), 0);
    assertClose(got, want, { rtol: Math.max(rtol, 1e-5), atol: 1e-5 });
    ok(got >= -1e-6, `KL ${got} is negative`);
    tf.dispose([mu, ls]);
  }
});

testEveryBackend("klStandardNormal() is zero exactly at μ = 0, σ = 1 and positive elsewhere", async () => {
  const z = tf.zeros([3, 5]);
  assertClose(await values(klStandardNormal(z, z)), [0, 0, 0], { rtol: 0, atol: 0 });
  const mu = tf.tensor2d([[1e-3, 0], [0, 0]]), ls = tf.tensor2d([[0, 0], [0, -1e-2]]);
  const v = await values(klStandardNormal(mu, ls));
  ok(v[0] > 0 && v[1] > 0, `KL near the prior should be > 0: ${v}`);
  tf.dispose([z, mu, ls]);
}, { webgpu: true });

Deno.test("klStandardNormal() agrees with a Monte-Carlo estimate of E_q[log q − log p]", async () => {
  const mus = [0.8, -1.2, 0.1], lss = [-0.4, 0.3, 0];
  const mu = tf.tensor2d([mus]), ls = tf.tensor2d([lss]);
  const closed = (await values(klStandardNormal(mu, ls)))[0];
  tf.dispose([mu, ls]);
  const rng = new Rng(7);
  const n = 200_000;
  const eps = rng.fillNormal(new Float32Array(n * 3));
  let sum = 0, sumSq = 0;
  for (let s = 0; s < n; s++) {
    let d = 0;
    for (let k = 0; k < 3; k++) {
      const sig = Math.exp(lss[k]);
      const zk = mus[k] + sig * eps[s * 3 + k];
      d += -Math.log(sig) - 0.5 * eps[s * 3 + k] ** 2 + 0.5 * zk * zk; // log q − log p, constants cancel
    }
    sum += d;
    sumSq += d * d;
  }
  const mean = sum / n, se = Math.sqrt((sumSq / n - mean * mean) / n);
  ok(Math.abs(mean - closed) < 4 * se, `Monte-Carlo ${mean} ± ${se} vs closed form ${closed}`);
});

Deno.test("klStandardNormal() sums T steps to Eq 11 with the constant −|z|/2 per step", async () => {
  // T = 2 steps of |z| = 3 at μ = 0, log σ = log 2: each latent costs ½(4 − log 4 − 1).
  const mu = tf.zeros([1, 2, 3]), ls = tf.fill([1, 2, 3], Math.log(2));
  const got = (await values(klStandardNormal(mu, ls)))[0];
  const eq11 = 0.5 * 6 * (4 - Math.log(4)) - (2 * 3) / 2;
  assertClose(got, eq11, { rtol: 1e-6 });
  tf.dispose([mu, ls]);
});
