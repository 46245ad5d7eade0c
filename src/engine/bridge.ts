/**
 * The one bridge from an engine to tfjs's autodiff: an op whose value and gradient the engine
 * computes, so that tf.variableGrads, the Trainer and every caller work unchanged.
 *
 * @module
 */
import * as tf from "../tf.ts";

/** An engine's pass, as the bridge drives it. */
export interface EnginePass {
  /**
   * Computes the output (flat, row-major) from the inputs' values; keeps what grad needs. The inputs
   * may be views of the backend's memory ({@link peek32}): read them before any tfjs call.
   */
  run(inputs: Float32Array[]): Float32Array;
  /** The inputs' gradients from the output's gradient (a view, as run's inputs), for the latest run. */
  grad(dy: Float32Array): Float32Array[];
  /** Whether another pass ran on the engine since ours (then the bridge runs ours again first). */
  stale(): boolean;
}

/** The float32 values of a tensor (a view where the backend allows). */
export function values32(t: tf.Tensor): Float32Array {
  const v = t.dataSync();
  return v instanceof Float32Array ? v : Float32Array.from(v as ArrayLike<number>);
}

/** The parts of tfjs-backend-wasm 4.22's BackendWasm used here. */
interface WasmBackend {
  dataIdMap: { has(dataId: unknown): boolean };
  typedArrayFromHeap(t: tf.Tensor): ArrayLike<number>;
}

/**
 * The float32 values of a tensor to read at once, without a copy where the backend allows: on the
 * tfjs wasm backend a view of its heap, which any later tfjs op, allocation or dispose may move or
 * overwrite (copy what you keep); elsewhere {@link values32}. A fresh copy of a training step's
 * weights costs more than the copy itself here: a new 4 MB buffer is paged in on first write.
 */
export function peek32(t: tf.Tensor): Float32Array {
  if (t.dtype === "float32" && tf.getBackend() === "wasm") {
    const backend = tf.backend() as unknown as WasmBackend;
    if (backend.dataIdMap.has(t.dataId)) return backend.typedArrayFromHeap(t) as Float32Array;
  }
  return values32(t);
}

/**
 * Whether {@link peek32} gives a tensor's own storage, so that a fresh tensor can be written through
 * it: the wasm backend (its heap) and the cpu backend (dataSync returns the array it keeps).
 */
export function storageViews(): boolean {
  const name = tf.getBackend();
  return name === "wasm" || name === "cpu";
}

/**
 * A new float32 tensor holding a copy of `values`, which the caller may then overwrite (a view of
 * an engine's memory, say): the wasm backend copies into its heap, the others keep the array they
 * are given, so they get a copy.
 */
export function tensorCopy(values: Float32Array, shape: number[]): tf.Tensor {
  return tf.tensor(tf.getBackend() === "wasm" ? values : values.slice(), shape, "float32");
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
    const run = () => pass.run(ins.map(peek32));
    return {
      value: tensorCopy(run(), shape),
      gradFunc: (dy: tf.Tensor) => {
        if (pass.stale()) run(); // another pass ran in between: redo ours
        const g = pass.grad(peek32(dy));
        return ins.map((t, i) => tensorCopy(g[i], t.shape));
      },
    };
  });
  return op(...inputs) as tf.Tensor;
}
