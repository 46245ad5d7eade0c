/**
 * Which code computes DRAW's loss, gradient and samples: the tfjs graph (any backend, the
 * reference composition) or the fused engine (fused.ts: hand-derived backward pass, native BLAS,
 * every core). drawLoss and drawGenerate ask {@link fusedRunner} and fall back to tfjs when it
 * returns undefined; the choice never changes a result beyond float32 rounding (the spec checks).
 *
 * "auto" (the default) picks the fused engine on CPU backends (wasm, cpu) when a CBLAS library
 * can be opened, since it measured 5–6× faster than tfjs-wasm on the MNIST model here, and tfjs
 * otherwise (WebGPU on a real GPU, or no BLAS).
 *
 * @module
 */
import * as tf from "./tf.ts";
import type { ClassifierConfig, DrawConfig } from "./config.ts";
import { FusedClassifier } from "./fused_classifier.ts";
import { FusedDraw } from "./fused.ts";
import { FusedPool, type FusedRunner } from "./fused_pool.ts";
import { jsGemm, openCblas } from "./gemm.ts";

/** The engines {@link setEngine} accepts. */
export const ENGINES = ["auto", "fused", "tfjs"] as const;
/** An engine name. */
export type EngineName = typeof ENGINES[number];

let requested: EngineName = "auto";
let threads = Math.max(1, navigator.hardwareConcurrency || 1);
const runners = new Map<string, FusedRunner | FusedClassifier>();

/** The cached runner for `key`, or a new one from `make` (two are kept: the most recently used). */
function cached<R extends FusedRunner | FusedClassifier>(key: string, make: () => R): R {
  let runner = runners.get(key) as R | undefined;
  if (runner) {
    runners.delete(key);
    runners.set(key, runner); // most recently used last
    return runner;
  }
  runner = make();
  runners.set(key, runner);
  while (runners.size > 2) {
    const [oldest, r] = runners.entries().next().value!;
    r.dispose();
    runners.delete(oldest);
  }
  return runner;
}

/**
 * Chooses the engine ("auto", "fused" or "tfjs") and, for the fused one, how many threads split
 * a batch (default: every core).
 */
export function setEngine(name: EngineName, options: { threads?: number } = {}): void {
  if (!ENGINES.includes(name)) {
    throw new RangeError(`Cannot select engine as it must be one of ${ENGINES.join(", ")}: current value is ${name}`);
  }
  const t = options.threads ?? threads;
  if (!Number.isInteger(t) || t < 1) {
    throw new RangeError(`Cannot select engine as threads must be an integer >= 1: current value is ${t}`);
  }
  if (name !== requested || t !== threads) disposeEngine();
  requested = name;
  threads = t;
}

/** The engine in effect now, and why, in words for the log. */
export function engineInUse(): { name: "fused" | "tfjs"; reason: string } {
  const backend = tf.getBackend();
  if (requested === "tfjs") return { name: "tfjs", reason: "requested" };
  const blas = openCblas();
  if (requested === "fused") {
    return {
      name: "fused",
      reason: blas
        ? `requested; sgemm from ${blas.path}, ${threads} thread(s)`
        : "requested; no CBLAS library found, so products run in plain TypeScript (slow)",
    };
  }
  if (backend !== "wasm" && backend !== "cpu") return { name: "tfjs", reason: `the ${backend} backend runs the graph` };
  if (!blas) {
    return {
      name: "tfjs",
      reason: "no CBLAS library found (install libopenblas0-pthread or set DRAW_BLAS_LIB for the fused engine)",
    };
  }
  return { name: "fused", reason: `sgemm from ${blas.path}, ${threads} thread(s)` };
}

/**
 * The fused runner for `config` and `batch`, or undefined when tfjs should run the graph. Runners
 * are kept for reuse (two at most: a training batch and a final partial one).
 */
export function fusedRunner(config: DrawConfig, batch: number): FusedRunner | undefined {
  if (engineInUse().name !== "fused") return undefined;
  const runner = cached(`draw/${JSON.stringify(config)}/${batch}`, () => {
    const blas = openCblas();
    return (blas && threads > 1 ? FusedPool.create(config, batch, threads) : undefined) ??
      new FusedDraw(config, batch, blas?.gemm ?? jsGemm);
  });
  if (runner instanceof FusedPool) stopWhenIdle();
  return runner;
}

let idle: number | undefined;

/**
 * Worker threads keep a Deno process alive, so pools are stopped after {@link IDLE_MS} without
 * use: a script that trains and ends exits on its own a moment later, without calling
 * {@link disposeEngine}. (The timer itself does not hold the process.)
 */
function stopWhenIdle(): void {
  if (idle !== undefined) clearTimeout(idle);
  idle = setTimeout(() => {
    idle = undefined;
    disposeEngine();
  }, IDLE_MS) as unknown as number;
  Deno.unrefTimer(idle);
}

/** Milliseconds without use after which the fused engine's worker threads stop. */
export const IDLE_MS = 2000;

/** The fused classifier for `config` and `batch` (one thread), or undefined when tfjs should run. */
export function fusedClassifier(config: ClassifierConfig, batch: number): FusedClassifier | undefined {
  if (engineInUse().name !== "fused") return undefined;
  return cached(`classifier/${JSON.stringify(config)}/${batch}`, () => new FusedClassifier(config, batch));
}

/** Stops the fused engine's worker threads and frees its buffers. */
export function disposeEngine(): void {
  if (idle !== undefined) clearTimeout(idle);
  idle = undefined;
  for (const r of runners.values()) r.dispose();
  runners.clear();
}
