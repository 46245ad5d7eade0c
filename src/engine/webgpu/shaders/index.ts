/**
 * The WebGPU engine's WGSL kernels by name: one module per equation group, as the AssemblyScript
 * kernels of src/engine/fused/kernels/ (which the spec checks them against, through the same orchestration).
 *
 * @module
 */
import { gemm } from "./gemm.ts";
import { loss } from "./loss.ts";
import { lstm } from "./lstm.ts";
import type { Shader } from "./prelude.ts";
import { read } from "./read.ts";
import { vector } from "./vector.ts";
import { window } from "./window.ts";
import { write } from "./write.ts";

export type { Shader } from "./prelude.ts";
export { GROUP } from "./prelude.ts";
export { TILE } from "./gemm.ts";

/** Every kernel, by the name the host records it under. */
export const SHADERS: Record<string, Shader> = { ...vector, ...lstm, ...loss, ...window, ...read, ...write, ...gemm };
