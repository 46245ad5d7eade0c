/**
 * The classifier of Section 4.1 on the WebGPU engine: program/classifier.ts's orchestration (the
 * glimpses through Eqs 19–27, the LSTM, the class scores, and the backward pass by hand) driving
 * the WGSL kernels on one GPU buffer, one submit per pass, as webgpu/draw.ts does for DRAW.
 *
 * @module
 */
import { classifierSpecs } from "../../params.ts";
import type { ClassifierConfig } from "../../config.ts";
import { FusedClassifier } from "../program/classifier.ts";
import { WebGpuHeap } from "./kernels.ts";

/** The classifier for one configuration and batch size on a GPU device. */
export class WebGpuClassifier {
  /** Where the products run, for the log. */
  readonly products = "WGSL";
  private readonly run: FusedClassifier;
  private readonly gpu: WebGpuHeap;
  private readonly heap: GPUBuffer;
  private readonly names: string[];
  /** Labels and per-image losses of a training step, in the heap. */
  private readonly labels: number;
  private readonly losses: number;
  private readonly out: { logits: GPUBuffer; losses: GPUBuffer; grads: GPUBuffer[] };
  /** Command buffers this runner has submitted so far (one per pass, or per training step). */
  submits = 0;

  /** Builds the heap for `config` and `batch` on `device`. */
  constructor(readonly device: GPUDevice, readonly config: ClassifierConfig, readonly batch: number) {
    this.gpu = new WebGpuHeap(device);
    this.run = new FusedClassifier(config, batch, this.gpu.context);
    this.labels = this.gpu.heap.alloc(batch);
    this.losses = this.gpu.heap.alloc(batch);
    this.heap = this.gpu.create("classifier", batch);
    this.names = classifierSpecs(config).map((s) => s.name);
    this.out = {
      logits: this.gpu.output(batch * config.classes, "logits"),
      losses: this.gpu.output(batch, "losses"),
      grads: this.names.map((name) => this.gpu.output(this.run.offsets.at[name][1], `∂${name}`)),
    };
  }

  /** Forward passes so far (a backward pass refers to the latest). */
  get passes(): number {
    return this.run.passes;
  }

  /** Copies the weights (classifierSpecs order) and images into the heap. */
  private load(e: GPUCommandEncoder, weights: GPUBuffer[], x: GPUBuffer): void {
    const { width: A, height: B, channels: C } = this.config;
    this.names.forEach((name, i) => {
      const [o, size] = this.run.offsets.at[name];
      e.copyBufferToBuffer(weights[i], 0, this.heap, this.run.weightsPtr + 4 * o, 4 * size);
    });
    e.copyBufferToBuffer(x, 0, this.heap, this.run.x, 4 * this.batch * A * B * C);
  }

  /** Copies every weight's gradient out, into its own buffer. */
  private gradients(e: GPUCommandEncoder): GPUBuffer[] {
    this.names.forEach((name, i) => {
      const [o, size] = this.run.offsets.at[name];
      e.copyBufferToBuffer(this.heap, this.run.gradsPtr + 4 * o, this.out.grads[i], 0, 4 * size);
    });
    return this.out.grads;
  }

  /** Submits the step's command buffer. */
  private submit(e: GPUCommandEncoder): void {
    this.device.queue.submit([e.finish()]);
    this.submits++;
  }

  /** Class scores [batch, classes] for images x [batch, B, C, A] (GPU buffers; weights in classifierSpecs order). */
  forward(weights: GPUBuffer[], x: GPUBuffer): GPUBuffer {
    const e = this.device.createCommandEncoder({ label: "classifier forward" });
    this.load(e, weights, x);
    this.run.runForward();
    this.gpu.kernels.encode(e, "forward");
    e.copyBufferToBuffer(this.heap, this.run.logits, this.out.logits, 0, 4 * this.batch * this.config.classes);
    this.submit(e);
    return this.out.logits;
  }

  /**
   * A training step in one submit: the class scores, each image's softmax cross-entropy against
   * `labels` ([batch] class indices as float32), and the gradient of their mean for every weight.
   */
  step(
    weights: GPUBuffer[],
    x: GPUBuffer,
    labels: GPUBuffer,
  ): { logits: GPUBuffer; losses: GPUBuffer; grads: GPUBuffer[] } {
    const n = this.batch, K = this.config.classes;
    const e = this.device.createCommandEncoder({ label: "classifier training step" });
    this.load(e, weights, x);
    e.copyBufferToBuffer(labels, 0, this.heap, this.labels, 4 * n);
    this.run.runForward();
    this.gpu.kernels.softmaxCrossEntropy(n, K, this.run.logits, this.labels, this.losses, this.run.dLogits);
    this.run.runBackward();
    this.gpu.kernels.encode(e, "step");
    e.copyBufferToBuffer(this.heap, this.run.logits, this.out.logits, 0, 4 * n * K);
    e.copyBufferToBuffer(this.heap, this.losses, this.out.losses, 0, 4 * n);
    const grads = this.gradients(e);
    this.submit(e);
    return { logits: this.out.logits, losses: this.out.losses, grads };
  }

  /** The gradient of Σ dy ⊙ logits for the latest forward pass: one buffer per weight, in classifierSpecs order. */
  backward(dy: GPUBuffer): GPUBuffer[] {
    const e = this.device.createCommandEncoder({ label: "classifier backward" });
    e.copyBufferToBuffer(dy, 0, this.heap, this.run.dLogits, 4 * this.batch * this.config.classes);
    this.run.runBackward();
    this.gpu.kernels.encode(e, "backward");
    const grads = this.gradients(e);
    this.submit(e);
    return grads;
  }

  /** Frees the GPU buffers. */
  dispose(): void {
    this.gpu.dispose();
    for (const b of [this.out.logits, this.out.losses, ...this.out.grads]) b.destroy();
  }
}
