/**
 * The one bridge from an engine to tfjs's autodiff: an op whose value and gradient the engine
 * computes, so that tf.variableGrads, the Trainer and every caller work unchanged.
 *
 * @module
 */
import * as tf from "../tf.ts";

/** An engine's pass, as the bridge drives it. */
export interface EnginePass {
  /** Computes the output (flat, row-major) from the inputs' values; keeps what grad needs. */
  run(inputs: Float32Array[]): Float32Array;
  /** The inputs' gradients from the output's gradient, for the latest run. */
  grad(dy: Float32Array): Float32Array[];
  /** Whether another pass ran on the engine since ours (then the bridge runs ours again first). */
  stale(): boolean;
}

/** The float32 values of a tensor (a view where the backend allows). */
export function values32(t: tf.Tensor): Float32Array {
  const v = t.dataSync();
  return v instanceof Float32Array ? v : Float32Array.from(v as ArrayLike<number>);
}

/**
 * One tfjs op of `inputs` with output `shape`: value by pass.run, gradient by pass.grad.
 *
 * @example
 * ```ts
 * import * as tf from "../tf.ts";
 * import { engineOp } from "./bridge.ts";
 * const w = tf.scalar(3);
 * const square = (x: tf.Tensor) =>
 *   engineOp([x], [], {
 *     run: ([v]) => Float32Array.of(v[0] * v[0]),
 *     grad: (dy) => [Float32Array.of(2 * 3 * dy[0])],
 *     stale: () => false,
 *   });
 * tf.grad(square)(w).print(); // 6
 * ```
 */
export function engineOp(inputs: tf.Tensor[], shape: number[], pass: EnginePass): tf.Tensor {
  const op = tf.customGrad((...args: unknown[]) => {
    const ins = args.slice(0, inputs.length) as tf.Tensor[];
    const run = () => pass.run(ins.map(values32));
    return {
      value: tf.tensor(run(), shape),
      gradFunc: (dy: tf.Tensor) => {
        if (pass.stale()) run(); // another pass ran in between: redo ours
        const g = pass.grad(values32(dy));
        return ins.map((t, i) => tf.tensor(g[i], t.shape));
      },
    };
  });
  return op(...inputs) as tf.Tensor;
}
