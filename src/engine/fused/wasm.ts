/**
 * The WebAssembly SIMD kernels of the fused engine (built from `src/engine/fused/kernels/`, AssemblyScript, by
 * `deno task kernels`) and the memory they work on: one shared `WebAssembly.Memory` per engine
 * runner, carved by a bump {@link Arena}, on which every thread runs its own instance of the same
 * module. No Deno-only API here: the same file runs in a browser page.
 *
 * @module
 */

import type { Allocator, KernelExports } from "../program/kernels.ts";

// the kernels' interface and layout live beside the programs that call them (both engines implement it)
export {
  type Allocator,
  ATT,
  type AttentionShape,
  AttentionStruct,
  type KernelExports,
  noiseTables,
  WINDOW,
} from "../program/kernels.ts";

/** Where the built kernels are, beside their AssemblyScript source. */
export const KERNELS_URL: URL = new URL("./kernels/kernels.wasm", import.meta.url);

let compiled: Promise<WebAssembly.Module> | undefined;

/**
 * The compiled kernels (fetched and compiled once per thread): `fetch` reads file: URLs in Deno
 * (with --allow-read) and http: URLs in a browser.
 */
export function loadKernels(url: URL = KERNELS_URL): Promise<WebAssembly.Module> {
  compiled ??= (async () => {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`Cannot load the engine's kernels from ${url}: ${response.status}`);
    return await WebAssembly.compile(await response.arrayBuffer());
  })();
  return compiled;
}

const PAGE = 65536;

/**
 * A shared memory and a bump allocator over it. Allocations are 16-byte aligned and padded by 16
 * bytes, so a kernel may read a whole 4-float vector at the end of any buffer. Nothing is freed:
 * an arena lives as long as its runner.
 */
export class Arena implements Allocator {
  /** The memory every thread's instance works on. */
  readonly memory: WebAssembly.Memory;
  private top: number;

  /** An arena on `memory` (a new shared one by default), allocating from `start`. */
  constructor(start: number, memory?: WebAssembly.Memory) {
    this.memory = memory ?? new WebAssembly.Memory({ initial: 16, maximum: PAGE, shared: true });
    this.top = align(start);
  }

  /** A new buffer of `floats` 32-bit values (zeroed, as fresh memory is), as a byte offset. */
  alloc(floats: number): number {
    const at = this.top;
    this.top = align(at + 4 * floats + 16);
    const have = this.memory.buffer.byteLength;
    if (this.top > have) {
      const pages = Math.ceil((this.top - have) / PAGE);
      try {
        this.memory.grow(pages);
      } catch {
        throw new RangeError(
          `Cannot allocate the engine's buffers as they need ${(this.top / 2 ** 20).toFixed(0)} MiB, more than ` +
            `WebAssembly's 4 GiB: use a smaller --batch`,
        );
      }
    }
    return at;
  }

  /** Bytes allocated so far. */
  get used(): number {
    return this.top;
  }

  /** A Float32Array view of `floats` values at byte offset `ptr`. */
  f32(ptr: number, floats: number): Float32Array {
    return new Float32Array(this.memory.buffer, ptr, floats);
  }

  /** An Int32Array view of `words` values at byte offset `ptr`. */
  i32(ptr: number, words: number): Int32Array {
    return new Int32Array(this.memory.buffer, ptr, words);
  }
}

const align = (n: number) => (n + 15) & ~15;

/**
 * A new arena on a new shared memory, allocating past the module's own static data (its
 * `__heap_base`, the same for every instance of the module).
 */
export function newArena(module: WebAssembly.Module): Arena {
  const arena = new Arena(0);
  return new Arena(instantiate(module, arena.memory).heapBase(), arena.memory);
}

/** One thread's instance of the kernels on an arena's memory. */
export function instantiate(module: WebAssembly.Module, memory: WebAssembly.Memory): KernelExports {
  // the noise kernel's slow paths use the host's own e^x and log, so that it draws random.ts's values bit for bit
  const noise = { hostExp: Math.exp, hostLog: Math.log };
  const instance = new WebAssembly.Instance(module, { env: { memory }, noise });
  return instance.exports as unknown as KernelExports;
}
