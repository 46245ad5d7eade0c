import * as tf from "../src/tf.ts";
import { lstmCell } from "../src/lstm.ts";
import { assertClose, throws } from "./_assert.ts";
import { testEveryBackend, values } from "./_backends.ts";
import { refLstm } from "./_reference.ts";

testEveryBackend("lstmCell() matches the float64 LSTM with forget gates (gate order i, f, o, g)", async (_b, rtol) => {
  const [batch, I, H] = [2, 3, 4];
  const x = tf.randomNormal([batch, I], 0, 1, "float32", 1) as tf.Tensor2D;
  const h = tf.randomNormal([batch, H], 0, 1, "float32", 2) as tf.Tensor2D;
  const c = tf.randomNormal([batch, H], 0, 1, "float32", 3) as tf.Tensor2D;
  const K = tf.randomNormal([I + H, 4 * H], 0, 0.5, "float32", 4) as tf.Tensor2D;
  const bias = tf.randomNormal([4 * H], 0, 0.5, "float32", 5) as tf.Tensor1D;
  const out = lstmCell([x], { h, c }, K, bias);
  const [hv, cv] = [await values(out.h), await values(out.c)];
  const [xv, h0, c0, Kv, bv] = await Promise.all([x, h, c, K, bias].map((t) => t.data()));
  for (let n = 0; n < batch; n++) {
    const ref = refLstm(
      Array.from(xv.slice(n * I, (n + 1) * I)),
      Float64Array.from(h0.slice(n * H, (n + 1) * H)),
      Float64Array.from(c0.slice(n * H, (n + 1) * H)),
      Float64Array.from(Kv),
      Float64Array.from(bv),
    );
    assertClose(hv.slice(n * H, (n + 1) * H), ref.h, { rtol, atol: 1e-6, what: "h" });
    assertClose(cv.slice(n * H, (n + 1) * H), ref.c, { rtol, atol: 1e-6, what: "c" });
  }
  tf.dispose([x, h, c, K, bias]);
}, { webgpu: true });

Deno.test("lstmCell() rejects a kernel of the wrong shape", () => {
  const x = tf.zeros([1, 3]) as tf.Tensor2D, h = tf.zeros([1, 2]) as tf.Tensor2D;
  const K = tf.zeros([4, 8]) as tf.Tensor2D, b = tf.zeros([8]) as tf.Tensor1D;
  throws(() => lstmCell([x], { h, c: h }, K, b), /kernel must be \[5, 8\]/);
  tf.dispose([x, h, K, b]);
});
