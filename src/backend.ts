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

/** Where the Vulkan loader looks for drivers' ICD files on Linux. */
const VULKAN_ICD_DIRS = ["/usr/share/vulkan/icd.d", "/etc/vulkan/icd.d", "/usr/local/share/vulkan/icd.d"];

/** Whether {@link preferVulkan} chose Vulkan for this process (a missing adapter's message says so). */
let choseVulkan = false;

/**
 * On Linux, where a Vulkan driver is installed and nobody chose otherwise (DENO_WEBGPU_BACKEND), Deno's WebGPU runs
 * on Vulkan alone, before the first adapter is asked for. Deno otherwise also starts wgpu's OpenGL backend, which
 * loads libEGL; at exit, libEGL's destructor frees memory while a thread of Deno's that touched the GPU is still
 * shutting down on the same malloc arena, and now and then the heap is corrupted and the process dies with SIGSEGV
 * after its work is done (a backtrace: the main thread in exit → _dl_fini → libEGL.so.1, another in
 * __libc_thread_freeres → tcache_thread_shutdown → unlink_chunk). Without GL, libEGL is never loaded. Where no Vulkan
 * driver is installed, nothing changes (Mesa's llvmpipe through GL, as before).
 */
export function preferVulkan(): void {
  const deno = (globalThis as { Deno?: typeof Deno }).Deno;
  if (!deno || deno.build.os !== "linux") return;
  try {
    if (deno.env.get("DENO_WEBGPU_BACKEND")) return; // a choice made (empty: none)
    const icd = deno.env.get("VK_ICD_FILENAMES") || deno.env.get("VK_DRIVER_FILES") ||
      VULKAN_ICD_DIRS.some((d) => {
        try {
          return [...deno.readDirSync(d)].some((e) => e.name.endsWith(".json"));
        } catch {
          return false;
        }
      });
    if (!icd) return;
    deno.env.set("DENO_WEBGPU_BACKEND", "vulkan");
    choseVulkan = true;
    // Mesa's Vulkan WSI asks libwayland for a display, which prints an error where XDG_RUNTIME_DIR is unset: a
    // private empty folder makes that a silent "no display"
    if (deno.env.get("XDG_RUNTIME_DIR") === undefined) deno.env.set("XDG_RUNTIME_DIR", deno.makeTempDirSync());
  } catch {
    // no --allow-env or --allow-read: Deno's own choice of backends
  }
}

async function register(name: BackendName): Promise<boolean> {
  if (name === "webgpu") {
    preferVulkan();
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
  preferVulkan();
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
    const vulkan = requested === "webgpu" && choseVulkan
      ? " (WebGPU ran on Vulkan, as a Vulkan driver is installed: DENO_WEBGPU_BACKEND=gl tries OpenGL instead)"
      : "";
    throw new BackendError(
      `Cannot start the ${requested} backend${
        requested === "webgpu" ? " as no WebGPU adapter is available" : ""
      }: choose another with --backend${vulkan}`,
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
