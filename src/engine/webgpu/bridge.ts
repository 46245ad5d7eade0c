/**
 * The WebGPU engine's bridge to tfjs's autodiff: like bridge.ts's engineOp, one op whose value
 * and gradient the engine computes, but on GPU buffers: its inputs are the tensors' own buffers
 * on the tfjs webgpu backend, its outputs new tensors copied from the engine's buffers on the
 * GPU. Nothing is read back to the host.
 *
 * @module
 */
import * as tf from "../../tf.ts";

/** The parts of tfjs-backend-webgpu 4.22's WebGPUBackend used here. */
interface WebGpuBackend {
  device: GPUDevice;
  tensorMap: { get(dataId: unknown): { resource?: GPUBuffer | null } | undefined };
  uploadToGPU(dataId: unknown): void;
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
}

/** The active tfjs backend, which must be webgpu. */
export function webgpuBackend(): WebGpuBackend {
  if (tf.getBackend() !== "webgpu") {
    throw new RangeError(`Cannot use the WebGPU engine on the ${tf.getBackend()} backend: select --backend webgpu`);
  }
  return tf.backend() as unknown as WebGpuBackend;
}

/** The GPU buffer holding tensor t's values (uploaded first if they are still on the host). */
export function bufferOf(t: tf.Tensor): GPUBuffer {
  const backend = webgpuBackend();
  if (!backend.tensorMap.get(t.dataId)?.resource) backend.uploadToGPU(t.dataId);
  const buffer = backend.tensorMap.get(t.dataId)?.resource;
  if (!buffer) throw new Error(`Cannot find the GPU buffer of a tensor of shape [${t.shape}]`);
  return buffer;
}

/** Submits tfjs's pending work, so that ours, submitted next, sees its results. */
export function flushTfjs(): void {
  const backend = webgpuBackend();
  backend.ensureCommandEncoderReady();
  backend.endComputePassEncoder();
  backend.submitQueue();
}

/** A new float32 tensor of `shape` holding a copy of the buffer's first values (copied on the GPU). */
export function tensorFrom(buffer: GPUBuffer, shape: number[]): tf.Tensor {
  return tf.tensor({ buffer }, shape, "float32");
}

/** An engine's pass on GPU buffers, as {@link gpuEngineOp} drives it. */
export interface GpuPass {
  /** The output's buffer from the inputs' buffers (differentiated ones first, then the rest). */
  run(inputs: GPUBuffer[]): GPUBuffer;
  /** The differentiated inputs' gradients from the output's gradient, for the latest run. */
  grad(dy: GPUBuffer): GPUBuffer[];
  /** Whether another pass ran on the engine since ours (then the bridge runs ours again first). */
  stale(): boolean;
}

/**
 * One tfjs op of `inputs` (differentiated) and `constants` (not: images, noise) with output
 * `shape`, whose value and gradient `pass` computes on the GPU.
 */
export function gpuEngineOp(inputs: tf.Tensor[], constants: tf.Tensor[], shape: number[], pass: GpuPass): tf.Tensor {
  const op = tf.customGrad((...args: unknown[]) => {
    const save = args.pop() as (tensors: tf.Tensor[]) => void;
    const ins = args as tf.Tensor[];
    save(ins); // keeps the images and noise alive until the gradient
    const run = () => {
      const buffers = ins.map(bufferOf);
      flushTfjs();
      return pass.run(buffers);
    };
    return {
      value: tensorFrom(run(), shape),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        if (pass.stale()) run(); // another pass ran in between: redo ours
        const d = bufferOf(dy);
        flushTfjs();
        const g = pass.grad(d);
        return saved.map((t, i) => i < inputs.length ? tensorFrom(g[i], t.shape) : tf.zerosLike(t));
      },
    };
  });
  return op(...inputs, ...constants) as tf.Tensor;
}
