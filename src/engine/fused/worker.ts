/**
 * A worker thread of a pool (pool.ts): attaches a FusedDraw or a FusedClassifier to its share of
 * the shared memory and runs it when woken. Started by pool.ts; not for direct use. Uses no Deno-only API unless
 * told to open a CBLAS library (through the Deno adapter cblas.ts).
 *
 * @module
 */
import { engineContext } from "./context.ts";
import { FusedDraw } from "../program/draw.ts";
import { Arena } from "./wasm.ts";
import { COMMAND, CONTROL, makeRunner, teamOf, type WorkerInit } from "./pool.ts";
import { TeamFailure } from "../program/team.ts";

self.onmessage = async (event: MessageEvent<WorkerInit>) => {
  const init = event.data;
  const arena = new Arena(init.start, init.memory);
  const ctrl = arena.i32(init.ctrl, CONTROL.size);
  let runner: ReturnType<typeof makeRunner>;
  try {
    const blas = init.blas ? (await import("./cblas.ts")).openCblas() : undefined;
    if (init.blas && !blas) throw new Error("the CBLAS library the main thread opened did not open here");
    runner = makeRunner(init.model, init.n, engineContext(init.module, arena, blas), {
      weightsPtr: init.weightsPtr,
      training: init.training,
      team: init.team,
    });
    if (arena.used !== init.end) throw new Error(`share laid out to ${arena.used}, expected ${init.end}`);
  } catch (e) {
    console.error(`fused worker: ${e instanceof Error ? e.message : e}`);
    Atomics.store(ctrl, CONTROL.READY, 2);
    Atomics.notify(ctrl, CONTROL.READY);
    return;
  }
  Atomics.store(ctrl, CONTROL.READY, 1);
  Atomics.notify(ctrl, CONTROL.READY);
  let seen = 0;
  for (;;) {
    Atomics.wait(ctrl, CONTROL.SEQ, seen);
    const seq = Atomics.load(ctrl, CONTROL.SEQ);
    if (seq === seen) continue;
    seen = seq;
    const cmd = Atomics.load(ctrl, CONTROL.CMD);
    if (cmd === COMMAND.EXIT) break;
    try {
      if (cmd === COMMAND.FORWARD) runner.runForward();
      else if (cmd === COMMAND.BACKWARD) runner.runBackward();
      else if (cmd === COMMAND.GENERATE && runner instanceof FusedDraw) runner.runGenerate();
    } catch (e) {
      teamOf(runner)?.fail(); // the other threads' barriers give up on this one
      // a barrier that gave up on another thread: that thread says why
      if (!(e instanceof TeamFailure)) console.error(`fused worker: ${e instanceof Error ? e.stack : e}`);
      Atomics.store(ctrl, CONTROL.FAILED, 1);
    }
    Atomics.store(ctrl, CONTROL.DONE, seq);
    Atomics.notify(ctrl, CONTROL.DONE);
  }
  self.close();
};
