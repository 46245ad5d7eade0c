/**
 * Runs a test body on every tfjs backend present, each with its stated tolerance.
 *
 * cpu and wasm are always present. WebGPU runs where Deno exposes an adapter (on our machines,
 * Mesa's llvmpipe in software): slow to compile shaders, so only tests marked `webgpu: true`,
 * with small shapes, run there. DRAW_TEST_BACKENDS=cpu,wasm narrows the list.
 *
 * Each backend step runs the tfjs graph (TFJS_ENGINE). A body that takes the engine (its third
 * parameter) and hands it to what it tests gets one more step, "fused", on the fused engine
 * (src/engine/, one thread) on the cpu backend, and for tests marked `webgpu: true` another,
 * "webgpu engine", on the WebGPU engine (WGSL kernels). A body that does not take the engine gets no
 * such step: a step's label never claims an engine its body did not run. "fused" in
 * DRAW_TEST_BACKENDS selects it alone.
 *
 * Where a test needs a WebGPU adapter and finds none, it is reported as ignored with a warning; with
 * DRAW_REQUIRE_WEBGPU=1 (CI sets it: our machines have Mesa's llvmpipe) a missing adapter fails the run
 * instead, so that the WGSL kernels cannot lose their coverage silently.
 */
import * as tf from "../src/tf.ts";
import { type BackendName, selectBackend, webgpuAdapter } from "../src/backend.ts";
import { createEngine, type Engine, TFJS_ENGINE } from "../src/engine/engine.ts";

/**
 * Relative tolerance of float32 results on each backend against a float64 reference. cpu and wasm: float32's
 * unit roundoff is 6e-8, and a sum of n terms of mixed sign may lose √n·6e-8 to n·6e-8 of its largest term; DRAW's
 * figures are sums over T steps of sums over up to a few hundred terms (an LSTM gate: inputs + hidden), so 1e-4, and
 * 10× that where a test compares a whole pass (Lx, Lz: T·D terms through the recurrence). webgpu: WGSL's exp and log
 * carry no precision guarantee beyond a few ulps on every adapter, and llvmpipe's fused multiply-adds reorder sums:
 * 2e-3.
 */
export const RTOL: Record<BackendName, number> = { cpu: 1e-4, wasm: 1e-4, webgpu: 2e-3 };

const wanted = (Deno.env.get("DRAW_TEST_BACKENDS") ?? "cpu,wasm,webgpu,fused").split(",");
const hasGpu = wanted.includes("webgpu") && (await webgpuAdapter()) !== undefined;

/** Whether this run must have a WebGPU adapter (DRAW_REQUIRE_WEBGPU=1, as CI sets it). */
export const REQUIRE_WEBGPU: boolean = Deno.env.get("DRAW_REQUIRE_WEBGPU") === "1";
if (REQUIRE_WEBGPU && wanted.includes("webgpu") && !hasGpu) {
  throw new Error(
    "DRAW_REQUIRE_WEBGPU=1 but Deno finds no WebGPU adapter: the WGSL tests would be skipped (install Mesa's " +
      "Vulkan or GL drivers, e.g. Debian's mesa-vulkan-drivers, or unset DRAW_REQUIRE_WEBGPU)",
  );
}

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
      const takesEngine = body.length >= 3;
      if (takesEngine && wanted.includes("fused")) steps.push(["fused", "cpu"]);
      if (takesEngine && PRESENT.includes("webgpu")) steps.push(["webgpu engine", "webgpu"]);
      for (const [label, backend] of steps) {
        if (backend === "webgpu" && !webgpu) continue;
        await t.step(label, async () => {
          await selectBackend(backend);
          const inner = label === "fused"
            ? await createEngine("fused", { threads: 1 })
            : label === "webgpu engine"
            ? await createEngine("webgpu", { backend: "webgpu" })
            : TFJS_ENGINE;
          const { engine, runners } = counting(inner);
          try {
            const before = tf.memory().numTensors;
            await body(backend, RTOL[backend], engine);
            const after = tf.memory().numTensors;
            if (after !== before) throw new Error(`${name} on ${label} leaked ${after - before} tensors`);
            if (inner !== TFJS_ENGINE && runners() === 0) {
              throw new Error(
                `${name}: the ${label} step never ran the ${
                  label.replace(/ engine$/, "")
                } engine (its body ran the graph)`,
              );
            }
          } finally {
            engine.dispose();
          }
        });
      }
    },
  });
}

/** `e`, counting the runners it hands out: an engine step whose body never asked for one ran the graph. */
function counting(e: Engine): { engine: Engine; runners: () => number } {
  let n = 0;
  const count = <T>(r: T): T => {
    if (r !== undefined) n++;
    return r;
  };
  const engine: Engine = {
    name: e.name,
    description: e.description,
    draw: (config, batch, options) => count(e.draw(config, batch, options)),
    classifier: (config, batch) => count(e.classifier(config, batch)),
    dispose: () => e.dispose(),
  };
  return { engine, runners: () => n };
}

/** Reads a tensor back as plain numbers and disposes it. */
export async function values(t: tf.Tensor): Promise<number[]> {
  const v = Array.from(await t.data() as Float32Array);
  t.dispose();
  return v;
}
