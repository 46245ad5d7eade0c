/**
 * The classifier of Section 4.1 on the fused engine's kernels: glimpses through Eqs 19–27 (the
 * image alone), an LSTM, and a linear layer to class scores, forward and backward by hand, on one
 * arena of shared WebAssembly memory. classifierForward uses it when given the fused engine; the
 * spec checks it against the tfjs composition.
 *
 * @module
 */
import { classifierSpecs } from "../../params.ts";
import type { ClassifierConfig } from "../../config.ts";
import {
  type Allocator,
  AttentionStruct,
  type EngineContext,
  type KernelExports,
  mat,
  matT,
  product,
  productWith,
  WINDOW,
} from "./kernels.ts";
import type { Operand, Products } from "./kernels.ts";
import { at, carve, type Carved, type FusedWeights, perStep, type WeightOffsets, weightOffsets } from "./layout.ts";

/** What runs the classifier on the fused engine: one {@link FusedClassifier}, or a pool of them over threads. */
export interface ClassifierRunner {
  /** Batch size. */
  readonly batch: number;
  /** Forward passes so far (a backward pass refers to the latest). */
  readonly passes: number;
  /** Where the products run, for the log. */
  readonly products: string;
  /** Class scores [batch, classes] for images x [batch, B, C, A] (internal layout). */
  forward(weights: FusedWeights, x: Float32Array): Float32Array;
  /** Gradient of Σ dLogits ⊙ logits for the latest forward pass, by weight name (views: copy what you keep). */
  backward(dLogits: Float32Array): FusedWeights;
  /** Frees threads, if any. */
  dispose(): void;
}

/**
 * The buffers of a {@link FusedClassifier}, in the order carved (layout.ts): the flat weights (unless another
 * runner's are shared) and their gradients, the images, the class scores and their gradient, every glimpse's stores [glimpses, n, width], h_0, the
 * attention struct, one step's gradients, and where the one-off products pack op(B).
 */
function classifierLayout(
  config: ClassifierConfig,
  n: number,
  c: { params: number; weightsPtr?: number; copies: number; k: KernelExports },
) {
  const { glimpses: T, hidden: H, readN: N, channels: C, width: A, height: B, classes: K } = config;
  const R = N * N * C, E = R + H, G = 4 * H, wide = Math.max(K, WINDOW.size);
  const steps = (width: number) => perStep(n, width, T),
    pk = (rows: number, cols: number) => c.k.packedSize(rows, cols);
  return {
    weights: c.weightsPtr === undefined ? c.params : at(c.weightsPtr),
    grads: c.params,
    x: n * A * B * C,
    logits: n * K,
    dLogits: n * K,
    steps: {
      in: steps(E), // glimpse, h_{t−1}
      gates: steps(G),
      c: steps(H),
      h: steps(H),
      raw: steps(WINDOW.size),
      win: steps(WINDOW.size),
      F: steps(N * (A + B)),
      U: steps(N * C * A),
    },
    h0: n * H,
    att: (a: Allocator) => new AttentionStruct(a, { n, N, A, B, C }, c.copies),
    grad: { dh: n * H, dc: n * H, dG: n * G, dIn: n * E, dRaw: n * WINDOW.size },
    work: Math.max(pk(n, G), pk(n, wide), pk(H, wide), pk(wide, H)),
  };
}

/** Buffers and code for one classifier configuration and batch size. */
export class FusedClassifier implements ClassifierRunner {
  /** The configuration. */
  readonly config: ClassifierConfig;
  /** The batch size the buffers are sized for. */
  readonly batch: number;
  /** This thread's kernels (the pool sums shares' gradients with them). @internal */
  readonly k: KernelExports;
  private readonly p: Products;
  private readonly arena: Allocator;
  /** Each parameter's place in the weight and gradient vectors. */
  readonly offsets: WeightOffsets;
  /** Byte offset of the flat weights. */
  readonly weightsPtr: number;
  /** Byte offset of their gradients. */
  readonly gradsPtr: number;
  /** Byte offset of the images [n, D] (internal layout). */
  readonly x: number;
  /** Byte offset of the class scores [n, K]. */
  readonly logits: number;
  /** Byte offset of the class scores' gradient [n, K]. */
  readonly dLogits: number;
  private readonly R: number; // glimpse length N·N·C
  /** The LSTM's kernel [R + H, 4H] as a product's operand, and its transpose (with their packed panels). */
  private readonly lstm: Operand;
  private readonly lstmT: Operand;
  /** The rest of its buffers ({@link classifierLayout}). */
  private readonly b: Carved<ReturnType<typeof classifierLayout>>;
  /** Every glimpse's stores, [glimpses, n, width] (`b.steps`). */
  private readonly s: Carved<ReturnType<typeof classifierLayout>>["steps"];
  private forwards = 0;

  /**
   * Allocates the buffers from the context's arena; the weights at `options.weightsPtr` where
   * given (shared with other threads' runners), else its own.
   */
  constructor(config: ClassifierConfig, batch: number, ctx: EngineContext, options: { weightsPtr?: number } = {}) {
    this.config = config;
    this.batch = batch;
    const a = this.arena = ctx.arena;
    this.k = ctx.kernels;
    const { hidden: H, readN: N, channels: C } = config;
    const R = this.R = N * N * C, E = R + H, G = 4 * H;
    this.offsets = weightOffsets(classifierSpecs(config));
    const layout = classifierLayout(config, batch, {
      params: this.offsets.total,
      weightsPtr: options.weightsPtr,
      copies: ctx.parallelImages ? batch : 1,
      k: this.k,
    });
    const b = this.b = carve(a, layout);
    this.s = b.steps;
    this.weightsPtr = b.weights;
    this.gradsPtr = b.grads;
    this.x = b.x;
    this.logits = b.logits;
    this.dLogits = b.dLogits;
    // the LSTM's kernel [E, G] and its transpose, with their packed panels
    const lstm = { K: E, N: G, trans: false, ptr: this.w("lstm.kernel"), ld: G };
    this.lstm = { ...lstm, packed: a.alloc(this.k.packedSize(E, G)) };
    this.lstmT = { ...lstm, K: G, N: E, trans: true, packed: a.alloc(this.k.packedSize(G, E)) };
    this.p = ctx.products(b.work, layout.work);
  }

  /** Byte offset of the named weight. */
  private w(name: string): number {
    return this.weightsPtr + 4 * this.offsets.at[name][0];
  }

  /** Byte offset of the named weight's gradient. */
  private g(name: string): number {
    return this.gradsPtr + 4 * this.offsets.at[name][0];
  }

  /** Nothing to free: the arena goes with its last runner. */
  dispose(): void {}

  /** Forward passes so far (a backward pass refers to the latest). */
  get passes(): number {
    return this.forwards;
  }

  /** Where the products run. */
  get products(): string {
    return this.p.where;
  }

  /** The attention struct pointed at glimpse t's buffers. */
  private attention(t: number): number {
    const { win, F, U } = this.s;
    return this.b.att.at(win.at(t), F.at(t), U.at(t));
  }

  /** Class scores [batch, classes] for images x [batch, B, C, A] (internal layout). */
  forward(weights: FusedWeights, x: Float32Array): Float32Array {
    this.loadWeights(weights);
    this.setImages(x);
    this.runForward();
    return this.scores();
  }

  /** Copies the named weights into the weight vector. */
  loadWeights(weights: FusedWeights): void {
    for (const [name, [o, size]] of Object.entries(this.offsets.at)) {
      this.arena.f32(this.weightsPtr + 4 * o, size).set(weights[name]);
    }
  }

  /** Copies images x [batch, B, C, A] in. */
  setImages(x: Float32Array): void {
    const { channels: C, width: A, height: B } = this.config, n = this.batch * B * C * A;
    if (x.length !== n) throw new RangeError(`Cannot classify as x must hold ${n} values: it holds ${x.length}`);
    this.arena.f32(this.x, n).set(x);
  }

  /** The class scores of the latest forward pass (a copy). */
  scores(): Float32Array {
    return this.arena.f32(this.logits, this.batch * this.config.classes).slice();
  }

  /** Copies the logits' gradient [batch, classes] in, for {@link runBackward}. */
  setLogitGradients(dLogits: Float32Array): void {
    this.arena.f32(this.dLogits, this.batch * this.config.classes).set(dLogits);
  }

  /** The gradients of the latest backward pass, by name: views of the arena, valid until the next backward pass. */
  gradients(): FusedWeights {
    const out: FusedWeights = {};
    for (const [name, [o, size]] of Object.entries(this.offsets.at)) {
      out[name] = this.arena.f32(this.gradsPtr + 4 * o, size);
    }
    return out;
  }

  /** The glimpses, the LSTM and the class scores on the loaded weights and images, into the logits buffer. */
  runForward(): void {
    const { glimpses: T, hidden: H, classes: K } = this.config;
    const n = this.batch, R = this.R, E = R + H, G = 4 * H;
    this.forwards++;
    const k = this.k, p = this.p, w = (name: string) => this.w(name);
    p.pack(this.lstm);
    k.copyRows(this.b.h0, H, w("h0"), 0, n, H);
    for (let t = 0; t < T; t++) {
      const hPrev = t === 0 ? this.b.h0 : this.s.h.at(t - 1);
      const raw = this.s.raw.at(t), inp = this.s.in.at(t);
      k.copyRows(raw, WINDOW.size, w("read.bias"), 0, n, WINDOW.size);
      product(p, [n, WINDOW.size, H], mat(hPrev, H), mat(w("read.kernel"), WINDOW.size), mat(raw, WINDOW.size), 1); // Eq 21
      const att = this.attention(t);
      k.windowForward(att, raw, WINDOW.size);
      k.readForward(att, this.x, 0, inp, E); // Eq 27 on x: [n, N, C, N]
      k.copyRows(inp + 4 * R, E, hPrev, H, n, H);
      productWith(p, n, mat(inp, E), this.lstm, mat(this.s.gates.at(t), G), 0);
      const cPrev = t === 0 ? 0 : this.s.c.at(t - 1);
      k.lstmForward(
        n,
        H,
        this.s.gates.at(t),
        w("lstm.bias"),
        cPrev,
        this.s.c.at(t),
        this.s.h.at(t),
      );
    }
    k.copyRows(this.logits, K, w("out.bias"), 0, n, K);
    product(p, [n, K, H], mat(this.s.h.at(T - 1), H), mat(w("out.kernel"), K), mat(this.logits, K), 1);
  }

  /** Gradient of Σ dLogits ⊙ logits for the latest forward pass, by weight name. */
  backward(dLogits: Float32Array): FusedWeights {
    this.setLogitGradients(dLogits);
    this.runBackward();
    return this.gradients();
  }

  /** The backward pass on the loaded logit gradients: every weight's gradient into the gradient vector. */
  runBackward(): void {
    const { glimpses: T, hidden: H, classes: K } = this.config;
    const n = this.batch, R = this.R, E = R + H, G = 4 * H;
    const k = this.k,
      p = this.p,
      gr = this.b.grad,
      g = (name: string) => this.g(name),
      w = (name: string) => this.w(name);
    k.zero(this.gradsPtr, this.offsets.total);
    k.zero(gr.dc, n * H);
    p.pack(this.lstmT);
    const hLast = this.s.h.at(T - 1);
    product(p, [n, H, K], mat(this.dLogits, K), matT(w("out.kernel"), K), mat(gr.dh, H), 0);
    product(p, [H, K, n], matT(hLast, H), mat(this.dLogits, K), mat(g("out.kernel"), K), 0);
    k.addColumnSums(this.dLogits, n, K, g("out.bias"));
    for (let t = T - 1; t >= 0; t--) {
      const hPrev = t === 0 ? this.b.h0 : this.s.h.at(t - 1), inp = this.s.in.at(t);
      const cPrev = t === 0 ? 0 : this.s.c.at(t - 1);
      k.lstmBackward(n, H, this.s.gates.at(t), this.s.c.at(t), cPrev, gr.dh, gr.dc, gr.dG);
      productWith(p, n, mat(gr.dG, G), this.lstmT, mat(gr.dIn, E), 0); // [n, R + H]
      product(p, [E, G, n], matT(inp, E), mat(gr.dG, G), mat(g("lstm.kernel"), G), 1);
      k.addColumnSums(gr.dG, n, G, g("lstm.bias"));
      k.readBackward(this.attention(t), this.x, 0, inp, gr.dIn, E, 0, gr.dRaw, WINDOW.size);
      k.copyRows(gr.dh, H, gr.dIn + 4 * R, E, n, H);
      product(p, [n, H, WINDOW.size], mat(gr.dRaw, WINDOW.size), matT(w("read.kernel"), WINDOW.size), mat(gr.dh, H), 1); // ∂h_{t−1} via Eq 21
      product(p, [H, WINDOW.size, n], matT(hPrev, H), mat(gr.dRaw, WINDOW.size), mat(g("read.kernel"), WINDOW.size), 1);
      k.addColumnSums(gr.dRaw, n, WINDOW.size, g("read.bias"));
    }
    k.addColumnSums(gr.dh, n, H, g("h0"));
  }
}
