/**
 * The fused engine on every core: the batch is split between the main thread and Web Workers,
 * each running its own {@link FusedDraw} (with single-threaded BLAS) on its share, over shared
 * memory. Examples are independent given the weights, so the split is exact: the losses are the
 * shares' losses, and the gradient is the sum of the shares' gradients.
 *
 * The calls are synchronous (they fit inside a tfjs custom gradient): the main thread wakes the
 * workers with Atomics.notify, computes its own share, and blocks in Atomics.wait for theirs.
 *
 * @module
 */
import { type DrawConfig, imageSize } from "./config.ts";
import { paramSpecs } from "./specs.ts";
import { FusedDraw, type FusedLoss, type FusedWeights } from "./fused.ts";
import { openCblas } from "./gemm.ts";

/** What runs the fused engine: one FusedDraw, or a {@link FusedPool} of them. */
export interface FusedRunner {
  /** Batch size. */
  readonly batch: number;
  /** Forward passes so far (a backward pass refers to the latest). */
  readonly passes: number;
  /** Eqs 1–12; keeps what {@link backward} needs. */
  forward(weights: FusedWeights, x: Float32Array, eps: Float32Array): FusedLoss;
  /** Gradient of Σ dlx·Lx + dlz·Lz for the latest forward pass. */
  backward(dlx: Float32Array, dlz: Float32Array): FusedWeights;
  /** Eqs 13–16: final canvases as logits [batch, D]. */
  generate(weights: FusedWeights, eps: Float32Array): Float32Array;
  /** Frees threads, if any. */
  dispose(): void;
}

/** The fewest images per thread for which {@link FusedPool.create} splits a batch. */
export const MIN_SHARE = 16;

/** Control words in the shared Int32Array. */
const CMD = 0, SEQ = 1, DONE = 2, READY = 3, FAILED = 4;
/** Commands. */
export const FORWARD = 1, BACKWARD = 2, GENERATE = 3, EXIT = 4;

/** Offsets (in floats) of one worker's regions in its shared Float32Array. */
export interface ShareLayout {
  /** Batch share of this worker. */
  n: number;
  /** Region offsets and total size, in floats. */
  x: number;
  eps: number;
  out: number; // lx, lz, logRatio: 3n
  dl: number; // dlx, dlz: 2n
  grads: number;
  canvas: number;
  size: number;
}

/** The parameter count, and each parameter's offset in a flat weight vector. */
export function weightOffsets(config: DrawConfig): { total: number; at: Record<string, [number, number]> } {
  let total = 0;
  const at: Record<string, [number, number]> = {};
  for (const spec of paramSpecs(config)) {
    const size = spec.shape.reduce((a, b) => a * b, 1);
    at[spec.name] = [total, size];
    total += size;
  }
  return { total, at };
}

/** The region layout of a worker's share of `n` images. */
export function shareLayout(config: DrawConfig, n: number): ShareLayout {
  const D = imageSize(config), P = weightOffsets(config).total;
  const x = 0, eps = x + n * D, out = eps + config.T * n * config.z, dl = out + 3 * n, grads = dl + 2 * n;
  const canvas = grads + P;
  return { n, x, eps, out, dl, grads, canvas, size: canvas + n * D };
}

/** Named views into a flat weight vector. */
export function weightViews(config: DrawConfig, flat: Float32Array): FusedWeights {
  const out: FusedWeights = {};
  for (const [name, [o, size]] of Object.entries(weightOffsets(config).at)) out[name] = flat.subarray(o, o + size);
  return out;
}

interface WorkerShare {
  worker: Worker;
  ctrl: Int32Array;
  data: Float32Array;
  layout: ShareLayout;
  start: number; // first image of this share
  seq: number;
}

/**
 * A batch split over the main thread and `threads − 1` workers. Create with
 * {@link FusedPool.create}; fall back to a single {@link FusedDraw} when it returns undefined.
 */
export class FusedPool implements FusedRunner {
  /** Batch size. */
  readonly batch: number;
  private readonly config: DrawConfig;
  private readonly main: FusedDraw;
  private readonly shares: WorkerShare[];
  private readonly weights: Float32Array;
  private readonly views: FusedWeights;
  private mainN: number;

  private constructor(
    config: DrawConfig,
    batch: number,
    main: FusedDraw,
    shares: WorkerShare[],
    weights: Float32Array,
  ) {
    this.config = config;
    this.batch = batch;
    this.main = main;
    this.mainN = main.batch;
    this.shares = shares;
    this.weights = weights;
    this.views = weightViews(config, weights);
  }

  /**
   * Starts `threads − 1` workers for `batch` images, or returns undefined when threads < 2, the
   * batch is too small to be worth splitting (under {@link MIN_SHARE} images a thread), no native
   * BLAS is found, or a worker fails to start in time. Workers keep the process alive until
   * {@link dispose} (engine.ts stops idle pools by itself).
   */
  static create(config: DrawConfig, batch: number, threads: number, timeoutMs = 60_000): FusedPool | undefined {
    const cblas = openCblas();
    if (!cblas || threads < 2 || batch < MIN_SHARE * threads) return undefined;
    const P = weightOffsets(config).total;
    const weights = new Float32Array(new SharedArrayBuffer(4 * P));
    const per = Math.floor(batch / threads);
    const mainN = batch - per * (threads - 1);
    const shares: WorkerShare[] = [];
    let start = mainN;
    for (let k = 1; k < threads; k++) {
      const layout = shareLayout(config, per);
      const ctrl = new Int32Array(new SharedArrayBuffer(4 * 8));
      const data = new Float32Array(new SharedArrayBuffer(4 * layout.size));
      const worker = new Worker(new URL("./fused_worker.ts", import.meta.url).href, { type: "module" });
      worker.postMessage({ config, layout, ctrl: ctrl.buffer, data: data.buffer, weights: weights.buffer });
      shares.push({ worker, ctrl, data, layout, start, seq: 0 });
      start += per;
    }
    const deadline = performance.now() + timeoutMs;
    for (const s of shares) {
      while (Atomics.load(s.ctrl, READY) === 0 && performance.now() < deadline) Atomics.wait(s.ctrl, READY, 0, 50);
      if (Atomics.load(s.ctrl, READY) !== 1) {
        for (const t of shares) t.worker.terminate();
        return undefined;
      }
    }
    return new FusedPool(config, batch, new FusedDraw(config, mainN, cblas.gemm), shares, weights);
  }

  /** Wakes every worker with a command. */
  private run(cmd: number) {
    for (const s of this.shares) {
      s.seq++;
      Atomics.store(s.ctrl, CMD, cmd);
      Atomics.store(s.ctrl, SEQ, s.seq);
      Atomics.notify(s.ctrl, SEQ);
    }
  }

  /** Blocks until every worker has finished its command. */
  private wait() {
    for (const s of this.shares) {
      for (;;) {
        const done = Atomics.load(s.ctrl, DONE);
        if (done === s.seq) break;
        Atomics.wait(s.ctrl, DONE, done, 1000);
      }
      if (Atomics.load(s.ctrl, FAILED)) {
        throw new Error("Cannot run the fused engine: a worker thread failed (see its message above)");
      }
    }
  }

  /** Copies the weights into shared memory (absent ones become zeros). */
  private loadWeights(weights: FusedWeights) {
    for (const [name, view] of Object.entries(this.views)) {
      if (weights[name]) view.set(weights[name]);
      else view.fill(0); // generation needs no encoder weights
    }
  }

  /** Forward passes so far. */
  get passes(): number {
    return this.main.passes;
  }

  /** Hands each worker its images' noise; returns the main thread's. */
  private scatterEps(eps: Float32Array): Float32Array {
    const { T, z } = this.config, n = this.batch;
    for (const s of this.shares) {
      const m = s.layout.n;
      for (let t = 0; t < T; t++) {
        s.data.set(eps.subarray((t * n + s.start) * z, (t * n + s.start + m) * z), s.layout.eps + t * m * z);
      }
    }
    const mainEps = new Float32Array(T * this.mainN * z);
    for (let t = 0; t < T; t++) mainEps.set(eps.subarray(t * n * z, (t * n + this.mainN) * z), t * this.mainN * z);
    return mainEps;
  }

  /** Eqs 1–12 on the whole batch, split over the threads. */
  forward(weights: FusedWeights, x: Float32Array, eps: Float32Array): FusedLoss {
    const D = imageSize(this.config), n = this.batch;
    this.loadWeights(weights);
    for (const s of this.shares) s.data.set(x.subarray(s.start * D, (s.start + s.layout.n) * D), s.layout.x);
    const mainEps = this.scatterEps(eps);
    this.run(FORWARD);
    const own = this.main.forward(this.views, x.slice(0, this.mainN * D), mainEps);
    this.wait();
    const out: FusedLoss = { lx: new Float32Array(n), lz: new Float32Array(n), logRatio: new Float32Array(n) };
    out.lx.set(own.lx);
    out.lz.set(own.lz);
    out.logRatio.set(own.logRatio);
    for (const s of this.shares) {
      const m = s.layout.n, o = s.layout.out;
      out.lx.set(s.data.subarray(o, o + m), s.start);
      out.lz.set(s.data.subarray(o + m, o + 2 * m), s.start);
      out.logRatio.set(s.data.subarray(o + 2 * m, o + 3 * m), s.start);
    }
    return out;
  }

  /** The gradient for the latest forward pass: the sum of the shares' gradients. */
  backward(dlx: Float32Array, dlz: Float32Array): FusedWeights {
    for (const s of this.shares) {
      const m = s.layout.n;
      s.data.set(dlx.subarray(s.start, s.start + m), s.layout.dl);
      s.data.set(dlz.subarray(s.start, s.start + m), s.layout.dl + m);
    }
    this.run(BACKWARD);
    const grads = this.main.backward(dlx.slice(0, this.mainN), dlz.slice(0, this.mainN));
    this.wait();
    const { at } = weightOffsets(this.config);
    for (const s of this.shares) {
      for (const [name, [o, size]] of Object.entries(at)) {
        const g = grads[name], part = s.data.subarray(s.layout.grads + o, s.layout.grads + o + size);
        for (let k = 0; k < size; k++) g[k] += part[k];
      }
    }
    return grads;
  }

  /** Eqs 13–16 on the whole batch, split over the threads. */
  generate(weights: FusedWeights, eps: Float32Array): Float32Array {
    const D = imageSize(this.config);
    this.loadWeights(weights);
    const mainEps = this.scatterEps(eps);
    this.run(GENERATE);
    const own = this.main.generate(this.views, mainEps);
    this.wait();
    const out = new Float32Array(this.batch * D);
    out.set(own);
    for (const s of this.shares) {
      out.set(s.data.subarray(s.layout.canvas, s.layout.canvas + s.layout.n * D), s.start * D);
    }
    return out;
  }

  /** Stops the workers. */
  dispose(): void {
    if (this.shares.length === 0) return; // already disposed
    this.run(EXIT);
    for (const s of this.shares) s.worker.terminate();
    this.shares.length = 0;
  }
}

/** The control word indices, for the worker. */
export const CONTROL = { CMD, SEQ, DONE, READY, FAILED } as const;
