/**
 * WGSL: Eq 9 (the Bernoulli reconstruction loss) and Eqs 1–2, 6, 10–11 (the posterior's sample
 * and its KL), forward and backward, as src/engine/fused/kernels/loss.ts.
 *
 * @module
 */
import { bindings, elementwise, type Shader } from "./prelude.ts";

/** Threads summing one image in Eq 9. */
const SUM = 64;

export const loss: Record<string, Shader> = {
  // Eq 9: lx[b] = Σ_k max(c, 0) + log(1 + e^{−|c|}) − x·c; one workgroup per image
  bernoulliForward: {
    params: ["D", "canvas", "x", "lx"],
    perGroup: SUM,
    code: `${bindings(["D", "canvas", "x", "lx"])}
var<workgroup> part: array<f32, ${SUM}>;
@compute @workgroup_size(${SUM})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let b = wg.x;
  var s = 0.0;
  for (var k = b * p.D + li; k < (b + 1u) * p.D; k += ${SUM}u) {
    let c = mem[p.canvas + k];
    s += max(c, 0.0) + log(1.0 + exp(-abs(c))) - mem[p.x + k] * c;
  }
  part[li] = s;
  workgroupBarrier();
  for (var half = ${SUM / 2}u; half > 0u; half >>= 1u) {
    if (li < half) { part[li] += part[li + half]; }
    workgroupBarrier();
  }
  if (li == 0u) { mem[p.lx + b] = part[0]; }
}
`,
  },
  // dc = (σ(c) − x)·dlx[b]
  bernoulliBackward: elementwise(
    ["D", "canvas", "x", "dlx", "dc"],
    `  mem[p.dc + id] = (sigmoid(mem[p.canvas + id]) - mem[p.x + id]) * mem[p.dlx + id / p.D];`,
  ),
  // one thread per image: z = μ + σ·ε; lz += ½Σ(μ² + σ² − 2 log σ − 1); logRatio += Σ ½(ε² − z²) + log σ
  posteriorForward: elementwise(
    ["Z", "q", "eps", "zOut", "zStride", "lz", "logRatio"],
    `  let b = id;
  var kl = 0.0; var lr = 0.0;
  for (var k = 0u; k < p.Z; k++) {
    let mu = mem[p.q + b * 2u * p.Z + k]; let ls = mem[p.q + b * 2u * p.Z + p.Z + k];
    let e = mem[p.eps + b * p.Z + k];
    let sd = exp(ls); let z = mu + sd * e;
    mem[p.zOut + b * p.zStride + k] = z;
    kl += mu * mu + sd * sd - 2.0 * ls - 1.0;
    lr += 0.5 * (e * e - z * z) + ls;
  }
  mem[p.lz + b] += 0.5 * kl;
  mem[p.logRatio + b] += lr;`,
  ),
  // ∂μ = ∂z + ∂Lz·μ, ∂log σ = ∂z·ε·σ + ∂Lz·(σ² − 1); one thread per (image, unit)
  posteriorBackward: elementwise(
    ["Z", "q", "eps", "dz", "dzStride", "dlz", "dq"],
    `  let b = id / p.Z; let k = id % p.Z;
  let g = mem[p.dlz + b];
  let mu = mem[p.q + b * 2u * p.Z + k]; let sd = exp(mem[p.q + b * 2u * p.Z + p.Z + k]);
  let d = mem[p.dz + b * p.dzStride + k];
  mem[p.dq + b * 2u * p.Z + k] = d + g * mu;
  mem[p.dq + b * 2u * p.Z + p.Z + k] = d * mem[p.eps + id] * sd + g * (sd * sd - 1.0);`,
  ),
  // the classifier's objective (Section 4.1), one thread per image: the softmax cross-entropy of its
  // K class scores into loss[b], and the gradient of the batch mean, (softmax − onehot)/n, into dLogits
  softmaxCrossEntropy: elementwise(
    ["K", "logits", "labels", "loss", "dLogits"],
    `  let row = p.logits + id * p.K; let label = u32(mem[p.labels + id]);
  var top = mem[row];
  for (var k = 1u; k < p.K; k++) { top = max(top, mem[row + k]); }
  var sum = 0.0;
  for (var k = 0u; k < p.K; k++) { sum += exp(mem[row + k] - top); }
  let logZ = top + log(sum);
  mem[p.loss + id] = logZ - mem[row + label];
  for (var k = 0u; k < p.K; k++) {
    mem[p.dLogits + id * p.K + k] = (exp(mem[row + k] - logZ) - select(0.0, 1.0, k == label)) / f32(p.total);
  }`,
  ),
};
