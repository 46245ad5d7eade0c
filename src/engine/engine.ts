/**
 * Engines: what computes a model's loss, gradient and samples. An engine is a value handed to a
 * model (`model.engine = await createEngine("auto")`, or the `engine` option of drawLoss,
 * drawGenerate and classifierForward); the model says what (the paper's equations), the engine
 * how fast. The choice never changes a result beyond float32 rounding (the spec checks).
 *
 * - {@link TFJS_ENGINE}: the tfjs graph on any backend, the readable reference composition.
 * - the fused engine ({@link createEngine}): the forward pass and its hand-derived backward pass
 *   on the wasm SIMD kernels (src/engine/fused/kernels/), the batch split over worker threads on one shared
 *   memory, and the matrix products in a CBLAS library where the Deno adapter (cblas.ts) finds one.
 * - the WebGPU engine: the same passes as WGSL kernels (src/engine/webgpu/shaders/) on the tfjs webgpu
 *   backend's device, one submit per pass, on the tensors' GPU buffers.
 *
 * An engine hands a model its passes (src/engine/passes.ts, the contract): the models never know
 * which engine they run on.
 *
 * @module
 */
import type { ClassifierConfig, DrawConfig } from "../config.ts";
import type { Blas } from "./fused/context.ts";
import { engineContext } from "./fused/context.ts";
import { type ClassifierRunner, FusedClassifier } from "./program/classifier.ts";
import { FusedDraw, type FusedRunner } from "./program/draw.ts";
import { loadKernels, newArena } from "./fused/wasm.ts";
import { ClassifierPool, FusedPool } from "./fused/pool.ts";
import { WebGpuClassifier } from "./webgpu/classifier.ts";
import { WebGpuDraw } from "./webgpu/draw.ts";
import { webgpuBackend } from "./webgpu/bridge.ts";
import type { ClassifierPasses, DrawPasses } from "./passes.ts";
import {
  type FusedClassifierPasses,
  fusedClassifierPasses,
  type FusedDrawPasses,
  fusedDrawPasses,
} from "./fused/passes.ts";
import {
  type WebGpuClassifierPasses,
  webgpuClassifierPasses,
  type WebGpuDrawPasses,
  webgpuDrawPasses,
} from "./webgpu/passes.ts";

/** The engine names {@link createEngine} accepts. */
export const ENGINES = ["auto", "fused", "webgpu", "tfjs"] as const;
/** An engine name. */
export type EngineName = typeof ENGINES[number];

/** What computes a model's passes. */
export interface Engine {
  /** "tfjs" (the graph), "fused" (CPU) or "webgpu". */
  readonly name: "tfjs" | "fused" | "webgpu";
  /** One line for the log: what runs where, and why. */
  readonly description: string;
  /**
   * The passes of DRAW at `config` and `batch`, or undefined where the tfjs graph runs it;
   * `training: false` asks for passes without backward passes (evaluation, generation: less memory).
   */
  draw(config: DrawConfig, batch: number, options?: { training?: boolean }): DrawPasses | undefined;
  /** The passes of the classifier, or undefined where the tfjs graph runs it. */
  classifier(config: ClassifierConfig, batch: number): ClassifierPasses | undefined;
  /** Stops threads and frees buffers (the engine stays usable: they are made again on demand). */
  dispose(): void;
}

/** The tfjs graph: every op through tfjs and its autodiff. */
export const TFJS_ENGINE: Engine = {
  name: "tfjs",
  description: "tfjs graph",
  draw: () => undefined,
  classifier: () => undefined,
  dispose() {},
};

/** Options of {@link createEngine}. */
export interface EngineOptions {
  /** Threads that split a batch (default: every core). */
  threads?: number;
  /**
   * Matrix products: "auto" (default) uses a CBLAS library where the Deno adapter opens one
   * ($DRAW_BLAS_LIB, OpenBLAS's usual places; "none" there turns it off), "wasm" always the kernels'.
   */
  products?: "auto" | "wasm";
  /** The tfjs backend in use: "auto" gives the WebGPU engine on webgpu, the fused engine on the others. */
  backend?: string;
}

/** Milliseconds without use after which the fused engine's worker threads stop. */
export const IDLE_MS = 2000;

/** How many runners the fused engine keeps (training, validation, generation, a last partial batch). */
const KEEP = 4;

/** The fused engine: runners cached by configuration, batch and purpose (the {@link KEEP} most recent). */
class FusedEngine implements Engine {
  readonly name = "fused";
  private readonly runners = new Map<string, FusedRunner | ClassifierRunner>();
  private readonly passes = new WeakMap<FusedRunner | ClassifierRunner, FusedDrawPasses | FusedClassifierPasses>();
  private idle: number | undefined;

  constructor(
    private readonly module: WebAssembly.Module,
    private readonly threads: number,
    private readonly blas: Blas | undefined,
    readonly description: string,
  ) {}

  private cached<R extends FusedRunner | ClassifierRunner>(key: string, make: () => R): R {
    let runner = this.runners.get(key) as R | undefined;
    if (runner) {
      this.runners.delete(key);
      this.runners.set(key, runner); // most recently used last
      return runner;
    }
    runner = make();
    this.runners.set(key, runner);
    while (this.runners.size > KEEP) {
      const [oldest, r] = this.runners.entries().next().value!;
      r.dispose();
      this.runners.delete(oldest);
    }
    return runner;
  }

  /** A fresh arena and this thread's context on it. */
  private context() {
    return engineContext(this.module, newArena(this.module), this.blas);
  }

  draw(config: DrawConfig, batch: number, options: { training?: boolean } = {}): FusedDrawPasses {
    const training = options.training ?? true;
    const runner = this.cached(
      `draw/${training ? "training" : "forward"}/${JSON.stringify(config)}/${batch}`,
      () =>
        FusedPool.create(config, batch, this.threads, this.module, this.blas, training) ??
          new FusedDraw(config, batch, this.context(), { training }),
    );
    if (runner instanceof FusedPool) this.stopWhenIdle();
    return this.passesOf(runner, () => fusedDrawPasses(runner)) as FusedDrawPasses;
  }

  classifier(config: ClassifierConfig, batch: number): FusedClassifierPasses {
    const runner = this.cached(
      `classifier/${JSON.stringify(config)}/${batch}`,
      () =>
        ClassifierPool.create(config, batch, this.threads, this.module, this.blas) ??
          new FusedClassifier(config, batch, this.context()),
    );
    if (runner instanceof ClassifierPool) this.stopWhenIdle();
    return this.passesOf(runner, () => fusedClassifierPasses(runner)) as FusedClassifierPasses;
  }

  /** The passes of a runner, made once per runner. */
  private passesOf(
    runner: FusedRunner | ClassifierRunner,
    make: () => FusedDrawPasses | FusedClassifierPasses,
  ): FusedDrawPasses | FusedClassifierPasses {
    let p = this.passes.get(runner);
    if (!p) this.passes.set(runner, p = make());
    return p;
  }

  /**
   * Worker threads keep a Deno process alive, so pools stop after {@link IDLE_MS} without use: a
   * script that trains and ends exits on its own a moment later. (The timer itself holds nothing.)
   */
  private stopWhenIdle(): void {
    if (this.idle !== undefined) clearTimeout(this.idle);
    this.idle = setTimeout(() => {
      this.idle = undefined;
      this.dispose();
    }, IDLE_MS) as unknown as number;
    (globalThis as { Deno?: { unrefTimer(id: number): void } }).Deno?.unrefTimer(this.idle);
  }

  dispose(): void {
    if (this.idle !== undefined) clearTimeout(this.idle);
    this.idle = undefined;
    for (const r of this.runners.values()) r.dispose();
    this.runners.clear();
  }
}

/** The WebGPU engine: runners cached by configuration, batch and purpose, on the tfjs webgpu backend's device. */
class WebGpuEngine implements Engine {
  readonly name = "webgpu";
  private readonly runners = new Map<string, WebGpuDrawPasses | WebGpuClassifierPasses>();

  constructor(private readonly device: GPUDevice, readonly description: string) {}

  private cached(
    key: string,
    make: () => WebGpuDrawPasses | WebGpuClassifierPasses,
  ): WebGpuDrawPasses | WebGpuClassifierPasses {
    let passes = this.runners.get(key);
    if (passes) {
      this.runners.delete(key);
    } else {
      passes = make();
      while (this.runners.size >= KEEP) {
        const [oldest, p] = this.runners.entries().next().value!;
        p.runner.dispose();
        this.runners.delete(oldest);
      }
    }
    this.runners.set(key, passes); // most recently used last
    return passes;
  }

  draw(config: DrawConfig, batch: number, options: { training?: boolean } = {}): WebGpuDrawPasses {
    const training = options.training ?? true;
    return this.cached(
      `draw/${JSON.stringify(config)}/${batch}/${training}`,
      () => webgpuDrawPasses(new WebGpuDraw(this.device, config, batch, { training })),
    ) as WebGpuDrawPasses;
  }

  classifier(config: ClassifierConfig, batch: number): WebGpuClassifierPasses {
    return this.cached(
      `classifier/${JSON.stringify(config)}/${batch}`,
      () => webgpuClassifierPasses(new WebGpuClassifier(this.device, config, batch)),
    ) as WebGpuClassifierPasses;
  }

  dispose(): void {
    for (const p of this.runners.values()) p.runner.dispose();
    this.runners.clear();
  }
}

/** A CBLAS library from the Deno adapter, where this runs in Deno and one opens. */
async function findBlas(): Promise<Blas | undefined> {
  if (!("Deno" in globalThis)) return undefined;
  const { openCblas } = await import("./fused/cblas.ts");
  const lib = openCblas();
  return lib ? { gemm: lib.gemm, path: lib.path } : undefined;
}

/**
 * The engine called `name`: "tfjs" the graph; "fused" the fused engine; "webgpu" the WebGPU
 * engine (on the tfjs webgpu backend); "auto" (the default) the WebGPU engine on the webgpu
 * backend and the fused engine on the others.
 *
 * @example
 * ```ts
 * import { createEngine, Draw, TINY, Rng } from "../../mod.ts";
 * const model = new Draw(TINY, 0);
 * model.engine = await createEngine("auto", { threads: 1 });
 * console.log(model.engine.description);
 * model.generate(4, new Rng(1)).means.print();
 * ```
 */
export async function createEngine(name: EngineName = "auto", options: EngineOptions = {}): Promise<Engine> {
  if (!ENGINES.includes(name)) {
    throw new RangeError(`Cannot select engine as it must be one of ${ENGINES.join(", ")}: current value is ${name}`);
  }
  const threads = options.threads ?? Math.max(1, navigator.hardwareConcurrency || 1);
  if (!Number.isInteger(threads) || threads < 1) {
    throw new RangeError(`Cannot select engine as threads must be an integer >= 1: current value is ${threads}`);
  }
  if (name === "tfjs") return TFJS_ENGINE;
  if (name === "webgpu" || (name === "auto" && options.backend === "webgpu")) {
    if (options.backend !== undefined && options.backend !== "webgpu") {
      throw new RangeError(
        `Cannot select engine webgpu as it runs on the webgpu backend, not ${options.backend}: add --backend webgpu`,
      );
    }
    const { device } = webgpuBackend();
    const info = device.adapterInfo;
    const adapter = [info?.vendor, info?.description || info?.device].filter(Boolean).join(" ") || "GPU";
    return new WebGpuEngine(device, `webgpu: WGSL kernels on ${adapter}, one submit per pass`);
  }
  const module = await loadKernels();
  const blas = options.products === "wasm" ? undefined : await findBlas();
  const products = blas ? `products in ${blas.path}, the rest in wasm SIMD` : "wasm SIMD kernels (no CBLAS found)";
  return new FusedEngine(module, threads, blas, `fused: ${products}, ${threads} thread(s)`);
}
