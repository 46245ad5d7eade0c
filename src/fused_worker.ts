/**
 * A worker thread of {@link FusedPool}: runs a FusedDraw on its share of the batch, woken through
 * shared memory. Started by fused_pool.ts; not for direct use.
 *
 * @module
 */
import type { DrawConfig } from "./config.ts";
import { FusedDraw } from "./fused.ts";
import {
  BACKWARD,
  CONTROL,
  EXIT,
  FORWARD,
  GENERATE,
  type ShareLayout,
  weightOffsets,
  weightViews,
} from "./fused_pool.ts";
import { openCblas } from "./gemm.ts";

interface Init {
  config: DrawConfig;
  layout: ShareLayout;
  ctrl: SharedArrayBuffer;
  data: SharedArrayBuffer;
  weights: SharedArrayBuffer;
}

const { CMD, SEQ, DONE, READY, FAILED } = CONTROL;

self.onmessage = (event: MessageEvent<Init>) => {
  const { config, layout: L, ctrl: c, data: d, weights: w } = event.data;
  const ctrl = new Int32Array(c), data = new Float32Array(d);
  let engine: FusedDraw;
  try {
    const cblas = openCblas();
    if (!cblas) throw new Error("no CBLAS library in the worker");
    engine = new FusedDraw(config, L.n, cblas.gemm);
  } catch (e) {
    console.error(`fused worker: ${e instanceof Error ? e.message : e}`);
    Atomics.store(ctrl, READY, 2);
    Atomics.notify(ctrl, READY);
    return;
  }
  const weights = weightViews(config, new Float32Array(w));
  const { at } = weightOffsets(config);
  const { n } = L, D = config.width * config.height * config.channels;
  const x = data.subarray(L.x, L.x + n * D), eps = data.subarray(L.eps, L.eps + config.T * n * config.z);
  Atomics.store(ctrl, READY, 1);
  Atomics.notify(ctrl, READY);
  let seen = 0;
  for (;;) {
    Atomics.wait(ctrl, SEQ, seen);
    const seq = Atomics.load(ctrl, SEQ);
    if (seq === seen) continue;
    seen = seq;
    const cmd = Atomics.load(ctrl, CMD);
    if (cmd === EXIT) break;
    try {
      if (cmd === FORWARD) {
        const r = engine.forward(weights, x, eps);
        data.set(r.lx, L.out);
        data.set(r.lz, L.out + n);
        data.set(r.logRatio, L.out + 2 * n);
      } else if (cmd === BACKWARD) {
        const g = engine.backward(data.slice(L.dl, L.dl + n), data.slice(L.dl + n, L.dl + 2 * n));
        for (const [name, [o]] of Object.entries(at)) data.set(g[name], L.grads + o);
      } else if (cmd === GENERATE) {
        data.set(engine.generate(weights, eps), L.canvas);
      }
    } catch (e) {
      console.error(`fused worker: ${e instanceof Error ? e.stack : e}`);
      Atomics.store(ctrl, FAILED, 1);
    }
    Atomics.store(ctrl, DONE, seq);
    Atomics.notify(ctrl, DONE);
  }
  self.close();
};
