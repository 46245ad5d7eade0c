// AssemblyScript. DRAW Eq 9 (the Bernoulli reconstruction loss from the canvas's logits) and
// Eqs 1–2, 6, 10–11 (the posterior's sample and its KL to the prior), forward and backward.
import { vsigmoid } from "./fastmath";

/**
 * Eq 9 per image: lx[b] = Σ_k softplus(c) − x·c over canvas logits c [n, D], computed stably as
 * max(c, 0) + log1p(e^{−|c|}) − x·c.
 */
export function bernoulliForward(n: i32, D: i32, canvas: usize, x: usize, lx: usize): void {
  for (let b = 0; b < n; b++) {
    let s: f64 = 0;
    for (let k = b * D; k < (b + 1) * D; k++) {
      const c = load<f32>(canvas + (<usize> k << 2)), xk = load<f32>(x + (<usize> k << 2));
      s += <f64> (max(c, 0) + Mathf.log1p(Mathf.exp(-Mathf.abs(c))) - xk * c);
    }
    store<f32>(lx + (<usize> b << 2), <f32> s);
  }
}

/** Backward of Eq 9: dc[b, k] = (σ(c) − x)·dlx[b]. */
export function bernoulliBackward(n: i32, D: i32, canvas: usize, x: usize, dlx: usize, dc: usize): void {
  for (let b = 0; b < n; b++) {
    const g = f32x4.splat(load<f32>(dlx + (<usize> b << 2)));
    let k = b * D;
    for (; k + 4 <= (b + 1) * D; k += 4) {
      const o = <usize> k << 2;
      v128.store(dc + o, f32x4.mul(f32x4.sub(vsigmoid(v128.load(canvas + o)), v128.load(x + o)), g));
    }
    for (; k < (b + 1) * D; k++) {
      const o = <usize> k << 2, c = load<f32>(canvas + o);
      store<f32>(dc + o, (1 / (1 + Mathf.exp(-c)) - load<f32>(x + o)) * f32x4.extract_lane(g, 0));
    }
  }
}

/**
 * Eqs 1–2, 6, 10–11 at one step: from q [n, 2Z] (μ, then log σ) and noise eps [n, Z], the sample
 * z = μ + σ·ε into zOut + b·zStride, Eq 11's ½Σ(μ² + σ² − 2 log σ − 1) added to lz[b], and
 * log p(z) − log q(z|x) = Σ ½(ε² − z²) + log σ added to logRatio[b].
 */
export function posteriorForward(
  n: i32,
  Z: i32,
  q: usize,
  eps: usize,
  zOut: usize,
  zStride: i32,
  lz: usize,
  logRatio: usize,
): void {
  for (let b = 0; b < n; b++) {
    let kl: f32 = 0, lr: f32 = 0;
    const qb = q + (<usize> (b * 2 * Z) << 2),
      eb = eps + (<usize> (b * Z) << 2),
      zb = zOut + (<usize> (b * zStride) << 2);
    for (let k = 0; k < Z; k++) {
      const o = <usize> k << 2;
      const mu = load<f32>(qb + o), ls = load<f32>(qb + (<usize> (Z + k) << 2)), e = load<f32>(eb + o);
      const sd = Mathf.exp(ls), zz = mu + sd * e;
      store<f32>(zb + o, zz);
      kl += mu * mu + sd * sd - 2 * ls - 1; // Eq 11
      lr += 0.5 * (e * e - zz * zz) + ls;
    }
    store<f32>(lz + (<usize> b << 2), load<f32>(lz + (<usize> b << 2)) + 0.5 * kl);
    store<f32>(logRatio + (<usize> b << 2), load<f32>(logRatio + (<usize> b << 2)) + lr);
  }
}

/**
 * Backward of {@link posteriorForward}: from ∂z (at dz + b·dzStride) and ∂Lz per image, ∂q
 * [n, 2Z]: ∂μ = ∂z + ∂Lz·μ, ∂log σ = ∂z·ε·σ + ∂Lz·(σ² − 1).
 */
export function posteriorBackward(
  n: i32,
  Z: i32,
  q: usize,
  eps: usize,
  dz: usize,
  dzStride: i32,
  dlz: usize,
  dq: usize,
): void {
  for (let b = 0; b < n; b++) {
    const g = load<f32>(dlz + (<usize> b << 2));
    const qb = q + (<usize> (b * 2 * Z) << 2), dqb = dq + (<usize> (b * 2 * Z) << 2);
    const eb = eps + (<usize> (b * Z) << 2), db = dz + (<usize> (b * dzStride) << 2);
    for (let k = 0; k < Z; k++) {
      const o = <usize> k << 2, oz = <usize> (Z + k) << 2;
      const mu = load<f32>(qb + o), sd = Mathf.exp(load<f32>(qb + oz)), d = load<f32>(db + o);
      store<f32>(dqb + o, d + g * mu);
      store<f32>(dqb + oz, d * load<f32>(eb + o) * sd + g * (sd * sd - 1));
    }
  }
}
