/**
 * Filterbank + read and filterbank + write (Eqs 19–29), forward and forward + backward, at each
 * size of Table 3, batch 100: the tfjs composition (attention.ts) against the fused engine's
 * kernels (fused.ts, plain TypeScript loops, one thread). Run: deno bench -A bench/attention_bench.ts
 */
import * as tf from "../src/tf.ts";
import { BACKEND } from "./_setup.ts";
import { attentionWindow, filterbank, readPatch, writePatch } from "../src/attention.ts";
import { AttentionKernels } from "../src/engine/fused/attention_kernels.ts";
import { Rng } from "../src/random.ts";

const SIZES: [string, number, number, number, number][] = [
  // label, N, A (width), B (height), channels read at once
  ["MNIST read: N=2 on 28×28, 2 channels (x, x̂)", 2, 28, 28, 2],
  ["MNIST write: N=5 on 28×28, 1 channel", 5, 28, 28, 1],
  ["SVHN read/write: N=12 on 54×54, 6 channels (x, x̂ in RGB)", 12, 54, 54, 6],
  ["CIFAR read/write: N=5 on 32×32, 6 channels (x, x̂ in RGB)", 5, 32, 32, 6],
  ["cluttered read: N=12 on 100×100, 1 channel", 12, 100, 100, 1],
];
const batch = 100;

for (const [label, N, A, B, C] of SIZES) {
  const raw = tf.randomUniform([batch, 5], -0.5, 0.5, "float32", 1) as tf.Tensor2D;
  const img = tf.randomUniform([batch, B, C, A], 0, 1, "float32", 2) as tf.Tensor4D;
  const patch = tf.randomNormal([batch, N, C, N], 0, 1, "float32", 3) as tf.Tensor4D;
  const read = (r: tf.Tensor2D, x: tf.Tensor4D) => {
    const w = attentionWindow(r, N, A, B);
    return readPatch(x, filterbank(w, N, A, B), w.gamma);
  };
  const write = (r: tf.Tensor2D, p: tf.Tensor4D) => {
    const w = attentionWindow(r, N, A, B);
    return writePatch(p, filterbank(w, N, A, B), w.gamma);
  };
  const readGrad = tf.grads((r: tf.Tensor, x: tf.Tensor) => tf.sum(read(r as tf.Tensor2D, x as tf.Tensor4D)));
  const writeGrad = tf.grads((r: tf.Tensor, p: tf.Tensor) => tf.sum(write(r as tf.Tensor2D, p as tf.Tensor4D)));
  const cases: [string, () => tf.Tensor | tf.Tensor[] | void][] = [
    ["filterbank + read, forward", () => tf.tidy(() => read(raw, img))],
    ["filterbank + read, forward + backward", () => readGrad([raw, img])],
    ["filterbank + write, forward", () => tf.tidy(() => write(raw, patch))],
    ["filterbank + write, forward + backward", () => writeGrad([raw, patch])],
  ];
  if (label.startsWith("cluttered")) {
    // the classifier reads the image alone
    const rng = new Rng(4), k = await AttentionKernels.create(N, A, B, C, batch);
    const rawF = Float32Array.from({ length: batch * 5 }, () => rng.uniform() - 0.5);
    const x = Float32Array.from({ length: batch * B * C * A }, () => rng.uniform());
    const dP = rng.fillNormal(new Float32Array(batch * N * C * N));
    cases.push(
      ["wasm kernel: filterbank + read, forward", () => void k.read(rawF, x, null)],
      ["wasm kernel: filterbank + read, forward + backward", () => {
        k.read(rawF, x, null);
        k.readBackward(dP, false);
      }],
    );
  } else {
    // the fused read takes x and x̂ (C/2 channels each); the fused write writes all C, like the tfjs one
    const c = C % 2 === 0 ? C / 2 : C, rng = new Rng(4), k = await AttentionKernels.create(N, A, B, c, batch);
    const kw = await AttentionKernels.create(N, A, B, C, batch);
    const rawF = Float32Array.from({ length: batch * 5 }, () => rng.uniform() - 0.5);
    const x = Float32Array.from({ length: batch * B * c * A }, () => rng.uniform());
    const sx = Float32Array.from({ length: batch * B * c * A }, () => rng.uniform());
    const dP = rng.fillNormal(new Float32Array(batch * N * 2 * c * N));
    const w = rng.fillNormal(new Float32Array(batch * N * C * N));
    if (C % 2 === 0) {
      cases.push(
        ["wasm kernel: filterbank + read, forward", () => void k.read(rawF, x, sx)],
        ["wasm kernel: filterbank + read, forward + backward", () => {
          k.read(rawF, x, sx);
          k.readBackward(dP, true);
        }],
      );
    }
    cases.push(
      ["wasm kernel: filterbank + write, forward", () => void kw.write(rawF, w)],
      ["wasm kernel: filterbank + write, forward + backward", () => {
        kw.writeBackward(kw.write(rawF, w));
      }],
    );
  }
  for (const [what, fn] of cases) {
    Deno.bench({
      name: `${what}: ${label}`,
      group: label,
      baseline: what.endsWith("read, forward"),
      async fn() {
        const out = fn();
        if (!out) return;
        const list = Array.isArray(out) ? out : [out];
        await list[0].data();
        tf.dispose(list);
      },
    });
  }
}
void BACKEND;
