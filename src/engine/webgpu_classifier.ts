/**
 * The classifier of Section 4.1 on the WebGPU engine: fused_classifier.ts's orchestration (the
 * glimpses through Eqs 19–27, the LSTM, the class scores, and the backward pass by hand) driving
 * the WGSL kernels on one GPU buffer, one submit per pass, as webgpu_draw.ts does for DRAW.
 *
 * @module
 */
import { classifierSpecs } from "../classifier.ts";
import type { ClassifierConfig } from "../config.ts";
import { FusedClassifier } from "./fused_classifier.ts";
import { WebGpuHeap } from "./webgpu_kernels.ts";

/** The classifier for one configuration and batch size on a GPU device. */
export class WebGpuClassifier {
  /** Where the products run, for the log. */
  readonly products = "WGSL";
  private readonly run: FusedClassifier;
  private readonly gpu: WebGpuHeap;
  private readonly heap: GPUBuffer;
  private readonly names: string[];
  private readonly out: { logits: GPUBuffer; grads: GPUBuffer[] };

  /** Builds the heap for `config` and `batch` on `device`. */
  constructor(readonly device: GPUDevice, readonly config: ClassifierConfig, readonly batch: number) {
    this.gpu = new WebGpuHeap(device);
    this.run = new FusedClassifier(config, batch, this.gpu.context);
    this.heap = this.gpu.create("classifier", batch);
    this.names = classifierSpecs(config).map((s) => s.name);
    this.out = {
      logits: this.gpu.output(batch * config.classes, "logits"),
      grads: this.names.map((name) => this.gpu.output(this.run.offsets.at[name][1], `∂${name}`)),
    };
  }

  /** Forward passes so far (a backward pass refers to the latest). */
  get passes(): number {
    return this.run.passes;
  }

  /** Class scores [batch, classes] for images x [batch, B, C, A] (GPU buffers; weights in classifierSpecs order). */
  forward(weights: GPUBuffer[], x: GPUBuffer): GPUBuffer {
    const { width: A, height: B, channels: C, classes: K } = this.config, n = this.batch;
    const e = this.device.createCommandEncoder({ label: "classifier forward" });
    this.names.forEach((name, i) => {
      const [o, size] = this.run.offsets.at[name];
      e.copyBufferToBuffer(weights[i], 0, this.heap, this.run.weightsPtr + 4 * o, 4 * size);
    });
    e.copyBufferToBuffer(x, 0, this.heap, this.run.x, 4 * n * A * B * C);
    this.run.runForward();
    this.gpu.kernels.encode(e, "forward");
    e.copyBufferToBuffer(this.heap, this.run.logits, this.out.logits, 0, 4 * n * K);
    this.device.queue.submit([e.finish()]);
    return this.out.logits;
  }

  /** The gradient of Σ dy ⊙ logits for the latest forward pass: one buffer per weight, in classifierSpecs order. */
  backward(dy: GPUBuffer): GPUBuffer[] {
    const e = this.device.createCommandEncoder({ label: "classifier backward" });
    e.copyBufferToBuffer(dy, 0, this.heap, this.run.dLogits, 4 * this.batch * this.config.classes);
    this.run.runBackward();
    this.gpu.kernels.encode(e, "backward");
    this.names.forEach((name, i) => {
      const [o, size] = this.run.offsets.at[name];
      e.copyBufferToBuffer(this.heap, this.run.gradsPtr + 4 * o, this.out.grads[i], 0, 4 * size);
    });
    this.device.queue.submit([e.finish()]);
    return this.out.grads;
  }

  /** Frees the GPU buffers. */
  dispose(): void {
    this.gpu.dispose();
    for (const b of [this.out.logits, ...this.out.grads]) b.destroy();
  }
}
