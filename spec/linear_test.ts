import * as tf from "../src/tf.ts";
import { linear } from "../src/linear.ts";
import { assertClose, throws } from "./_assert.ts";
import { testEveryBackend, values } from "./_backends.ts";

testEveryBackend(
  "linear() value and hand-written gradient match tfjs's own matMul and its gradient",
  async (_b, rtol) => {
    const a = tf.randomNormal([3, 5], 0, 1, "float32", 1) as tf.Tensor2D;
    const W = tf.randomNormal([5, 4], 0, 1, "float32", 2) as tf.Tensor2D;
    const b = tf.randomNormal([4], 0, 1, "float32", 3) as tf.Tensor1D;
    const R = tf.randomNormal([3, 4], 0, 1, "float32", 4);
    const ours = (x: tf.Tensor, w: tf.Tensor, c: tf.Tensor) =>
      tf.sum(tf.mul(linear(x as tf.Tensor2D, w as tf.Tensor2D, c as tf.Tensor1D), R));
    const plain = (x: tf.Tensor, w: tf.Tensor, c: tf.Tensor) => tf.sum(tf.mul(tf.add(tf.matMul(x, w), c), R));
    const [v1, v2] = [await values(tf.tidy(() => ours(a, W, b))), await values(tf.tidy(() => plain(a, W, b)))];
    assertClose(v1, v2, { rtol, atol: 1e-5 });
    const g1 = tf.grads(ours)([a, W, b]);
    const g2 = tf.grads(plain)([a, W, b]);
    for (let k = 0; k < 3; k++) {
      assertClose(await values(g1[k]), await values(g2[k]), { rtol, atol: 1e-5, what: ["∂a", "∂W", "∂bias"][k] });
    }
    tf.dispose([a, W, b, R]);
  },
  { webgpu: true },
);

Deno.test("linear() rejects shapes that do not fit, naming them", () => {
  const a = tf.zeros([2, 3]) as tf.Tensor2D, W = tf.zeros([4, 5]) as tf.Tensor2D, b = tf.zeros([5]) as tf.Tensor1D;
  throws(() => linear(a, W, b), /a \[2,3\], W \[4,5\] and bias \[5\] do not fit/);
  tf.dispose([a, W, b]);
});
