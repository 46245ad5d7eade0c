/**
 * Backend choice, in one place: WebGPU on a real GPU, else the fastest CPU path (wasm), else the
 * plain JavaScript cpu backend. An explicit choice overrides; the choice is reported in one line.
 *
 * @module
 */
import * as tf from "./tf.ts";

/** A backend that cannot start here (no WebGPU adapter, say): the message says what to choose instead. */
export class BackendError extends Error {
  override name = "BackendError";
}

/** The tfjs backends draw.ts runs on. */
export type BackendName = "webgpu" | "wasm" | "cpu";

/** Every backend name {@link selectBackend} accepts, "auto" included. */
export const BACKENDS: readonly (BackendName | "auto")[] = ["auto", "webgpu", "wasm", "cpu"];

/** What {@link selectBackend} chose and why. */
export interface BackendChoice {
  /** The backend now active. */
  name: BackendName;
  /** Why it was chosen, in words, for the one log line. */
  reason: string;
}

async function register(name: BackendName): Promise<boolean> {
  if (name === "webgpu") {
    if (!("gpu" in navigator) || !navigator.gpu) return false;
    await import("@tensorflow/tfjs-backend-webgpu");
  } else if (name === "wasm") {
    await import("@tensorflow/tfjs-backend-wasm");
  } else {
    await import("@tensorflow/tfjs-backend-cpu");
  }
  try {
    return await tf.setBackend(name);
  } catch {
    return false;
  }
}

/** Describes the WebGPU adapter, or returns undefined when there is none. */
export async function webgpuAdapter(): Promise<{ description: string; fallback: boolean } | undefined> {
  if (!("gpu" in navigator) || !navigator.gpu) return undefined;
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) return undefined;
  const info = adapter.info;
  const description = [info.vendor, info.description || info.device].filter(Boolean).join(" ") ||
    "unknown adapter";
  // deno-lint-ignore no-explicit-any
  const fallback = Boolean((info as any).isFallbackAdapter ?? (adapter as any).isFallbackAdapter);
  return { description, fallback };
}

/**
 * Activates a tfjs backend. "auto" picks WebGPU when a hardware adapter exists; a software adapter
 * (such as Mesa's llvmpipe) is passed over for wasm, which is far faster on the same CPU.
 *
 * @example
 * ```ts
 * import { selectBackend } from "./backend.ts";
 * const choice = await selectBackend("cpu");
 * console.log(choice.name); // "cpu"
 * ```
 */
export async function selectBackend(
  requested: BackendName | "auto" = "auto",
): Promise<BackendChoice> {
  if (!BACKENDS.includes(requested)) {
    throw new RangeError(
      `Cannot select backend as it must be one of ${BACKENDS.join(", ")}: current value is ${requested}`,
    );
  }
  if (requested !== "auto") {
    if (await register(requested)) {
      return { name: requested, reason: "requested" };
    }
    throw new BackendError(
      `Cannot start the ${requested} backend${
        requested === "webgpu" ? " as no WebGPU adapter is available" : ""
      }: choose another with --backend`,
    );
  }
  const adapter = await webgpuAdapter();
  if (adapter && !adapter.fallback && await register("webgpu")) {
    return { name: "webgpu", reason: `GPU adapter: ${adapter.description}` };
  }
  const why = adapter ? `the WebGPU adapter (${adapter.description}) is a software fallback` : "no WebGPU adapter";
  if (await register("wasm")) return { name: "wasm", reason: `${why}; wasm is the fastest CPU path` };
  if (await register("cpu")) return { name: "cpu", reason: `${why} and wasm failed to start` };
  throw new BackendError("Cannot start any tfjs backend (webgpu, wasm, cpu)");
}
