/**
 * The LSTM cell with forget gates (Gers et al. 2000) used for RNN^enc and RNN^dec (Section 2.1).
 *
 * Gate order inside the kernel's 4H columns: input i, forget f, output o, candidate g, so that the
 * three sigmoid gates form one contiguous block.
 *
 * @module
 */
import * as tf from "./tf.ts";
import { linear } from "./linear.ts";

/** An LSTM state: hidden vector h and cell memory c, each [batch, H]. */
export interface LstmState {
  /** Hidden vector h, [batch, H]. */
  h: tf.Tensor2D;
  /** Cell memory c, [batch, H]. */
  c: tf.Tensor2D;
}

/**
 * One LSTM step: gates = [inputs…, h]·kernel + bias; c' = σ(f)⊙c + σ(i)⊙tanh(g); h' = σ(o)⊙tanh(c').
 * `kernel` is [Σ input sizes + H, 4H], `bias` is [4H].
 *
 * @example
 * ```ts
 * import * as tf from "./tf.ts";
 * import { lstmCell } from "./lstm.ts";
 * const s = lstmCell([tf.ones([1, 3])], { h: tf.zeros([1, 2]), c: tf.zeros([1, 2]) },
 *   tf.zeros([5, 8]), tf.zeros([8]));
 * ```
 */
export function lstmCell(
  inputs: tf.Tensor2D[],
  state: LstmState,
  kernel: tf.Tensor2D,
  bias: tf.Tensor1D,
): LstmState {
  return tf.tidy(() => {
    const H = state.h.shape[1];
    const joined = tf.concat([...inputs, state.h], 1); // [batch, I + H]
    if (joined.shape[1] !== kernel.shape[0] || kernel.shape[1] !== 4 * H) {
      throw new TypeError(
        `Cannot run LSTM cell as kernel must be [${joined.shape[1]}, ${4 * H}]: current shape is [${kernel.shape}]`,
      );
    }
    const gates = linear(joined as tf.Tensor2D, kernel, bias); // [batch, 4H]
    const [sig, g] = tf.split(gates, [3 * H, H], 1);
    const [i, f, o] = tf.split(tf.sigmoid(sig), 3, 1);
    const c = tf.add(tf.mul(f, state.c), tf.mul(i, tf.tanh(g))) as tf.Tensor2D;
    const h = tf.mul(o, tf.tanh(c)) as tf.Tensor2D;
    return { h, c };
  });
}
