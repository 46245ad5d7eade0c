import * as tf from "../src/tf.ts";
import { selectBackend, webgpuAdapter } from "../src/backend.ts";
import { equal, match, ok, rejects } from "./_assert.ts";

Deno.test("selectBackend() honours an explicit choice and explains an automatic one", async () => {
  equal((await selectBackend("cpu")).name, "cpu");
  equal(tf.getBackend(), "cpu");
  equal((await selectBackend("wasm")).name, "wasm");
  const auto = await selectBackend("auto");
  const adapter = await webgpuAdapter();
  if (adapter && !adapter.fallback) {
    equal(auto.name, "webgpu");
  } else {
    equal(auto.name, "wasm");
    match(auto.reason, adapter ? /software fallback/ : /no WebGPU adapter/);
  }
  ok(auto.reason.length > 0);
});

Deno.test("selectBackend() rejects an unknown backend name", async () => {
  // deno-lint-ignore no-explicit-any
  await rejects(() => selectBackend("tpu" as any), /must be one of auto, webgpu, wasm, cpu: current value is tpu/);
});
