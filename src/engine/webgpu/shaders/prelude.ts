/**
 * What every WGSL kernel of the WebGPU engine shares: one storage buffer `mem` (the engine's heap,
 * f32; every pointer a float index into it) and a uniform `p` of u32 parameters, bound at a
 * dynamic offset per dispatch. Kernels of one thread per output element use {@link elementwise}.
 *
 * @module
 */

/** A kernel's WGSL source and the names of its u32 parameters, in the order the host writes them. */
export interface Shader {
  params: readonly string[];
  code: string;
  /** Threads per workgroup along x (64 for element-wise kernels); groups are the host's choice otherwise. */
  perGroup: number;
}

/** Threads per workgroup of the element-wise kernels. */
export const GROUP = 64;

/** The bindings, with the Params struct of `params` (all u32). */
export function bindings(params: readonly string[]): string {
  return `struct Params { ${params.map((p) => `${p}: u32,`).join(" ")} }
@group(0) @binding(0) var<storage, read_write> mem: array<f32>;
@group(0) @binding(1) var<uniform> p: Params;
`;
}

/** Numerically safe σ and tanh (WGSL's tanh may overflow for large |x|). */
export const MATH = `
fn sigmoid(x: f32) -> f32 { return 1.0 / (1.0 + exp(-x)); }
fn tanh_(x: f32) -> f32 { let e = exp(-2.0 * abs(x)); let t = (1.0 - e) / (1.0 + e); return select(t, -t, x < 0.0); }
`;

/**
 * A kernel of one thread per element: `body` runs with `id` < p.total (the first parameter,
 * added here), after `extra` (helper functions).
 */
export function elementwise(params: readonly string[], body: string, extra = ""): Shader {
  const all = ["total", ...params];
  return {
    params: all,
    perGroup: GROUP,
    code: `${bindings(all)}${MATH}${extra}
@compute @workgroup_size(${GROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let id = gid.x + gid.y * nw.x * ${GROUP}u;
  if (id >= p.total) { return; }
${body}
}
`,
  };
}
