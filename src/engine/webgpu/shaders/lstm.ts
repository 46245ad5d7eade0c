/**
 * WGSL: the LSTM cell of RNN^enc (Eq 5) and RNN^dec (Eq 7), forward and backward, one thread per
 * (image, unit); gate order i, f, o, g in blocks of H, as src/engine/fused/kernels/lstm.ts.
 *
 * @module
 */
import { elementwise, type Shader } from "./prelude.ts";

export const lstm: Record<string, Shader> = {
  // gates (pre-activations) → activated in place; c = f·cPrev + i·g, h = o·tanh(c)
  lstmForward: elementwise(
    ["H", "gates", "bias", "hasPrev", "cPrev", "c", "h"],
    `  let b = id / p.H; let k = id % p.H; let g = p.gates + b * 4u * p.H + k;
  let i = sigmoid(mem[g] + mem[p.bias + k]);
  let f = sigmoid(mem[g + p.H] + mem[p.bias + p.H + k]);
  let o = sigmoid(mem[g + 2u * p.H] + mem[p.bias + 2u * p.H + k]);
  let gg = tanh_(mem[g + 3u * p.H] + mem[p.bias + 3u * p.H + k]);
  var cp = 0.0;
  if (p.hasPrev == 1u) { cp = mem[p.cPrev + id]; }
  let c = f * cp + i * gg;
  mem[g] = i; mem[g + p.H] = f; mem[g + 2u * p.H] = o; mem[g + 3u * p.H] = gg;
  mem[p.c + id] = c;
  mem[p.h + id] = o * tanh_(c);`,
  ),
  // dh is ∂h_t; dc carries ∂c_t in and ∂c_{t−1} out; dGates the pre-activation gradients
  lstmBackward: elementwise(
    ["H", "gates", "c", "hasPrev", "cPrev", "dh", "dc", "dGates"],
    `  let b = id / p.H; let k = id % p.H; let g = p.gates + b * 4u * p.H + k; let dg = p.dGates + b * 4u * p.H + k;
  let i = mem[g]; let f = mem[g + p.H]; let o = mem[g + 2u * p.H]; let gg = mem[g + 3u * p.H];
  let tc = tanh_(mem[p.c + id]);
  let dh = mem[p.dh + id];
  let dc = mem[p.dc + id] + dh * o * (1.0 - tc * tc);
  var cp = 0.0;
  if (p.hasPrev == 1u) { cp = mem[p.cPrev + id]; }
  mem[dg] = dc * gg * i * (1.0 - i);
  mem[dg + p.H] = dc * cp * f * (1.0 - f);
  mem[dg + 2u * p.H] = dh * tc * o * (1.0 - o);
  mem[dg + 3u * p.H] = dc * i * (1.0 - gg * gg);
  mem[p.dc + id] = dc * f;`,
  ),
};
