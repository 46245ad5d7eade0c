/** Random problems for comparing engines: weights at the initialisation's scale, images, noise, loss gradients. */
import { type DrawConfig, imageSize } from "../src/config.ts";
import type { FusedWeights } from "../src/engine/program/layout.ts";
import { Rng } from "../src/random.ts";

/** Weights for `specs`: kernels at the initialisation's scale (1/√fan-in), everything else (biases, initial states) 0.3·N(0, 1). */
export function randomParams(specs: { name: string; shape: number[] }[], rng: Rng): FusedWeights {
  const w: FusedWeights = {};
  for (const s of specs) {
    const scale = s.shape.length === 2 ? 1 / Math.sqrt(s.shape[0]) : 0.3;
    w[s.name] = rng.fillNormal(new Float32Array(s.shape.reduce((a, b) => a * b, 1))).map((e) => scale * e);
  }
  return w;
}

/** DRAW's weights, images x [batch, D] in [0, 1], noise eps [T, batch, z] and per-image loss gradients. */
export function drawProblem(cfg: DrawConfig, specs: { name: string; shape: number[] }[], batch: number, seed: number) {
  const rng = new Rng(seed);
  const w = randomParams(specs, rng);
  const x = Float32Array.from({ length: batch * imageSize(cfg) }, () => rng.uniform());
  const eps = rng.fillNormal(new Float32Array(cfg.T * batch * cfg.z));
  const dlx = Float32Array.from({ length: batch }, () => rng.uniform());
  const dlz = Float32Array.from({ length: batch }, () => rng.uniform());
  return { w, x, eps, dlx, dlz };
}
