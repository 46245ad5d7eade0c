/**
 * Runs a test body on every tfjs backend present, each with its stated tolerance.
 *
 * cpu and wasm are always present. WebGPU runs where Deno exposes an adapter (on our machines,
 * Mesa's llvmpipe in software): slow to compile shaders, so only tests marked `webgpu: true`,
 * with small shapes, run there. DRAW_TEST_BACKENDS=cpu,wasm narrows the list.
 *
 * Each backend step runs the tfjs graph (TFJS_ENGINE); one more step, "fused", runs the same
 * body on the fused engine (src/engine/, one thread) on the cpu backend, and for tests marked
 * `webgpu: true` another, "webgpu engine", on the WebGPU engine (WGSL kernels), so that every
 * check of drawLoss and drawGenerate holds for each: the body gets the engine to hand to what it
 * tests. "fused" in DRAW_TEST_BACKENDS selects it alone.
 */
import * as tf from "../src/tf.ts";
import { type BackendName, selectBackend, webgpuAdapter } from "../src/backend.ts";
import { createEngine, type Engine, TFJS_ENGINE } from "../src/engine/engine.ts";

/** Relative tolerance of float32 results on each backend against a float64 reference. */
export const RTOL: Record<BackendName, number> = { cpu: 1e-4, wasm: 1e-4, webgpu: 2e-3 };

const wanted = (Deno.env.get("DRAW_TEST_BACKENDS") ?? "cpu,wasm,webgpu,fused").split(",");
const hasGpu = wanted.includes("webgpu") && (await webgpuAdapter()) !== undefined;

/** Backends this run tests. */
export const PRESENT: BackendName[] = (["cpu", "wasm", "webgpu"] as BackendName[])
  .filter((b) => wanted.includes(b) && (b !== "webgpu" || hasGpu));

/**
 * Registers `name` as a Deno test with one step per backend present. The body gets the backend
 * and its tolerance, and must dispose what it makes (a leak check wraps each step).
 */
export function testEveryBackend(
  name: string,
  body: (backend: BackendName, rtol: number, engine: Engine) => void | Promise<void>,
  { webgpu = false }: { webgpu?: boolean } = {},
): void {
  Deno.test({
    name,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: async (t) => {
      const steps: [string, BackendName][] = PRESENT.map((b) => [b, b]);
      if (wanted.includes("fused")) steps.push(["fused", "cpu"]);
      if (PRESENT.includes("webgpu")) steps.push(["webgpu engine", "webgpu"]);
      for (const [label, backend] of steps) {
        if (backend === "webgpu" && !webgpu) continue;
        await t.step(label, async () => {
          await selectBackend(backend);
          const engine = label === "fused"
            ? await createEngine("fused", { threads: 1 })
            : label === "webgpu engine"
            ? await createEngine("webgpu", { backend: "webgpu" })
            : TFJS_ENGINE;
          try {
            const before = tf.memory().numTensors;
            await body(backend, RTOL[backend], engine);
            const after = tf.memory().numTensors;
            if (after !== before) throw new Error(`${name} on ${label} leaked ${after - before} tensors`);
          } finally {
            engine.dispose();
          }
        });
      }
    },
  });
}

/** Reads a tensor back as plain numbers and disposes it. */
export async function values(t: tf.Tensor): Promise<number[]> {
  const v = Array.from(await t.data() as Float32Array);
  t.dispose();
  return v;
}
