/**
 * DRAW on the fused engine: Eqs 1–29 and their exact gradient (backpropagation through time,
 * derived by hand), unrolled over the T steps here and computed by the wasm SIMD kernels of
 * `src/engine/fused/kernels/` (one call per equation group per step, over the whole batch), with every buffer
 * in one arena of a shared WebAssembly memory, laid out as draw_layout.ts describes. The matrix products go
 * through {@link Products}: the kernels' own, or a CBLAS library on the same memory (the WebGPU engine runs the
 * same program over its own kernels and heap).
 *
 * Layouts are draw.ts's: images are [batch, B, C, A] flattened; the decoder's head is
 * [write window (5) | write (N·N·C, or D) | next read window (5)]; the encoder's input is
 * [read (R) | h^dec_{t−1} (H) | h^enc_{t−1} (H)], the decoder's [z (Z) | h^dec_{t−1} (H)].
 *
 * Without attention the read vector is [x, x̂_t] (Eq 17), and x is the same at every step: its share
 * of the encoder's gates, x·W_x, is multiplied once per pass instead of T times, the gradient of
 * W_x is xᵀ·Σ_t ∂gates_t (one product), and ∂x, which nothing needs, is not computed. At Table 3's
 * sizes that is 784 of the encoder kernel's 2,080 rows, about 29% of a step's multiply-adds.
 *
 * @module
 */
import { type DrawConfig, validateConfig } from "../../config.ts";
import { paramSpecs } from "../../params.ts";
import {
  type Allocator,
  type EngineContext,
  type KernelExports,
  mat,
  matT,
  product,
  type Products,
  productWith,
  WINDOW,
} from "./kernels.ts";
import { carve, type Carved, type FusedWeights, type WeightOffsets, weightOffsets } from "./layout.ts";
import {
  type DrawBuffers,
  drawLayout,
  drawSizes,
  type FusedDrawOptions,
  type LayoutContext,
  type LstmOperand,
  operandLayout,
  ROWS,
  type TeamOperand,
  teamSizes,
} from "./draw_layout.ts";
import { Team } from "./team.ts";

/** Per-image results of a forward pass. */
export interface FusedLoss {
  /** Eq 9 per image, nats. */
  lx: Float32Array;
  /** Eqs 10–11 per image, nats. */
  lz: Float32Array;
  /** log p(z) − log q(z | x) of the sample drawn, per image. */
  logRatio: Float32Array;
}

/**
 * A pass's noise ε [T, batch, z]: its values, or the seed of random.ts's fillNoise (drawn by the
 * engine where it runs: each thread its own images').
 */
export type Noise = Float32Array | number;

/** What runs DRAW on the fused engine: one {@link FusedDraw}, or a pool of them over threads. */
export interface FusedRunner {
  /** Batch size. */
  readonly batch: number;
  /** Forward passes so far (a backward pass refers to the latest). */
  readonly passes: number;
  /** Where the products run, for the log. */
  readonly products: string;
  /**
   * Eqs 1–12; keeps what {@link backward} needs. The noise: values [T, batch, z], or a seed whose
   * random.ts fillNoise values each thread draws for its own images.
   */
  forward(weights: FusedWeights, x: Float32Array, eps: Noise): FusedLoss;
  /** Gradient of Σ dlx·Lx + dlz·Lz for the latest forward pass (views of the runner's memory: copy what you keep). */
  backward(dlx: Float32Array, dlz: Float32Array): FusedWeights;
  /** Eqs 13–16: final canvases as logits [batch, D], from noise values or a seed (as {@link forward}). */
  generate(weights: FusedWeights, eps: Noise): Float32Array;
  /** Frees threads, if any. */
  dispose(): void;
}

/**
 * The buffers and code of DRAW for one configuration and batch size. {@link forward} keeps what
 * {@link backward} needs; a backward pass always refers to the latest forward pass. Allocation is
 * deterministic ({@link drawLayout}), so another thread that builds the same runner on the same arena
 * position finds the same buffers (fused/pool.ts relies on it).
 */
export class FusedDraw implements FusedRunner {
  /** The configuration. */
  readonly config: DrawConfig;
  /** The batch size the buffers are sized for. */
  readonly batch: number;
  /** Byte offsets of the flat weights (maybe shared with other threads' runners) and this runner's gradients. */
  readonly weightsPtr: number;
  readonly gradsPtr: number;
  /** Inputs and outputs, byte offsets: x [n, D], eps [T, n, z], lx, lz, logRatio, dlx, dlz [n], canvas [n, D]. */
  readonly io: DrawBuffers["io"];
  readonly canvas: number;
  /** This thread's kernels. */
  readonly k: KernelExports;
  private readonly p: Products;
  private readonly arena: Allocator;
  /** Each parameter's place in the weight and gradient vectors. */
  readonly offsets: WeightOffsets;
  // sizes (see DrawSizes)
  private readonly D: number;
  private readonly R: number;
  private readonly W: number;
  private readonly S: number;
  private readonly wOff: number;
  private readonly rOff: number;
  private readonly E: number;
  private readonly Q: number;
  private readonly X: number;
  /**
   * The rest of its buffers ({@link drawLayout}): the per-step stores (`stores`, `read`, `write`), one step's,
   * the backward pass's (`grad`) and the noise kernel's (`seeded`).
   */
  private readonly b: DrawBuffers;
  /** The per-step stores of the forward pass, each [slots, n, width] (`b.stores`). */
  private readonly s: DrawBuffers["stores"];
  private readonly operands: Carved<ReturnType<typeof operandLayout>>["whole"];
  /** This thread's team (a pool's training runner; see team.ts). */
  readonly team?: Team;
  /** In a team: this thread's columns of the LSTMs' operands, and the first column's index. */
  private readonly teamOps?: Record<Exclude<LstmOperand, "encX">, TeamOperand> & { encX?: TeamOperand };
  private forwards = 0;

  /** Whether this runner keeps what a backward pass needs. */
  readonly training: boolean;

  /** Carves every buffer for `config` and `batch` images from the context's arena ({@link drawLayout}). */
  constructor(config: DrawConfig, batch: number, ctx: EngineContext, options: FusedDrawOptions = {}) {
    const { weightsPtr, training = true } = options;
    this.config = validateConfig(config);
    if (!Number.isInteger(batch) || batch < 1) {
      throw new RangeError(`Cannot build fused engine as batch must be an integer >= 1: current value is ${batch}`);
    }
    this.batch = batch;
    this.training = training;
    const a = this.arena = ctx.arena;
    this.k = ctx.kernels;
    ({ D: this.D, R: this.R, W: this.W, S: this.S, wOff: this.wOff, rOff: this.rOff, E: this.E, Q: this.Q, X: this.X } =
      drawSizes(config));
    this.offsets = weightOffsets(paramSpecs(config));
    const team = this.team = options.team && training ? new Team(a, options.team, teamSizes(config)) : undefined;
    if (team && team.place.n !== batch) {
      throw new RangeError(`Cannot build fused engine as its team place holds ${team.place.n} images, not ${batch}`);
    }
    const c: LayoutContext = {
      training,
      params: this.offsets.total,
      weightsPtr,
      team,
      copies: ctx.parallelImages ? batch : 1,
      k: this.k,
    };
    const layout = drawLayout(config, batch, c), b = carve(a, layout);
    this.b = b;
    this.s = b.stores;
    this.weightsPtr = b.weights;
    this.gradsPtr = b.grads;
    this.io = b.io;
    this.canvas = b.canvas;
    const ops = carve(a, operandLayout(config, (name) => this.w(name), b.headKernel, c));
    this.operands = ops.whole;
    this.teamOps = ops.team;
    this.p = ctx.products(b.work, layout.work);
  }

  /** Where the products run. */
  get products(): string {
    return this.p.where;
  }

  /** Byte offset of the named weight. */
  private w(name: string): number {
    return this.weightsPtr + 4 * this.offsets.at[name][0];
  }

  /** Byte offset of the named weight's gradient. */
  private g(name: string): number {
    return this.gradsPtr + 4 * this.offsets.at[name][0];
  }

  /**
   * Copies named weights into the weight vector; absent ones are left as they are (generation is given the
   * decoder's alone: it reads no others).
   */
  loadWeights(weights: FusedWeights): void {
    for (const [name, [o, size]] of Object.entries(this.offsets.at)) {
      if (weights[name]) this.arena.f32(this.weightsPtr + 4 * o, size).set(weights[name]);
    }
  }

  /** Copies x [n, D] and eps in (see {@link setNoise}). */
  setInputs(x: Float32Array, eps: Noise, first = 0, of = this.batch): void {
    const n = this.batch;
    if (x.length !== n * this.D) {
      throw new RangeError(`Cannot run fused DRAW as x must hold ${n * this.D} values: it holds ${x.length}`);
    }
    this.arena.f32(this.io.x, n * this.D).set(x);
    this.setNoise(eps, first, of);
  }

  /**
   * This runner's noise: the images [first, first + batch) of eps [T, of, z] (a pool's share), copied
   * in; or, given a seed, drawn by the pass itself on the thread it runs on (fillNoise's values).
   */
  setNoise(eps: Noise, first = 0, of = this.batch): void {
    const { T, z } = this.config, n = this.batch;
    if (typeof eps === "number") {
      if (!this.b.seeded) throw new Error("Cannot draw noise from a seed on these kernels: give its values");
      this.b.seeded.words.set([eps | 0, first, of, 1]);
      return;
    }
    if (this.b.seeded) this.b.seeded.words[3] = 0;
    if (eps.length !== T * of * z) {
      throw new RangeError(`Cannot run fused DRAW as eps must hold ${T * of * z} values: it holds ${eps.length}`);
    }
    const into = this.arena.f32(this.io.eps, T * n * z);
    for (let t = 0; t < T; t++) into.set(eps.subarray((t * of + first) * z, (t * of + first + n) * z), t * n * z);
  }

  /** Eqs 1–12 on `x` [batch, D] (internal layout) with noise `eps` [T, batch, z] (or its seed). */
  forward(weights: FusedWeights, x: Float32Array, eps: Noise): FusedLoss {
    this.loadWeights(weights);
    this.setInputs(x, eps);
    this.runForward();
    return this.losses();
  }

  /** The per-image results of the latest forward pass (copies). */
  losses(): FusedLoss {
    const n = this.batch, f = (p: number) => this.arena.f32(p, n).slice();
    return { lx: f(this.io.lx), lz: f(this.io.lz), logRatio: f(this.io.logRatio) };
  }

  /** Copies the loss gradients dlx, dlz [n] in, for {@link runBackward}. */
  setLossGradients(dlx: Float32Array, dlz: Float32Array): void {
    this.arena.f32(this.io.dlx, this.batch).set(dlx);
    this.arena.f32(this.io.dlz, this.batch).set(dlz);
  }

  /** Where {@link setNoise} was given a seed: this runner's images' noise, drawn here (on its thread). */
  private drawNoise(): void {
    if (!this.b.seeded?.words[3]) return;
    const { T, z } = this.config, n = this.batch, [seed, first, of] = this.b.seeded.words;
    for (let t = 0; t < T; t++) {
      this.k.noise!(seed, (t * of + first) * z, n * z, this.io.eps + 4 * t * n * z, this.b.seeded.tables);
    }
  }

  /** The concatenated decoder head (kernel [H, S], bias [S]); the read part zero for generation. */
  private buildHead(withRead: boolean) {
    const { hidden: H, readN, writeN } = this.config, k = this.k, S = this.S;
    const parts: [string, number, number][] = [];
    if (writeN > 0) parts.push(["write.window", 0, WINDOW.size]);
    parts.push(["write", this.wOff, this.W]);
    if (readN > 0) parts.push(["read", this.rOff, WINDOW.size]);
    for (const [name, col, width] of parts) {
      const zero = name === "read" && !withRead;
      k.copyRows(
        this.b.headKernel + 4 * col,
        S,
        zero ? this.b.zeros : this.w(`${name}.kernel`),
        zero ? 0 : width,
        H,
        width,
      );
      k.copyRows(this.b.headBias + 4 * col, S, zero ? this.b.zeros : this.w(`${name}.bias`), 0, 1, width);
    }
  }

  /** Eq 8 with Eq 18 or Eq 29: adds every image's write to the canvas; windows go to step t's stores. */
  private writeStep(head: number, t: number) {
    const n = this.batch, S = this.S;
    if (!this.b.write) {
      this.k.addRows(this.canvas, this.D, head, S, n, this.D); // Eq 18
      return;
    }
    const { att, win, F, V } = this.b.write;
    const ptr = att.at(win.at(t), F.at(t), V.at(t));
    this.k.windowForward(ptr, head, S); // the write window's raw values open the head
    this.k.writeForward(ptr, head + 4 * this.wOff, S, this.canvas);
  }

  /**
   * C = A·op(B) + beta·C for one of the LSTMs' large products (a, c: this runner's rows, row strides lda
   * and ldc): alone, or in a team every image's rows by this thread's columns, between two barriers.
   */
  private lstmProduct(a: number, lda: number, b: LstmOperand, c: number, ldc: number, beta: 0 | 1 = 0): void {
    const team = this.team, mine = this.teamOps?.[b];
    if (!team || !mine) {
      productWith(this.p, this.batch, mat(a, lda), this.operands[b]!, mat(c, ldc), beta);
      return;
    }
    const first = team.place.first;
    team.barrier(); // every thread's rows of A are written
    productWith(
      this.p,
      team.place.batch,
      mat(a - 4 * first * lda, lda),
      mine.op,
      mat(c - 4 * first * ldc + 4 * mine.c0, ldc),
      beta,
    );
    team.barrier(); // every thread's columns of C are written
  }

  /** Eqs 1–12 on the loaded weights, x and eps; keeps what the backward pass needs. */
  runForward(): void {
    const { T, hidden: H, z } = this.config;
    const n = this.batch, D = this.D, R = this.R, E = this.E, Q = this.Q, S = this.S, G = 4 * H;
    const k = this.k, p = this.p, ops = this.operands, w = (name: string) => this.w(name);
    const mine = this.teamOps;
    this.forwards++;
    this.drawNoise();
    this.buildHead(true);
    // the weights, once for T steps (in a team, this thread's columns of the LSTMs')
    for (const o of [mine?.enc.op ?? ops.enc, mine?.dec.op ?? ops.dec, ops.post, ops.head]) p.pack(o);
    if (ops.encX) p.pack(mine?.encX?.op ?? ops.encX);
    k.copyRows(this.canvas, D, w("canvas0"), 0, n, D);
    k.copyRows(this.b.h0dec, H, w("decoder.h0"), 0, n, H);
    if (this.b.read) {
      k.copyRows(this.b.head0, WINDOW.size, w("read.bias"), 0, n, WINDOW.size);
      product(
        p,
        [n, WINDOW.size, H],
        mat(this.b.h0dec, H),
        mat(w("read.kernel"), WINDOW.size),
        mat(this.b.head0, WINDOW.size),
        1,
      );
    }
    k.zero(this.io.lz, n);
    k.zero(this.io.logRatio, n);
    for (let t = 0; t < T; t++) {
      const sig = this.s.sig.at(t), encIn = this.s.encIn.at(t);
      const hDecPrev = t === 0 ? this.b.h0dec : this.s.decH.at(t - 1);
      k.sigmoidInto(this.canvas, sig, n * D);
      // Eqs 3–4 with Eq 17 or 27: the read vector
      if (this.b.read) {
        const { att, win, F, U } = this.b.read;
        const ptr = att.at(win.at(t), F.at(t), U.at(t));
        if (t === 0) k.windowForward(ptr, this.b.head0, WINDOW.size);
        else k.windowForward(ptr, this.s.head.at(t - 1) + 4 * this.rOff, S);
        k.readForward(ptr, this.io.x, sig, encIn, E); // [n, N, 2C, N] at the row's start
      } else {
        k.readWholeForward(n, D, this.io.x, sig, encIn, E);
      }
      k.copyRows(encIn + 4 * R, E, hDecPrev, H, n, H);
      if (t === 0) k.copyRows(encIn + 4 * (R + H), E, w("encoder.h0"), 0, n, H);
      else k.copyRows(encIn + 4 * (R + H), E, this.s.encH.at(t - 1), H, n, H);
      // Eq 5: the encoder, [n, 4H]; x's share of its gates once per pass, where x is read whole
      if (this.X > 0) {
        if (t === 0) this.lstmProduct(encIn, E, "encX", this.b.xGates, G); // x·W_x
        k.copyRows(this.s.encG.at(t), G, this.b.xGates, G, n, G);
        this.lstmProduct(encIn + 4 * this.X, E, "enc", this.s.encG.at(t), G, 1);
      } else {
        this.lstmProduct(encIn, E, "enc", this.s.encG.at(t), G);
      }
      const cEncPrev = t === 0 ? 0 : this.s.encC.at(t - 1);
      k.lstmForward(
        n,
        H,
        this.s.encG.at(t),
        w("encoder.bias"),
        cEncPrev,
        this.s.encC.at(t),
        this.s.encH.at(t),
      );
      // Eqs 1–2, 6, 10–11: the posterior, its sample and its KL
      const q = this.s.q.at(t), decIn = this.s.decIn.at(t);
      k.copyRows(q, 2 * z, w("posterior.bias"), 0, n, 2 * z);
      productWith(p, n, mat(this.s.encH.at(t), H), ops.post, mat(q, 2 * z), 1); // [n, 2z]
      k.posteriorForward(n, z, q, this.io.eps + 4 * t * n * z, decIn, Q, this.io.lz, this.io.logRatio);
      k.copyRows(decIn + 4 * z, Q, hDecPrev, H, n, H);
      // Eq 7: the decoder
      this.lstmProduct(decIn, Q, "dec", this.s.decG.at(t), G);
      const cDecPrev = t === 0 ? 0 : this.s.decC.at(t - 1);
      k.lstmForward(
        n,
        H,
        this.s.decG.at(t),
        w("decoder.bias"),
        cDecPrev,
        this.s.decC.at(t),
        this.s.decH.at(t),
      );
      // the head: write window, write, next read window; then Eq 8
      const head = this.s.head.at(t);
      k.copyRows(head, S, this.b.headBias, 0, n, S);
      productWith(p, n, mat(this.s.decH.at(t), H), ops.head, mat(head, S), 1); // [n, S]
      this.writeStep(head, t);
    }
    k.bernoulliForward(n, D, this.canvas, this.io.x, this.io.lx); // Eq 9
  }

  /** The final canvas c_T of the latest pass, as logits [batch, D] (a copy). */
  get finalCanvas(): Float32Array {
    return this.arena.f32(this.canvas, this.batch * this.D).slice();
  }

  /**
   * The gradient of Σ_b (dlx[b]·Lx[b] + dlz[b]·Lz[b]) for the latest {@link forward}, with
   * respect to every weight, by name.
   */
  backward(dlx: Float32Array, dlz: Float32Array): FusedWeights {
    this.setLossGradients(dlx, dlz);
    this.runBackward();
    return this.gradients();
  }

  /** The gradients of the latest backward pass, by name: views of the arena, valid until the next backward pass. */
  gradients(): FusedWeights {
    const out: FusedWeights = {};
    for (const [name, [o, size]] of Object.entries(this.offsets.at)) {
      out[name] = this.arena.f32(this.gradsPtr + 4 * o, size);
    }
    return out;
  }

  /** The backward pass on the loaded dlx, dlz: every weight's gradient into the gradient vector. */
  runBackward(): void {
    if (!this.training) {
      throw new Error("Cannot run a backward pass on a forward-only fused runner (made with training: false)");
    }
    const { T, hidden: H, z } = this.config;
    const n = this.batch, D = this.D, R = this.R, E = this.E, Q = this.Q, S = this.S, G = 4 * H;
    const k = this.k, p = this.p, ops = this.operands, gr = this.b.grad!, mine = this.teamOps;
    for (const o of [mine?.encT.op ?? ops.encT, mine?.decT.op ?? ops.decT, ops.postT, ops.headT]) p.pack(o);
    k.zero(this.gradsPtr, this.offsets.total);
    for (const b of [gr.dhDec, gr.dcDec, gr.dhEnc, gr.dcEnc]) k.zero(b, n * H);
    k.bernoulliBackward(n, D, this.canvas, this.io.x, this.io.dlx, gr.dc); // ∂c_T
    let dReadNext = 0; // ∂ of step t+1's read window raw, [n, 5]; 0 at t = T − 1
    let [dRead, dSpare] = gr.dRead;
    for (let t = T - 1; t >= 0; t--) {
      const head = this.s.head.at(t), dh = gr.dHead.at(t);
      // Eq 8 with Eq 29 (or 18) backward: ∂write and ∂write window from ∂c_t
      if (this.b.write) {
        const { att, win, F, V } = this.b.write;
        const ptr = att.at(win.at(t), F.at(t), V.at(t));
        k.writeBackward(ptr, head + 4 * this.wOff, S, gr.dc, dh + 4 * this.wOff, S, dh, S);
      } else {
        k.copyRows(dh, S, gr.dc, D, n, D);
      }
      if (this.b.read) {
        k.copyRows(dh + 4 * this.rOff, S, dReadNext || this.b.zeros, dReadNext ? WINDOW.size : 0, n, WINDOW.size);
      }
      // the head: ∂h^dec_t += ∂head·Kᵀ
      productWith(p, n, mat(dh, S), ops.headT, mat(gr.dhDec, H), 1);
      // Eq 7 backward
      const cDecPrev = t === 0 ? 0 : this.s.decC.at(t - 1);
      const dDecG = this.s.decG.at(t); // the gate gradients replace the gates, in place, kept for the end
      k.lstmBackward(n, H, this.s.decG.at(t), this.s.decC.at(t), cDecPrev, gr.dhDec, gr.dcDec, dDecG);
      this.lstmProduct(dDecG, G, "decT", gr.dDecIn, Q); // [n, z + H]
      // Eqs 6, 10–11 backward
      const dq = gr.dQ.at(t);
      k.posteriorBackward(n, z, this.s.q.at(t), this.io.eps + 4 * t * n * z, gr.dDecIn, Q, this.io.dlz, dq);
      productWith(p, n, mat(dq, 2 * z), ops.postT, mat(gr.dhEnc, H), 1);
      // Eq 5 backward
      const cEncPrev = t === 0 ? 0 : this.s.encC.at(t - 1);
      const dEncG = this.s.encG.at(t); // likewise
      k.lstmBackward(n, H, this.s.encG.at(t), this.s.encC.at(t), cEncPrev, gr.dhEnc, gr.dcEnc, dEncG);
      this.lstmProduct(dEncG, G, "encT", gr.dEncIn + 4 * this.X, E); // [n, R + 2H], but ∂x (X = 0 with attention)
      // ∂h^dec_{t−1} (through both LSTMs' inputs) and ∂h^enc_{t−1}
      k.copyRows(gr.dhDec, H, gr.dDecIn + 4 * z, Q, n, H);
      k.addRows(gr.dhDec, H, gr.dEncIn + 4 * R, E, n, H);
      k.copyRows(gr.dhEnc, H, gr.dEncIn + 4 * (R + H), E, n, H);
      // Eq 27 (or 17) backward, into ∂c_{t−1} through x̂ = x − σ(c_{t−1})
      const sig = this.s.sig.at(t);
      if (this.b.read) {
        const { att, win, F, U } = this.b.read;
        const ptr = att.at(win.at(t), F.at(t), U.at(t));
        k.readBackward(ptr, this.io.x, sig, this.s.encIn.at(t), gr.dEncIn, E, gr.dc, dRead, WINDOW.size);
        [dReadNext, dRead, dSpare] = [dRead, dSpare, dRead];
      } else {
        k.readWholeBackward(n, D, sig, gr.dEncIn, E, gr.dc);
      }
    }
    this.finishGradients(dReadNext);
  }

  /**
   * After the T steps of {@link runBackward}: the gradients of the weights used at every step
   * (both LSTMs, the posterior and the decoder's head: one product each over all T·n rows, from
   * every step's kept inputs and output gradients) and of the initial states; `dRead1` is ∂ of
   * step 1's read window (raw), [n, 5], or 0.
   */
  private finishGradients(dRead1: number): void {
    const { T, hidden: H, z } = this.config;
    const n = this.batch, D = this.D, S = this.S, E = this.E, Q = this.Q, G = 4 * H;
    const k = this.k, p = this.p, gr = this.b.grad!, g = (name: string) => this.g(name);
    const rows = T * n;
    // ∂W = Σ_t inputᵀ·∂out over `all` rows, in chunks of rows so that packing op(B) needs little
    // memory; ∂out and ∂W have row stride ld (N columns of them where N < ld), the input lda (M columns)
    const weight = (
      all: number,
      M: number,
      N: number,
      ld: number,
      input: number,
      dOut: number,
      kernel: number,
      lda = M,
    ) => {
      for (let r = 0; r < all && N > 0; r += ROWS) {
        const a = input + 4 * r * lda, b = dOut + 4 * r * ld;
        product(p, [M, N, Math.min(ROWS, all - r)], matT(a, lda), mat(b, ld), mat(kernel, ld), r === 0 ? 0 : 1);
      }
    };
    // the encoder kernel's gradient, columns [c0, c1), from m images' inputs and gate gradients [T, m, ·]:
    // rows from X on over every step's rows; rows [0, X) (x, the same at every step) as xᵀ·Σ_t ∂gates_t,
    // the sum in the x·W_x buffer (whole rows at sums), which the pass no longer needs
    const X = this.X;
    const encoderKernel = (m: number, inputs: number, gates: number, sums: number, c0: number, c1: number) => {
      const kernel = g("encoder.kernel") + 4 * c0;
      weight(T * m, E - X, c1 - c0, G, inputs + 4 * X, gates + 4 * c0, kernel + 4 * X * G, E);
      if (X === 0) return;
      k.copyRows(sums + 4 * c0, G, gates + 4 * c0, G, m, c1 - c0);
      for (let t = 1; t < T; t++) k.addRows(sums + 4 * c0, G, gates + 4 * (t * m * G + c0), G, m, c1 - c0);
      product(p, [X, c1 - c0, m], matT(inputs, E), mat(sums + 4 * c0, G), mat(kernel, G), 0); // [X, c1 − c0]
    };
    const sum = (M: number, N: number, input: number, dOut: number, kernel: number, bias: number) => {
      weight(rows, M, N, N, input, dOut, kernel);
      k.addColumnSums(dOut, rows, N, bias);
    };
    k.zero(gr.headB, S);
    const { encIn, encG, decIn, decG, encH, decH } = this.s; // encG, decG: every step's gate gradients by now
    const team = this.team;
    if (team) {
      // the LSTMs' weights: every image's rows (the team's stores), this thread's columns (the
      // others' stay 0 here for the pool's sum); the biases: this thread's images
      const [c0, c1] = team.columns(G), all = T * team.place.batch;
      encoderKernel(team.place.batch, team.encIn, team.encG, team.xGates, c0, c1);
      weight(all, Q, c1 - c0, G, team.decIn, team.decG + 4 * c0, g("decoder.kernel") + 4 * c0);
      for (let t = 0; t < T; t++) {
        k.addColumnSums(encG.at(t), n, G, g("encoder.bias"));
        k.addColumnSums(decG.at(t), n, G, g("decoder.bias"));
      }
    } else {
      encoderKernel(n, encIn.at(0), encG.at(0), this.b.xGates, 0, G);
      k.addColumnSums(encG.at(0), rows, G, g("encoder.bias"));
      sum(Q, G, decIn.at(0), decG.at(0), g("decoder.kernel"), g("decoder.bias"));
    }
    sum(H, 2 * z, encH.at(0), gr.dQ.at(0), g("posterior.kernel"), g("posterior.bias"));
    sum(H, S, decH.at(0), gr.dHead.at(0), gr.headK, gr.headB); // [H, S]
    const parts: [string, number, number][] = [];
    if (this.b.write) parts.push(["write.window", 0, WINDOW.size]);
    parts.push(["write", this.wOff, this.W]);
    if (this.b.read) parts.push(["read", this.rOff, WINDOW.size]);
    for (const [name, off, width] of parts) {
      k.copyRows(g(`${name}.kernel`), width, gr.headK + 4 * off, S, H, width);
      k.copyRows(g(`${name}.bias`), width, gr.headB + 4 * off, 0, 1, width);
    }
    // h^dec_0 feeds step 1's read window (through the read weights) and both LSTMs' first inputs
    k.addColumnSums(gr.dhDec, n, H, g("decoder.h0"));
    if (this.b.read && dRead1) {
      product(
        p,
        [H, WINDOW.size, n],
        matT(this.b.h0dec, H),
        mat(dRead1, WINDOW.size),
        mat(g("read.kernel"), WINDOW.size),
        1,
      );
      k.addColumnSums(dRead1, n, WINDOW.size, g("read.bias"));
      product(
        p,
        [n, H, WINDOW.size],
        mat(dRead1, WINDOW.size),
        matT(this.w("read.kernel"), WINDOW.size),
        mat(gr.dcDec, H),
        0,
      ); // [n, H]
      k.addColumnSums(gr.dcDec, n, H, g("decoder.h0"));
    }
    k.addColumnSums(gr.dhEnc, n, H, g("encoder.h0"));
    k.addColumnSums(gr.dc, n, D, g("canvas0"));
  }

  /**
   * Eqs 13–16: the final canvases (logits, [batch, D]) generated from prior noise `eps`
   * [T, batch, z]. Needs only the decoder's weights.
   */
  generate(weights: FusedWeights, eps: Noise): Float32Array {
    this.loadWeights(weights);
    this.setNoise(eps);
    this.runGenerate();
    return this.finalCanvas;
  }

  /** Eqs 13–16 on the loaded weights and noise, into the canvas buffer. */
  runGenerate(): void {
    const { T, hidden: H, z } = this.config;
    const n = this.batch, D = this.D, Q = this.Q, S = this.S, G = 4 * H;
    const k = this.k, p = this.p, ops = this.operands, w = (name: string) => this.w(name);
    this.forwards++; // the stores no longer hold a forward pass
    this.drawNoise();
    this.buildHead(false);
    p.pack(ops.dec);
    p.pack(ops.head);
    k.copyRows(this.canvas, D, w("canvas0"), 0, n, D);
    k.copyRows(this.b.h0dec, H, w("decoder.h0"), 0, n, H);
    // two alternating slots of the step stores are enough without a backward pass
    for (let t = 0; t < T; t++) {
      const now = t % 2, before = 1 - now;
      const hPrev = t === 0 ? this.b.h0dec : this.s.decH.at(before), decIn = this.s.decIn.at(now);
      k.copyRows(decIn, Q, this.io.eps + 4 * t * n * z, z, n, z);
      k.copyRows(decIn + 4 * z, Q, hPrev, H, n, H);
      productWith(p, n, mat(decIn, Q), ops.dec, mat(this.s.decG.at(now), G), 0);
      const cPrev = t === 0 ? 0 : this.s.decC.at(before);
      k.lstmForward(
        n,
        H,
        this.s.decG.at(now),
        w("decoder.bias"),
        cPrev,
        this.s.decC.at(now),
        this.s.decH.at(now),
      );
      const head = this.s.head.at(now);
      k.copyRows(head, S, this.b.headBias, 0, n, S);
      productWith(p, n, mat(this.s.decH.at(now), H), ops.head, mat(head, S), 1);
      this.writeStep(head, 0);
    }
  }

  /** Number of forward passes so far (a backward pass refers to the latest). */
  get passes(): number {
    return this.forwards;
  }

  /** Nothing to free: the arena goes with its last runner. */
  dispose(): void {}
}
