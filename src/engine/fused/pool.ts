/**
 * The fused engine on every core: a batch split between the main thread and Web Workers, each
 * running a {@link FusedDraw} (or, for the classifier, a {@link FusedClassifier}) on its share,
 * all on one shared WebAssembly memory: the weights are written once and read by every thread,
 * inputs and results are read and written in place, and the shares' gradients are summed there.
 * Examples are independent given the weights, so the split is exact.
 *
 * The calls are synchronous (they run inside a tfjs custom gradient): the main thread wakes the
 * workers with Atomics.notify, computes its own share, and blocks in Atomics.wait for theirs.
 *
 * @module
 */
import { type ClassifierConfig, type DrawConfig, imageSize } from "../../config.ts";
import type { Blas } from "./context.ts";
import { engineContext } from "./context.ts";
import { type ClassifierRunner, FusedClassifier } from "../program/classifier.ts";
import { FusedDraw, type FusedLoss, type FusedRunner, type Noise } from "../program/draw.ts";
import { teamSizes } from "../program/draw_layout.ts";
import type { EngineContext } from "../program/kernels.ts";
import type { FusedWeights } from "../program/layout.ts";
import { newArena } from "./wasm.ts";
import { Team, type TeamPlace } from "../program/team.ts";

/**
 * The worker module: worker.ts beside this file, or, in a bundle of the module (`deno bundle`, as tools/gpu_pack.ts
 * makes), draw-worker.js beside the bundle, a bundle of worker.ts.
 */
const WORKER_URL = import.meta.url.endsWith("/pool.ts")
  ? new URL("./worker.ts", import.meta.url)
  : new URL("./draw-worker.js", import.meta.url);

/** The fewest images per thread for which {@link FusedPool.create} splits a batch. */
export const MIN_SHARE = 16;

/** Control words (one Int32 each, in the shared memory) and commands. */
export const CONTROL = { CMD: 0, SEQ: 1, DONE: 2, READY: 3, FAILED: 4, size: 8 } as const;
export const COMMAND = { FORWARD: 1, BACKWARD: 2, GENERATE: 3, EXIT: 4 } as const;

/** What a worker is told at start: which model, and where its share lives in the memory. */
export interface WorkerInit {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  /** DRAW's configuration, or the classifier's. */
  model: { kind: "draw"; config: DrawConfig } | { kind: "classifier"; config: ClassifierConfig };
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
  /** The share's place in the team (DRAW's training pools; see team.ts). */
  team?: TeamPlace;
}

/** One worker's share. */
interface Share<R> {
  worker: Worker;
  ctrl: Int32Array;
  runner: R; // the share's buffers, seen from the main thread (it runs on the worker)
  start: number; // first image of the share
  seq: number;
}

/** A runner a pool splits a batch over: made on an arena, reading the weights at weightsPtr. */
type PoolRunner = FusedDraw | FusedClassifier;

/** The runner of `n` images of `model` on a context (shared weights where weightsPtr is given). */
export function makeRunner(
  model: WorkerInit["model"],
  n: number,
  ctx: EngineContext,
  options: { weightsPtr?: number; training: boolean; team?: TeamPlace },
): PoolRunner {
  return model.kind === "draw"
    ? new FusedDraw(model.config, n, ctx, options)
    : new FusedClassifier(model.config, n, ctx, options);
}

/** A runner's team, if it has one (DRAW's training pools). */
export function teamOf(runner: PoolRunner): Team | undefined {
  return runner instanceof FusedDraw ? runner.team : undefined;
}

/**
 * The main thread's runner and the workers' shares of one batch, on one memory: starts them,
 * wakes them with a command, waits for them, stops them.
 */
class Threads<R extends PoolRunner> {
  private constructor(readonly main: R, readonly shares: Share<R>[]) {}

  /**
   * Starts `threads − 1` workers for `batch` images, or returns undefined when threads < 2, the
   * batch is too small to be worth splitting (under {@link MIN_SHARE} images a thread), or a
   * worker fails to start in time. Workers keep the process alive until {@link dispose}.
   */
  static start<R extends PoolRunner>(
    model: WorkerInit["model"],
    batch: number,
    threads: number,
    module: WebAssembly.Module,
    blas: Blas | undefined,
    training: boolean,
    timeoutMs: number,
  ): Threads<R> | undefined {
    if (threads < 2 || batch < MIN_SHARE * threads) return undefined;
    const arena = newArena(module);
    const per = Math.floor(batch / threads), mainN = batch - per * (threads - 1);
    // DRAW's training pools share the LSTMs' large products by columns (team.ts)
    let place: ((rank: number, first: number, n: number) => TeamPlace) | undefined;
    if (model.kind === "draw" && training) {
      const ptr = Team.allocate(arena, batch, teamSizes(model.config));
      place = (rank, first, n) => ({ ptr, batch, first, n, size: threads, rank });
    }
    const main = makeRunner(model, mainN, engineContext(module, arena, blas), {
      training,
      team: place?.(0, 0, mainN),
    }) as R;
    const shares: Share<R>[] = [];
    let first = mainN;
    for (let k = 1; k < threads; k++) {
      const ctrlPtr = arena.alloc(CONTROL.size);
      const start = arena.used;
      const ctx = engineContext(module, arena, blas);
      const team = place?.(k, first, per);
      const runner = makeRunner(model, per, ctx, { weightsPtr: main.weightsPtr, training, team }) as R;
      const init: WorkerInit = {
        module,
        memory: arena.memory,
        model,
        n: per,
        start,
        end: arena.used,
        weightsPtr: main.weightsPtr,
        ctrl: ctrlPtr,
        blas: blas !== undefined,
        training,
        team,
      };
      const worker = new Worker(WORKER_URL.href, { type: "module" });
      worker.postMessage(init);
      shares.push({ worker, ctrl: arena.i32(ctrlPtr, CONTROL.size), runner, start: first, seq: 0 });
      first += per;
    }
    const deadline = performance.now() + timeoutMs;
    for (const s of shares) {
      while (Atomics.load(s.ctrl, CONTROL.READY) === 0 && performance.now() < deadline) {
        Atomics.wait(s.ctrl, CONTROL.READY, 0, 50);
      }
      if (Atomics.load(s.ctrl, CONTROL.READY) !== 1) {
        for (const t of shares) t.worker.terminate();
        // a slower run is no error, but it is not to be silent: a missing worker module (a bundle without
        // draw-worker.js beside it) or a machine too loaded to start threads in time
        console.warn(
          `fused engine: its worker threads (${WORKER_URL.href}) did not start within ${timeoutMs} ms: one thread runs`,
        );
        return undefined;
      }
    }
    return new Threads(main, shares);
  }

  /** Wakes every worker with a command. */
  private wake(cmd: number): void {
    for (const s of this.shares) {
      s.seq++;
      Atomics.store(s.ctrl, CONTROL.FAILED, 0); // a failure is the command's
      Atomics.store(s.ctrl, CONTROL.CMD, cmd);
      Atomics.store(s.ctrl, CONTROL.SEQ, s.seq);
      Atomics.notify(s.ctrl, CONTROL.SEQ);
    }
  }

  /**
   * Runs `cmd` on every share (woken) and `mine` on the main thread's, and waits for all, also when
   * `mine` throws: no worker is left running on the shared memory when this returns.
   */
  each(cmd: number, mine: () => void): void {
    teamOf(this.main)?.reset(); // no other thread runs yet
    this.wake(cmd);
    try {
      mine();
    } catch (e) {
      teamOf(this.main)?.fail(); // the workers' barriers give up on this thread
      throw e;
    } finally {
      for (const s of this.shares) {
        for (;;) {
          const done = Atomics.load(s.ctrl, CONTROL.DONE);
          if (done === s.seq) break;
          Atomics.wait(s.ctrl, CONTROL.DONE, done, 1000);
        }
      }
    }
    if (this.shares.some((s) => Atomics.load(s.ctrl, CONTROL.FAILED))) {
      throw new Error("Cannot run the fused engine: a worker thread failed (see its message above)");
    }
  }

  /** Sums the shares' gradients into the main runner's, in place. */
  sumGradients(): void {
    const total = this.main.offsets.total;
    for (const s of this.shares) this.main.k.addInto(s.runner.gradsPtr, this.main.gradsPtr, total);
  }

  /** Stops the workers. */
  dispose(): void {
    if (this.shares.length === 0) return; // already disposed
    this.wake(COMMAND.EXIT); // a worker told to exit answers nothing
    for (const s of this.shares) s.worker.terminate();
    this.shares.length = 0;
  }
}

/** What both pools share: the threads, where the products run, the passes, each runner's first image. */
abstract class Pool<R extends PoolRunner> {
  protected constructor(readonly batch: number, protected readonly threads: Threads<R>) {}

  /** Where the products run. */
  get products(): string {
    return this.threads.main.products;
  }

  /** Forward passes so far. */
  get passes(): number {
    return this.threads.main.passes;
  }

  /** Every runner with its first image. */
  protected get all(): [R, number][] {
    return [[this.threads.main, 0], ...this.threads.shares.map((s) => [s.runner, s.start] as [R, number])];
  }

  /** Stops the workers. */
  dispose(): void {
    this.threads.dispose();
  }
}

/**
 * DRAW's batch split over the main thread and `threads − 1` workers. Create with
 * {@link FusedPool.create}; a single {@link FusedDraw} serves when it returns undefined.
 */
export class FusedPool extends Pool<FusedDraw> implements FusedRunner {
  private constructor(readonly config: DrawConfig, batch: number, threads: Threads<FusedDraw>) {
    super(batch, threads);
  }

  /** Starts the workers (see Threads.start), or returns undefined where one thread serves. */
  static create(
    config: DrawConfig,
    batch: number,
    threads: number,
    module: WebAssembly.Module,
    blas?: Blas,
    training = true,
    timeoutMs = 60_000,
  ): FusedPool | undefined {
    const t = Threads.start<FusedDraw>({ kind: "draw", config }, batch, threads, module, blas, training, timeoutMs);
    return t && new FusedPool(config, batch, t);
  }

  /** Eqs 1–12 on the whole batch, split over the threads. */
  forward(weights: FusedWeights, x: Float32Array, eps: Noise): FusedLoss {
    const D = imageSize(this.config), main = this.threads.main;
    main.loadWeights(weights); // shared by every share
    for (const [r, first] of this.all) {
      r.setInputs(x.subarray(first * D, (first + r.batch) * D), eps, first, this.batch);
    }
    this.threads.each(COMMAND.FORWARD, () => main.runForward());
    const n = this.batch, out = { lx: new Float32Array(n), lz: new Float32Array(n), logRatio: new Float32Array(n) };
    for (const [r, first] of this.all) {
      const l = r.losses();
      out.lx.set(l.lx, first);
      out.lz.set(l.lz, first);
      out.logRatio.set(l.logRatio, first);
    }
    return out;
  }

  /** The gradient for the latest forward pass: the shares' gradients summed in place. */
  backward(dlx: Float32Array, dlz: Float32Array): FusedWeights {
    if (!this.threads.main.training) {
      throw new Error("Cannot run a backward pass on a forward-only fused runner (made with training: false)");
    }
    for (const [r, first] of this.all) {
      r.setLossGradients(dlx.subarray(first, first + r.batch), dlz.subarray(first, first + r.batch));
    }
    this.threads.each(COMMAND.BACKWARD, () => this.threads.main.runBackward());
    this.threads.sumGradients();
    return this.threads.main.gradients();
  }

  /** Eqs 13–16 on the whole batch, split over the threads. */
  generate(weights: FusedWeights, eps: Noise): Float32Array {
    const main = this.threads.main;
    main.loadWeights(weights);
    for (const [r, first] of this.all) r.setNoise(eps, first, this.batch);
    this.threads.each(COMMAND.GENERATE, () => main.runGenerate());
    const D = imageSize(this.config), out = new Float32Array(this.batch * D);
    for (const [r, first] of this.all) out.set(r.finalCanvas, first * D);
    return out;
  }
}

/**
 * The classifier's batch split over the main thread and `threads − 1` workers, as
 * {@link FusedPool} splits DRAW's. Create with {@link ClassifierPool.create}.
 */
export class ClassifierPool extends Pool<FusedClassifier> implements ClassifierRunner {
  private constructor(readonly config: ClassifierConfig, batch: number, threads: Threads<FusedClassifier>) {
    super(batch, threads);
  }

  /** Starts the workers (see Threads.start), or returns undefined where one thread serves. */
  static create(
    config: ClassifierConfig,
    batch: number,
    threads: number,
    module: WebAssembly.Module,
    blas?: Blas,
    timeoutMs = 60_000,
  ): ClassifierPool | undefined {
    const model = { kind: "classifier" as const, config };
    const t = Threads.start<FusedClassifier>(model, batch, threads, module, blas, true, timeoutMs);
    return t && new ClassifierPool(config, batch, t);
  }

  /** Class scores [batch, classes] on the whole batch, split over the threads. */
  forward(weights: FusedWeights, x: Float32Array): Float32Array {
    const { width: A, height: B, channels: C, classes: K } = this.config, D = A * B * C;
    const main = this.threads.main;
    main.loadWeights(weights); // shared by every share
    for (const [r, first] of this.all) r.setImages(x.subarray(first * D, (first + r.batch) * D));
    this.threads.each(COMMAND.FORWARD, () => main.runForward());
    const out = new Float32Array(this.batch * K);
    for (const [r, first] of this.all) out.set(r.scores(), first * K);
    return out;
  }

  /** The gradient for the latest forward pass: the shares' gradients summed in place. */
  backward(dLogits: Float32Array): FusedWeights {
    const K = this.config.classes;
    for (const [r, first] of this.all) r.setLogitGradients(dLogits.subarray(first * K, (first + r.batch) * K));
    this.threads.each(COMMAND.BACKWARD, () => this.threads.main.runBackward());
    this.threads.sumGradients();
    return this.threads.main.gradients();
  }
}
