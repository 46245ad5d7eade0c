/** Shared bench setup: the backend from DRAW_BENCH_BACKEND (default wasm). */
import { type BackendName, selectBackend } from "../src/backend.ts";

export const BACKEND = (Deno.env.get("DRAW_BENCH_BACKEND") ?? "wasm") as BackendName;
await selectBackend(BACKEND);
