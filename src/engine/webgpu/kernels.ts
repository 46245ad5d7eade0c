/**
 * The WebGPU engine's side of the kernel seam: {@link WebGpuKernels} has the wasm kernels' exports
 * (src/engine/fused/wasm.ts) and their products, but each call records a dispatch of the WGSL kernel
 * of the same name (src/engine/webgpu/shaders/) instead of running, so the fused orchestration (program/draw.ts)
 * drives the GPU unchanged. {@link WebGpuKernels.encode} then writes every dispatch's parameters
 * in one upload and encodes them into one compute pass. Pointers are byte offsets into one GPU
 * buffer, the heap; {@link GpuHeap} hands them out.
 *
 * @module
 */
import { GROUP, SHADERS, TILE } from "./shaders/index.ts";
import { type Allocator, ATT, type KernelExports } from "../program/kernels.ts";
import type { EngineContext } from "../program/kernels.ts";
import type { Operand, Products } from "../program/kernels.ts";

/** Bytes between two dispatches' parameters (WebGPU's uniform offset alignment). */
const SLOT = 256;

const align = (n: number) => (n + 15) & ~15;

/** The heap's allocator: offsets only (the memory is a GPU buffer); structs kept on the host. */
export class GpuHeap implements Allocator {
  private top = 16; // offset 0 means "none" to the kernels
  private readonly structs = new Map<number, Int32Array>();

  alloc(floats: number): number {
    const at = this.top;
    this.top = align(at + 4 * floats + 16);
    return at;
  }

  get used(): number {
    return this.top;
  }

  f32(): Float32Array {
    throw new Error("Cannot view the WebGPU engine's heap from the host: it lives on the GPU");
  }

  /** The host copy of a struct (the kernels' parameters are read from it when a call is recorded). */
  i32(ptr: number, words: number): Int32Array {
    let view = this.structs.get(ptr);
    if (!view) this.structs.set(ptr, view = new Int32Array(words));
    return view;
  }
}

/** One recorded dispatch. */
interface Dispatch {
  kernel: string;
  values: number[];
  groups: [number, number];
}

/** Workgroups for `threads` element-wise threads: x up to the per-dimension limit, then y. */
function spread(groups: number): [number, number] {
  const x = Math.min(groups, 65535);
  return [x, Math.ceil(groups / x)];
}

const f = (ptr: number) => ptr >> 2; // byte offset → float index

/** The WGSL kernels behind the wasm kernels' interface, recording dispatches. */
export class WebGpuKernels implements KernelExports {
  private recorded: Dispatch[] = [];
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private readonly layout: GPUBindGroupLayout;
  private readonly pipelineLayout: GPUPipelineLayout;
  private readonly params = new Map<
    string,
    { buffer: GPUBuffer; group: GPUBindGroup; slots: number; written?: Uint32Array }
  >();
  private heapBuffer?: GPUBuffer;

  constructor(readonly device: GPUDevice, private readonly heap: GpuHeap) {
    this.layout = device.createBindGroupLayout({
      entries: [
        { binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: "storage" } },
        { binding: 1, visibility: GPUShaderStage.COMPUTE, buffer: { type: "uniform", hasDynamicOffset: true } },
      ],
    });
    this.pipelineLayout = device.createPipelineLayout({ bindGroupLayouts: [this.layout] });
  }

  /** Sets the heap buffer the dispatches bind (once its size is known). */
  bind(heap: GPUBuffer): void {
    this.heapBuffer = heap;
  }

  private pipeline(kernel: string): GPUComputePipeline {
    let pipeline = this.pipelines.get(kernel);
    if (!pipeline) {
      const module = this.device.createShaderModule({ code: SHADERS[kernel].code, label: kernel });
      pipeline = this.device.createComputePipeline({
        label: kernel,
        layout: this.pipelineLayout,
        compute: { module, entryPoint: "main" },
      });
      this.pipelines.set(kernel, pipeline);
    }
    return pipeline;
  }

  /** Records a kernel over `threads` element-wise threads (values after its `total`). */
  private each(kernel: string, threads: number, values: number[]): void {
    if (threads <= 0) return;
    this.recorded.push({ kernel, values: [threads, ...values], groups: spread(Math.ceil(threads / GROUP)) });
  }

  /** Records a kernel with explicit workgroups. */
  private groups(kernel: string, groups: [number, number], values: number[]): void {
    if (groups[0] <= 0 || groups[1] <= 0) return;
    this.recorded.push({ kernel, values, groups });
  }

  /** The attention struct's words at `att` (n, N, A, B, C, win, F, mid, scratch; pointers as float indices). */
  private attention(att: number): number[] {
    const w = this.heap.i32(att, ATT.size);
    return [
      w[ATT.n],
      w[ATT.N],
      w[ATT.A],
      w[ATT.B],
      w[ATT.C],
      f(w[ATT.win]),
      f(w[ATT.F]),
      f(w[ATT.mid]),
      f(
        w[ATT.scratch],
      ),
    ];
  }

  /**
   * Encodes what was recorded since the last call as one compute pass, after writing the
   * dispatches' parameters in one upload (to the parameter buffer kept under `label`; skipped when
   * they are those of the previous pass under that label).
   */
  encode(encoder: GPUCommandEncoder, label: string): number {
    const list = this.recorded;
    this.recorded = [];
    if (!this.heapBuffer) throw new Error("Cannot encode WebGPU kernels before the heap is bound");
    let slot = this.params.get(label);
    if (!slot || slot.slots < list.length) {
      slot?.buffer.destroy();
      const slots = Math.max(list.length, 1);
      const buffer = this.device.createBuffer({
        label: `params/${label}`,
        size: slots * SLOT,
        usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      });
      const group = this.device.createBindGroup({
        layout: this.layout,
        entries: [
          { binding: 0, resource: { buffer: this.heapBuffer } },
          { binding: 1, resource: { buffer, offset: 0, size: SLOT } },
        ],
      });
      this.params.set(label, slot = { buffer, group, slots });
    }
    const words = new Uint32Array(list.length * (SLOT / 4));
    list.forEach((d, i) => words.set(d.values, i * (SLOT / 4)));
    // a runner's passes record the same parameters every time: upload them only when they change
    const same = slot.written?.length === words.length && slot.written.every((w, i) => w === words[i]);
    if (!same) {
      this.device.queue.writeBuffer(slot.buffer, 0, words);
      slot.written = words;
    }
    const pass = encoder.beginComputePass({ label });
    let last = "";
    list.forEach((d, i) => {
      if (d.kernel !== last) pass.setPipeline(this.pipeline(last = d.kernel));
      pass.setBindGroup(0, slot.group, [i * SLOT]);
      pass.dispatchWorkgroups(d.groups[0], d.groups[1]);
    });
    pass.end();
    return list.length;
  }

  /** Frees the parameter buffers. */
  dispose(): void {
    for (const { buffer } of this.params.values()) buffer.destroy();
    this.params.clear();
  }

  // the kernels' interface (src/engine/fused/wasm.ts), recorded

  heapBase(): number {
    return 16;
  }
  expInto(src: number, dst: number, len: number): void {
    this.each("expInto", len, [f(src), f(dst)]);
  }
  sigmoidInto(src: number, dst: number, len: number): void {
    this.each("sigmoidInto", len, [f(src), f(dst)]);
  }
  tanhInto(src: number, dst: number, len: number): void {
    this.each("tanhInto", len, [f(src), f(dst)]);
  }
  /** Nothing is packed on the GPU. */
  packedSize(): number {
    return 0;
  }
  packB(): void {}
  gemmPacked(): void {
    throw new Error("The WebGPU engine has no packed products: use its Products (webgpuProducts)");
  }
  lstmForward(n: number, H: number, gates: number, bias: number, cPrev: number, c: number, h: number): void {
    this.each("lstmForward", n * H, [H, f(gates), f(bias), cPrev ? 1 : 0, f(cPrev), f(c), f(h)]);
  }
  lstmBackward(n: number, H: number, gates: number, c: number, cPrev: number, dh: number, dc: number, dG: number) {
    this.each("lstmBackward", n * H, [H, f(gates), f(c), cPrev ? 1 : 0, f(cPrev), f(dh), f(dc), f(dG)]);
  }
  windowForward(att: number, raw: number, rawStride: number): void {
    const a = this.attention(att);
    this.each("windowForward", a[0] * 2 * a[1], [...a, f(raw), rawStride]);
  }
  readForward(att: number, x: number, sig: number, out: number, outStride: number): void {
    const a = this.attention(att), [n, N, A, , C] = a, P = sig ? 2 : 1, base = [...a, P, f(x), f(sig)];
    this.each("readU", n * N * P * C * A, base);
    this.each("readPatch", n * N * P * C * N, [...base, f(out), outStride]);
  }
  readBackward(
    att: number,
    x: number,
    sig: number,
    patch: number,
    dPatch: number,
    patchStride: number,
    dc: number,
    dRaw: number,
    dRawStride: number,
  ): void {
    const a = this.attention(att), [n, N, A, B, C] = a, P = sig ? 2 : 1, base = [...a, P, f(x), f(sig)];
    this.each("readBackwardU", n * N * P * C * A, [...base, f(dPatch), patchStride]);
    this.each("readBackwardBanks", n * N * (A + B), [...base, f(dPatch), patchStride]);
    if (sig) this.each("readBackwardCanvas", n * B * C * A, [...base, f(dc)]);
    this.each("readBackwardWindow", n, [...base, f(patch), f(dPatch), patchStride, f(dRaw), dRawStride]);
  }
  writeForward(att: number, w: number, wStride: number, canvas: number): void {
    const a = this.attention(att), [n, N, A, B, C] = a, base = [...a, f(w), wStride];
    this.each("writeV", n * N * C * A, base);
    this.each("writeCanvas", n * B * C * A, [...base, f(canvas)]);
  }
  writeBackward(
    att: number,
    w: number,
    wStride: number,
    dCanvas: number,
    dw: number,
    dwStride: number,
    dRaw: number,
    dRawStride: number,
  ): void {
    const a = this.attention(att), [n, N, A, B, C] = a, base = [...a, f(w), wStride];
    this.each("writeBackwardV", n * (N * C * A + N * B), [...base, f(dCanvas)]);
    this.each("writeBackwardW", n * (N * C * N + N * A), [...base, f(dw), dwStride]);
    this.each("writeBackwardWindow", n, [...base, f(dRaw), dRawStride]);
  }
  bernoulliForward(n: number, D: number, canvas: number, x: number, lx: number): void {
    this.groups("bernoulliForward", [n, 1], [D, f(canvas), f(x), f(lx)]);
  }
  bernoulliBackward(n: number, D: number, canvas: number, x: number, dlx: number, dc: number): void {
    this.each("bernoulliBackward", n * D, [D, f(canvas), f(x), f(dlx), f(dc)]);
  }
  posteriorForward(n: number, Z: number, q: number, eps: number, z: number, zs: number, lz: number, lr: number) {
    this.each("posteriorForward", n, [Z, f(q), f(eps), f(z), zs, f(lz), f(lr)]);
  }
  posteriorBackward(n: number, Z: number, q: number, eps: number, dz: number, dzs: number, dlz: number, dq: number) {
    this.each("posteriorBackward", n * Z, [Z, f(q), f(eps), f(dz), dzs, f(dlz), f(dq)]);
  }
  addColumnSums(m: number, rows: number, cols: number, into: number): void {
    if (rows > 0) this.each("addColumnSums", cols, [f(m), rows, f(into)]); // total = cols
  }
  addInto(x: number, y: number, len: number): void {
    this.each("addInto", len, [f(x), f(y)]);
  }
  copyRows(dst: number, dstStride: number, src: number, srcStride: number, rows: number, cols: number): void {
    this.each("copyRows", rows * cols, [f(dst), dstStride, f(src), srcStride, cols]);
  }
  addRows(dst: number, dstStride: number, src: number, srcStride: number, rows: number, cols: number): void {
    this.each("addRows", rows * cols, [f(dst), dstStride, f(src), srcStride, cols]);
  }
  readWholeForward(n: number, D: number, x: number, sig: number, out: number, outStride: number): void {
    this.each("readWholeForward", n * D, [D, f(x), f(sig), f(out), outStride]);
  }
  readWholeBackward(n: number, D: number, sig: number, dOut: number, outStride: number, dc: number): void {
    this.each("readWholeBackward", n * D, [D, f(sig), f(dOut), outStride, f(dc)]);
  }
  zero(x: number, len: number): void {
    this.each("zero", len, [f(x)]);
  }

  /** WebGPU only: the classifier's softmax cross-entropy per image, and the gradient of its batch mean. */
  softmaxCrossEntropy(n: number, K: number, logits: number, labels: number, loss: number, dLogits: number): void {
    this.each("softmaxCrossEntropy", n, [K, f(logits), f(labels), f(loss), f(dLogits)]);
  }

  /** The products, recorded as tiled WGSL dispatches. */
  products(): Products {
    const gemm: Products["gemm"] = (tA, tB, M, N, K, a, lda, b, ldb, beta, c, ldc) =>
      this.groups(
        "gemm",
        [Math.ceil(N / TILE), Math.ceil(M / TILE)],
        [M, N, K, f(a), lda, +tA, f(b), ldb, +tB, beta, f(c), ldc],
      );
    return {
      where: "WGSL",
      gemm,
      pack() {},
      gemmWith: (tA, M, a, lda, b: Operand, beta, c, ldc) =>
        gemm(tA, b.trans, M, b.N, b.K, a, lda, b.ptr, b.ld, beta, c, ldc),
    };
  }
}

/** Usage of the engine's GPU buffers: bound as storage, copied in and out (tfjs takes copies). */
export const STORAGE: number = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/**
 * A fresh heap and its recording kernels on `device`, as the context a fused runner allocates its
 * buffers from; once it has, {@link WebGpuHeap.create} makes the GPU buffer.
 */
export class WebGpuHeap {
  readonly heap: GpuHeap = new GpuHeap();
  readonly kernels: WebGpuKernels;
  readonly context: EngineContext;
  private buffer?: GPUBuffer;

  constructor(readonly device: GPUDevice) {
    this.kernels = new WebGpuKernels(device, this.heap);
    this.context = {
      arena: this.heap,
      kernels: this.kernels,
      products: () => this.kernels.products(),
      parallelImages: true,
    };
  }

  /** Makes the heap's buffer (everything allocated so far) and binds it; refuses one the adapter cannot bind. */
  create(what: string, batch: number): GPUBuffer {
    const used = this.heap.used, limit = this.device.limits.maxStorageBufferBindingSize;
    if (used > limit) {
      throw new RangeError(
        `Cannot build the WebGPU engine's ${what} for batch ${batch} as it needs ${(used / 2 ** 20).toFixed(0)} ` +
          `MiB in one buffer, more than this adapter binds (${
            (limit / 2 ** 20).toFixed(0)
          } MiB): use a smaller --batch`,
      );
    }
    this.buffer = this.device.createBuffer({ label: `${what} heap`, size: used, usage: STORAGE });
    this.kernels.bind(this.buffer);
    return this.buffer;
  }

  /** An output buffer of exactly `floats` values (tfjs copies the whole buffer into a tensor). */
  output(floats: number, label: string): GPUBuffer {
    return this.device.createBuffer({ label, size: 4 * Math.max(1, floats), usage: STORAGE });
  }

  /** Frees the heap and the parameter buffers. */
  dispose(): void {
    this.kernels.dispose();
    this.buffer?.destroy();
  }
}
