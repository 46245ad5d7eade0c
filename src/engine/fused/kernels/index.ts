// AssemblyScript. The entry of kernels.wasm: every kernel the fused engine calls, on one imported
// (shared) memory. Pure functions of pointers into it; no allocation, no global state, so each
// thread runs its own instance on the same memory. Build: `deno task kernels`.
export { expInto, sigmoidInto, tanhInto } from "./fastmath";
export { gemm, gemmPacked, packB, packedSize } from "./gemm";
export { lstmBackward, lstmForward } from "./lstm";
export { windowBackward, windowForward } from "./window";
export { readBackward, readForward, readWholeBackward, readWholeForward } from "./read";
export { writeBackward, writeForward } from "./write";
export { bernoulliBackward, bernoulliForward, posteriorBackward, posteriorForward } from "./loss";
export { addColumnSums, addInto, addRows, copyRows, zero } from "./vector";
export { noise, noiseTablesSize } from "./noise";

/** Where the host may start allocating: past this module's static data. */
export function heapBase(): usize {
  return (__heap_base + 15) & ~15;
}
