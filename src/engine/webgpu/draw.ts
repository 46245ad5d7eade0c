/**
 * DRAW on the WebGPU engine: the fused orchestration of program/draw.ts (Eqs 1–29 and their
 * hand-derived backward pass, step by step) driving the WGSL kernels of src/engine/webgpu/shaders/ through
 * {@link WebGpuKernels}, on one GPU buffer. A pass is one command encoder and one submit: the
 * inputs copied in from their own GPU buffers (tfjs tensors' buffers, say), every step's
 * dispatches, the outputs copied out to this runner's output buffers. Nothing is read back.
 *
 * @module
 */
import { type DrawConfig, imageSize } from "../../config.ts";
import { paramSpecs } from "../../params.ts";
import { FusedDraw } from "../program/draw.ts";
import { WebGpuHeap, type WebGpuKernels } from "./kernels.ts";

/** What a forward pass leaves in the runner's output buffers. */
export interface WebGpuLoss {
  /** [batch, 2]: (Lx, Lz) per image (Eq 9, Eqs 10–11). */
  pair: GPUBuffer;
  /** [batch]: log p(z) − log q(z | x) of the sample drawn. */
  logRatio: GPUBuffer;
}

/** DRAW for one configuration and batch size on a GPU device. */
export class WebGpuDraw {
  /** Where the products run, for the log. */
  readonly products = "WGSL";
  private readonly draw: FusedDraw;
  private readonly gpu: WebGpuHeap;
  private readonly k: WebGpuKernels;
  private readonly heap: GPUBuffer;
  private readonly specs: { name: string; shape: number[] }[];
  /** [batch, 2] interleaved (Lx, Lz), or their gradients, in the heap. */
  private readonly pairPtr: number;
  private readonly out: { pair: GPUBuffer; logRatio: GPUBuffer; canvas: GPUBuffer; grads: GPUBuffer[] };
  /** Dispatches of the latest pass (for benchmarks). */
  dispatches = 0;
  /** Command buffers this runner has submitted so far (one per pass, or per training step). */
  submits = 0;

  /** Builds the heap for `config` and `batch` on `device`; `training: false` keeps no backward buffers. */
  constructor(
    readonly device: GPUDevice,
    readonly config: DrawConfig,
    readonly batch: number,
    options: { training?: boolean } = {},
  ) {
    const gpu = this.gpu = new WebGpuHeap(device);
    this.k = gpu.kernels;
    this.draw = new FusedDraw(config, batch, gpu.context, options);
    this.pairPtr = gpu.heap.alloc(2 * batch);
    this.heap = gpu.create("DRAW", batch);
    this.specs = paramSpecs(config);
    const buffer = (floats: number, label: string) => gpu.output(floats, label);
    this.out = {
      pair: buffer(2 * batch, "lx, lz"),
      logRatio: buffer(batch, "log ratio"),
      canvas: buffer(batch * imageSize(config), "canvas"),
      grads: this.draw.training ? this.specs.map((s) => buffer(this.size(s.name), `∂${s.name}`)) : [],
    };
  }

  /** Whether backward passes can run. */
  get training(): boolean {
    return this.draw.training;
  }

  /** Forward passes so far (a backward pass refers to the latest). */
  get passes(): number {
    return this.draw.passes;
  }

  /** Floats of the named parameter. */
  private size(name: string): number {
    return this.draw.offsets.at[name][1];
  }

  /** Copies each given weight (paramSpecs order; absent ones are left as they are) into the heap. */
  private loadWeights(e: GPUCommandEncoder, weights: (GPUBuffer | undefined)[]): void {
    this.specs.forEach((s, i) => {
      const from = weights[i];
      const [o, size] = this.draw.offsets.at[s.name];
      if (from) e.copyBufferToBuffer(from, 0, this.heap, this.draw.weightsPtr + 4 * o, 4 * size);
    });
  }

  /** Eqs 1–12 on x [batch, D] and eps [T, batch, z] (GPU buffers): the losses in {@link WebGpuLoss}. */
  forward(weights: GPUBuffer[], x: GPUBuffer, eps: GPUBuffer): WebGpuLoss {
    const n = this.batch, { T, z } = this.config, io = this.draw.io, k = this.k;
    const e = this.device.createCommandEncoder({ label: "draw forward" });
    this.loadWeights(e, weights);
    e.copyBufferToBuffer(x, 0, this.heap, io.x, 4 * n * imageSize(this.config));
    e.copyBufferToBuffer(eps, 0, this.heap, io.eps, 4 * T * n * z);
    this.draw.runForward();
    k.copyRows(this.pairPtr, 2, io.lx, 1, n, 1);
    k.copyRows(this.pairPtr + 4, 2, io.lz, 1, n, 1);
    this.dispatches = k.encode(e, "forward");
    e.copyBufferToBuffer(this.heap, this.pairPtr, this.out.pair, 0, 8 * n);
    e.copyBufferToBuffer(this.heap, io.logRatio, this.out.logRatio, 0, 4 * n);
    this.device.queue.submit([e.finish()]);
    this.submits++;
    return { pair: this.out.pair, logRatio: this.out.logRatio };
  }

  /**
   * The gradient of Σ_b (dy[b, 0]·Lx[b] + dy[b, 1]·Lz[b]) for the latest {@link forward}, with
   * respect to every weight: one buffer per weight, in paramSpecs order.
   */
  backward(dy: GPUBuffer): GPUBuffer[] {
    if (!this.training) throw new Error("Cannot run a backward pass on a forward-only WebGPU runner");
    const n = this.batch, io = this.draw.io, k = this.k;
    const e = this.device.createCommandEncoder({ label: "draw backward" });
    e.copyBufferToBuffer(dy, 0, this.heap, this.pairPtr, 8 * n);
    k.copyRows(io.dlx, 1, this.pairPtr, 2, n, 1);
    k.copyRows(io.dlz, 1, this.pairPtr + 4, 2, n, 1);
    this.draw.runBackward();
    this.dispatches = k.encode(e, "backward");
    this.specs.forEach((s, i) => {
      const [o, size] = this.draw.offsets.at[s.name];
      e.copyBufferToBuffer(this.heap, this.draw.gradsPtr + 4 * o, this.out.grads[i], 0, 4 * size);
    });
    this.device.queue.submit([e.finish()]);
    this.submits++;
    return this.out.grads;
  }

  /**
   * A whole training step in one submit: the forward pass, then the gradient of the batch mean
   * of Lx + Lz (Eq 12's objective: ∂/∂Lx = ∂/∂Lz = 1/batch), with respect to every weight.
   */
  step(weights: GPUBuffer[], x: GPUBuffer, eps: GPUBuffer): { pair: GPUBuffer; grads: GPUBuffer[] } {
    if (!this.training) throw new Error("Cannot run a training step on a forward-only WebGPU runner");
    const n = this.batch, { T, z } = this.config, io = this.draw.io, k = this.k;
    const e = this.device.createCommandEncoder({ label: "draw training step" });
    this.loadWeights(e, weights);
    e.copyBufferToBuffer(x, 0, this.heap, io.x, 4 * n * imageSize(this.config));
    e.copyBufferToBuffer(eps, 0, this.heap, io.eps, 4 * T * n * z);
    const mean = new Float32Array(n).fill(1 / n);
    this.device.queue.writeBuffer(this.heap, io.dlx, mean); // queued ahead of the submit below
    this.device.queue.writeBuffer(this.heap, io.dlz, mean);
    this.draw.runForward();
    k.copyRows(this.pairPtr, 2, io.lx, 1, n, 1);
    k.copyRows(this.pairPtr + 4, 2, io.lz, 1, n, 1);
    this.draw.runBackward();
    this.dispatches = k.encode(e, "step");
    e.copyBufferToBuffer(this.heap, this.pairPtr, this.out.pair, 0, 8 * n);
    this.specs.forEach((s, i) => {
      const [o, size] = this.draw.offsets.at[s.name];
      e.copyBufferToBuffer(this.heap, this.draw.gradsPtr + 4 * o, this.out.grads[i], 0, 4 * size);
    });
    this.device.queue.submit([e.finish()]);
    this.submits++;
    return { pair: this.out.pair, grads: this.out.grads };
  }

  /** Eqs 13–16: the final canvases (logits, [batch, D]) from prior noise eps [T, batch, z]. */
  generate(weights: (GPUBuffer | undefined)[], eps: GPUBuffer): GPUBuffer {
    const n = this.batch, { T, z } = this.config;
    const e = this.device.createCommandEncoder({ label: "draw generate" });
    this.loadWeights(e, weights);
    e.copyBufferToBuffer(eps, 0, this.heap, this.draw.io.eps, 4 * T * n * z);
    this.draw.runGenerate();
    this.dispatches = this.k.encode(e, "generate");
    e.copyBufferToBuffer(this.heap, this.draw.canvas, this.out.canvas, 0, 4 * n * imageSize(this.config));
    this.device.queue.submit([e.finish()]);
    this.submits++;
    return this.out.canvas;
  }

  /** Frees the GPU buffers. */
  dispose(): void {
    this.gpu.dispose();
    for (const b of [this.out.pair, this.out.logRatio, this.out.canvas, ...this.out.grads]) b.destroy();
  }
}
