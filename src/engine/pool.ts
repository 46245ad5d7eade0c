/**
 * The fused engine on every core: a batch split between the main thread and Web Workers, each
 * running a {@link FusedDraw} on its share, all on one shared WebAssembly memory: the weights are
 * written once and read by every thread, inputs and results are read and written in place, and
 * the shares' gradients are summed there. Examples are independent given the weights, so the
 * split is exact.
 *
 * The calls are synchronous (they run inside a tfjs custom gradient): the main thread wakes the
 * workers with Atomics.notify, computes its own share, and blocks in Atomics.wait for theirs.
 *
 * @module
 */
import { type DrawConfig, imageSize } from "../config.ts";
import type { Blas } from "./context.ts";
import { engineContext } from "./context.ts";
import { FusedDraw, type FusedLoss, type FusedRunner, type FusedWeights } from "./fused_draw.ts";
import { newArena } from "./kernels.ts";

/** The fewest images per thread for which {@link FusedPool.create} splits a batch. */
export const MIN_SHARE = 16;

/** Control words (one Int32 each, in the shared memory) and commands. */
export const CONTROL = { CMD: 0, SEQ: 1, DONE: 2, READY: 3, FAILED: 4, size: 8 } as const;
export const COMMAND = { FORWARD: 1, BACKWARD: 2, GENERATE: 3, EXIT: 4 } as const;

/** What a worker is told at start: where its share lives in the memory. */
export interface WorkerInit {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  config: DrawConfig;
  /** Images in the share. */
  n: number;
  /** The arena's position before and after the share's buffers (the worker checks it finds the same). */
  start: number;
  end: number;
  weightsPtr: number;
  ctrl: number;
  /** Open a CBLAS library for the products (the worker does it through the Deno adapter). */
  blas: boolean;
  /** Whether backward passes run (else the share keeps two steps' stores). */
  training: boolean;
}

interface Share {
  worker: Worker;
  ctrl: Int32Array;
  draw: FusedDraw; // the share's buffers, seen from the main thread (it runs on the worker)
  start: number; // first image of the share
  seq: number;
}

/**
 * A batch split over the main thread and `threads − 1` workers. Create with
 * {@link FusedPool.create}; a single {@link FusedDraw} serves when it returns undefined.
 */
export class FusedPool implements FusedRunner {
  private constructor(
    readonly config: DrawConfig,
    readonly batch: number,
    private readonly main: FusedDraw,
    private readonly shares: Share[],
  ) {}

  /**
   * Starts `threads − 1` workers for `batch` images, or returns undefined when threads < 2, the
   * batch is too small to be worth splitting (under {@link MIN_SHARE} images a thread), or a
   * worker fails to start in time. Workers keep the process alive until {@link dispose}.
   */
  static create(
    config: DrawConfig,
    batch: number,
    threads: number,
    module: WebAssembly.Module,
    blas?: Blas,
    training = true,
    timeoutMs = 60_000,
  ): FusedPool | undefined {
    if (threads < 2 || batch < MIN_SHARE * threads) return undefined;
    const arena = newArena(module);
    const per = Math.floor(batch / threads), mainN = batch - per * (threads - 1);
    const main = new FusedDraw(config, mainN, engineContext(module, arena, blas), { training });
    const shares: Share[] = [];
    let first = mainN;
    for (let k = 1; k < threads; k++) {
      const ctrlPtr = arena.alloc(CONTROL.size);
      const start = arena.used;
      const draw = new FusedDraw(config, per, engineContext(module, arena, blas), {
        weightsPtr: main.weightsPtr,
        training,
      });
      const init: WorkerInit = {
        module,
        memory: arena.memory,
        config,
        n: per,
        start,
        end: arena.used,
        weightsPtr: main.weightsPtr,
        ctrl: ctrlPtr,
        blas: blas !== undefined,
        training,
      };
      const worker = new Worker(new URL("./worker.ts", import.meta.url).href, { type: "module" });
      worker.postMessage(init);
      shares.push({ worker, ctrl: arena.i32(ctrlPtr, CONTROL.size), draw, start: first, seq: 0 });
      first += per;
    }
    const deadline = performance.now() + timeoutMs;
    for (const s of shares) {
      while (Atomics.load(s.ctrl, CONTROL.READY) === 0 && performance.now() < deadline) {
        Atomics.wait(s.ctrl, CONTROL.READY, 0, 50);
      }
      if (Atomics.load(s.ctrl, CONTROL.READY) !== 1) {
        for (const t of shares) t.worker.terminate();
        return undefined;
      }
    }
    return new FusedPool(config, batch, main, shares);
  }

  /** Where the products run. */
  get products(): string {
    return this.main.products;
  }

  /** Forward passes so far. */
  get passes(): number {
    return this.main.passes;
  }

  /** Wakes every worker with a command. */
  private run(cmd: number) {
    for (const s of this.shares) {
      s.seq++;
      Atomics.store(s.ctrl, CONTROL.CMD, cmd);
      Atomics.store(s.ctrl, CONTROL.SEQ, s.seq);
      Atomics.notify(s.ctrl, CONTROL.SEQ);
    }
  }

  /** Blocks until every worker has finished its command. */
  private wait() {
    for (const s of this.shares) {
      for (;;) {
        const done = Atomics.load(s.ctrl, CONTROL.DONE);
        if (done === s.seq) break;
        Atomics.wait(s.ctrl, CONTROL.DONE, done, 1000);
      }
      if (Atomics.load(s.ctrl, CONTROL.FAILED)) {
        throw new Error("Cannot run the fused engine: a worker thread failed (see its message above)");
      }
    }
  }

  /** The rows [first, first + m) of eps [T, batch, z]. */
  private noiseOf(eps: Float32Array, first: number, m: number): Float32Array {
    const { T, z } = this.config, n = this.batch, out = new Float32Array(T * m * z);
    for (let t = 0; t < T; t++) out.set(eps.subarray((t * n + first) * z, (t * n + first + m) * z), t * m * z);
    return out;
  }

  /** Eqs 1–12 on the whole batch, split over the threads. */
  forward(weights: FusedWeights, x: Float32Array, eps: Float32Array): FusedLoss {
    const D = imageSize(this.config), m0 = this.main.batch;
    this.main.loadWeights(weights); // shared by every share
    for (const s of this.shares) {
      const m = s.draw.batch;
      s.draw.setInputs(x.subarray(s.start * D, (s.start + m) * D), this.noiseOf(eps, s.start, m));
    }
    this.main.setInputs(x.subarray(0, m0 * D), this.noiseOf(eps, 0, m0));
    this.run(COMMAND.FORWARD);
    this.main.runForward();
    this.wait();
    const n = this.batch, out = { lx: new Float32Array(n), lz: new Float32Array(n), logRatio: new Float32Array(n) };
    for (const [draw, first] of [[this.main, 0] as const, ...this.shares.map((s) => [s.draw, s.start] as const)]) {
      const r = draw.losses();
      out.lx.set(r.lx, first);
      out.lz.set(r.lz, first);
      out.logRatio.set(r.logRatio, first);
    }
    return out;
  }

  /** The gradient for the latest forward pass: the shares' gradients summed in place. */
  backward(dlx: Float32Array, dlz: Float32Array): FusedWeights {
    for (const s of this.shares) {
      const m = s.draw.batch;
      s.draw.setLossGradients(dlx.subarray(s.start, s.start + m), dlz.subarray(s.start, s.start + m));
    }
    this.main.setLossGradients(dlx.subarray(0, this.main.batch), dlz.subarray(0, this.main.batch));
    this.run(COMMAND.BACKWARD);
    this.main.runBackward();
    this.wait();
    const total = this.main.offsets.total;
    for (const s of this.shares) this.main.k.addInto(s.draw.gradsPtr, this.main.gradsPtr, total);
    return this.main.gradients();
  }

  /** Eqs 13–16 on the whole batch, split over the threads. */
  generate(weights: FusedWeights, eps: Float32Array): Float32Array {
    this.main.loadWeights(weights);
    for (const s of this.shares) s.draw.setNoise(this.noiseOf(eps, s.start, s.draw.batch));
    this.main.setNoise(this.noiseOf(eps, 0, this.main.batch));
    this.run(COMMAND.GENERATE);
    this.main.runGenerate();
    this.wait();
    const D = imageSize(this.config), out = new Float32Array(this.batch * D);
    out.set(this.main.finalCanvas);
    for (const s of this.shares) out.set(s.draw.finalCanvas, s.start * D);
    return out;
  }

  /** Stops the workers. */
  dispose(): void {
    if (this.shares.length === 0) return; // already disposed
    this.run(COMMAND.EXIT);
    for (const s of this.shares) s.worker.terminate();
    this.shares.length = 0;
  }
}
