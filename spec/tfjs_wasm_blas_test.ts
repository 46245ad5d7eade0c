import * as tf from "../src/tf.ts";
import { blasLibrary, disableBlas, enableBlas } from "../src/tfjs_wasm_blas.ts";
import { selectBackend } from "../src/backend.ts";
import { TINY } from "../src/config.ts";
import { drawLoss, drawNoise, initWeights } from "../src/draw.ts";
import { Rng } from "../src/random.ts";
import { assertClose, equal, ok } from "./_assert.ts";

await selectBackend("wasm");
const found = enableBlas();
disableBlas();
const ignore = found === undefined; // no CBLAS library on this machine: nothing to compare

/**
 * Runs `f` on the cpu backend (the reference: tfjs-wasm 4.22's own _FusedMatMul adds the bias
 * wrongly when transposeA is set) and on wasm with sgemm, and returns both results.
 */
async function both(f: () => tf.Tensor[]): Promise<[number[][], number[][]]> {
  const run = async () => {
    const out = f();
    const v = await Promise.all(out.map(async (t) => Array.from(await t.data())));
    tf.dispose(out);
    return v;
  };
  await selectBackend("cpu");
  const reference = await run();
  await selectBackend("wasm");
  enableBlas();
  try {
    ok(blasLibrary() !== undefined);
    return [reference, await run()];
  } finally {
    disableBlas();
  }
}

Deno.test({
  name: "enableBlas() matrix products match the cpu backend for every transpose flag, batched, broadcast, with bias",
  ignore,
  fn: async () => {
    const cases: [number[], number[], boolean, boolean][] = [
      [[3, 4], [4, 5], false, false],
      [[4, 3], [4, 5], true, false],
      [[3, 4], [5, 4], false, true],
      [[4, 3], [5, 4], true, true],
      [[6, 3, 4], [6, 4, 2], false, false],
      [[6, 4, 3], [6, 2, 4], true, true],
      [[6, 3, 4], [1, 4, 2], false, false],
    ];
    const rng = new Rng(1);
    const values = (shape: number[]) => rng.fillNormal(new Float32Array(shape.reduce((x, y) => x * y, 1)));
    for (const [sa, sb, ta, tb] of cases) {
      const n = tb ? sb.at(-2)! : sb.at(-1)!;
      const [av, bv, cv] = [values(sa), values(sb), values([n])];
      const [reference, fast] = await both(() => {
        const a = tf.tensor(av, sa), b = tf.tensor(bv, sb), bias = tf.tensor1d(cv);
        const out = [tf.matMul(a, b, ta, tb)];
        if (sa.length === 2) {
          out.push(tf.fused.matMul({ a: a as tf.Tensor2D, b: b as tf.Tensor2D, transposeA: ta, transposeB: tb, bias }));
        }
        tf.dispose([a, b, bias]);
        return out;
      });
      equal(fast.length, reference.length);
      for (let k = 0; k < reference.length; k++) {
        assertClose(fast[k], reference[k], { rtol: 1e-5, atol: 1e-5, what: `${sa}×${sb} (${ta}, ${tb}) output ${k}` });
      }
    }
  },
});

Deno.test({
  name: "enableBlas() leaves DRAW's loss and every gradient as the cpu backend computes them",
  ignore,
  fn: async () => {
    const xv = Float32Array.from({ length: 4 * 30 }, (_, k) => (k * 37 % 100) / 100);
    const names = Object.keys(initWeights(TINY, 3));
    const [reference, fast] = await both(() => {
      const weights = initWeights(TINY, 3);
      const x = tf.tensor4d(xv, [4, 5, 6, 1]);
      const eps = drawNoise(TINY, 4, new Rng(5));
      const loss = (...ws: tf.Tensor[]) =>
        drawLoss(Object.fromEntries(names.map((n, k) => [n, ws[k]])), TINY, x, eps).loss;
      const out = [
        tf.tidy(() => loss(...names.map((n) => weights[n]))),
        ...tf.grads(loss)(names.map((n) => weights[n])),
      ];
      tf.dispose([x, eps, ...Object.values(weights)]);
      return out;
    });
    for (let k = 0; k < reference.length; k++) {
      assertClose(fast[k], reference[k], { rtol: 1e-4, atol: 1e-5, what: k ? `∂L/∂${names[k - 1]}` : "loss" });
    }
  },
});
