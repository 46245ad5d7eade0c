/**
 * WGSL: DRAW Eqs 19–26, an attention window from the 5 raw outputs of Eq 21 and its filterbanks
 * F_X [N, A], F_Y [N, B], forward, and the backward pass shared by read and write (as
 * src/engine/fused/kernels/window.ts). Window fields: g_X, g_Y, σ², δ, γ (5 floats per image).
 *
 * @module
 */
import { elementwise, type Shader } from "./prelude.ts";

/** The attention's parameters, first in every read, write and window kernel. */
export const ATTENTION = ["n", "N", "A", "B", "C", "win", "F", "mid", "scratch"] as const;

/** WGSL helpers over the attention's parameters: bank and window offsets of image b. */
export const ATTENTION_WGSL = `
fn bankOf(b: u32) -> u32 { return p.F + b * p.N * (p.A + p.B); }
fn winOf(b: u32) -> u32 { return p.win + b * 5u; }
`;

/** WGSL: Eqs 19–26 backward for image b, from ∂F_X, ∂F_Y (float indices) and ∂γ, into 5 floats at dRaw. */
export const WINDOW_BACKWARD = `
// one axis: from ∂F [N, size], (∂g, ∂δ, ∂σ²) through the softmax rows of Eq 25 or 26
fn bankBackward(F: u32, dF: u32, size: u32, g: f32, delta: f32, sigma2: f32) -> vec3<f32> {
  let inv = 1.0 / sigma2;
  var acc = vec3<f32>(0.0);
  for (var i = 0u; i < p.N; i++) {
    let off = f32(i + 1u) - f32(p.N) / 2.0 - 0.5;
    let mu = g + off * delta;
    var s = 0.0;
    for (var a = 0u; a < size; a++) { s += mem[F + i * size + a] * mem[dF + i * size + a]; }
    var sm = 0.0; var s2 = 0.0;
    for (var a = 0u; a < size; a++) {
      let dl = mem[F + i * size + a] * (mem[dF + i * size + a] - s);
      let d = f32(a + 1u) - mu;
      sm += dl * d; s2 += dl * d * d;
    }
    let dMu = sm * inv;
    acc += vec3<f32>(dMu, dMu * off, 0.5 * s2 * inv * inv);
  }
  return acc;
}
fn windowBackward(b: u32, dFX: u32, dFY: u32, dGamma: f32, dRaw: u32) {
  let w = winOf(b); let F = bankOf(b);
  let sigma2 = mem[w + 2u]; let delta = mem[w + 3u];
  let gx = bankBackward(F, dFX, p.A, mem[w], delta, sigma2);
  let gy = bankBackward(F + p.N * p.A, dFY, p.B, mem[w + 1u], delta, sigma2);
  mem[dRaw] = gx.x * f32(p.A + 1u) / 2.0; // Eq 22
  mem[dRaw + 1u] = gy.x * f32(p.B + 1u) / 2.0; // Eq 23
  mem[dRaw + 2u] = (gx.z + gy.z) * sigma2; // σ² = e^raw
  mem[dRaw + 3u] = (gx.y + gy.y) * delta; // δ ∝ e^raw
  mem[dRaw + 4u] = dGamma * mem[w + 4u]; // γ = e^raw
}
`;

export const window: Record<string, Shader> = {
  // one thread per (image, filter row of F_X then F_Y); row 0 also writes the window
  windowForward: elementwise(
    [...ATTENTION, "raw", "rawStride"],
    `  let b = id / (2u * p.N); let row = id % (2u * p.N);
  let r = p.raw + b * p.rawStride;
  let gX = (mem[r] + 1.0) * f32(p.A + 1u) / 2.0; // Eq 22
  let gY = (mem[r + 1u] + 1.0) * f32(p.B + 1u) / 2.0; // Eq 23
  let sigma2 = exp(mem[r + 2u]); // Eq 21: log σ²
  let delta = exp(mem[r + 3u]) * f32(max(p.A, p.B) - 1u) / f32(p.N - 1u); // Eq 24
  if (row == 0u) {
    let w = winOf(b);
    mem[w] = gX; mem[w + 1u] = gY; mem[w + 2u] = sigma2; mem[w + 3u] = delta; mem[w + 4u] = exp(mem[r + 4u]);
  }
  let isX = row < p.N; let i = row % p.N;
  let size = select(p.B, p.A, isX);
  let g = select(gY, gX, isX);
  let at = bankOf(b) + select(p.N * p.A + i * p.B, i * p.A, isX);
  let mu = g + (f32(i + 1u) - f32(p.N) / 2.0 - 0.5) * delta; // Eqs 19–20, counted from 1
  let inv = -0.5 / sigma2;
  let near = clamp(round(mu), 1.0, f32(size)); // the largest exponent: subtract it
  let top = (near - mu) * (near - mu) * inv;
  var sum = 0.0;
  for (var a = 0u; a < size; a++) {
    let d = f32(a + 1u) - mu;
    let e = exp(d * d * inv - top);
    mem[at + a] = e;
    sum += e;
  }
  for (var a = 0u; a < size; a++) { mem[at + a] = mem[at + a] / sum; }`,
    ATTENTION_WGSL,
  ),
};
