/**
 * The WebAssembly SIMD kernels of the fused engine (built from `src/engine/fused/kernels/`, AssemblyScript, by
 * `deno task kernels`) and the memory they work on: one shared `WebAssembly.Memory` per engine
 * runner, carved by a bump {@link Arena}, on which every thread runs its own instance of the same
 * module. No Deno-only API here: the same file runs in a browser page.
 *
 * @module
 */

import { zigguratTables } from "../../random.ts";

/** The kernels' exports: every pointer is a byte offset into the shared memory. */
export interface KernelExports {
  heapBase(): number;
  expInto(src: number, dst: number, len: number): void;
  sigmoidInto(src: number, dst: number, len: number): void;
  tanhInto(src: number, dst: number, len: number): void;
  /** src/engine/fused/kernels/noise.ts (the wasm kernels only: the WebGPU engine is given its noise). */
  noiseTablesSize?(): number;
  noise?(seed: number, start: number, count: number, out: number, tables: number): void;
  packedSize(K: number, N: number): number;
  packB(trans: number, K: number, N: number, b: number, ldb: number, dst: number): void;
  gemmPacked(
    transA: number,
    M: number,
    N: number,
    K: number,
    a: number,
    lda: number,
    packed: number,
    beta: number,
    c: number,
    ldc: number,
  ): void;
  lstmForward(n: number, H: number, gates: number, bias: number, cPrev: number, c: number, h: number): void;
  lstmBackward(
    n: number,
    H: number,
    gates: number,
    c: number,
    cPrev: number,
    dh: number,
    dc: number,
    dGates: number,
  ): void;
  windowForward(att: number, raw: number, rawStride: number): void;
  readForward(att: number, x: number, sig: number, out: number, outStride: number): void;
  readBackward(
    att: number,
    x: number,
    sig: number,
    patch: number,
    dPatch: number,
    patchStride: number,
    dc: number,
    dRaw: number,
    dRawStride: number,
  ): void;
  writeForward(att: number, w: number, wStride: number, canvas: number): void;
  writeBackward(
    att: number,
    w: number,
    wStride: number,
    dCanvas: number,
    dw: number,
    dwStride: number,
    dRaw: number,
    dRawStride: number,
  ): void;
  bernoulliForward(n: number, D: number, canvas: number, x: number, lx: number): void;
  bernoulliBackward(n: number, D: number, canvas: number, x: number, dlx: number, dc: number): void;
  posteriorForward(
    n: number,
    Z: number,
    q: number,
    eps: number,
    zOut: number,
    zStride: number,
    lz: number,
    logRatio: number,
  ): void;
  posteriorBackward(
    n: number,
    Z: number,
    q: number,
    eps: number,
    dz: number,
    dzStride: number,
    dlz: number,
    dq: number,
  ): void;
  addColumnSums(m: number, rows: number, cols: number, into: number): void;
  addInto(x: number, y: number, len: number): void;
  copyRows(dst: number, dstStride: number, src: number, srcStride: number, rows: number, cols: number): void;
  addRows(dst: number, dstStride: number, src: number, srcStride: number, rows: number, cols: number): void;
  readWholeForward(n: number, D: number, x: number, sig: number, out: number, outStride: number): void;
  readWholeBackward(n: number, D: number, sig: number, dOut: number, outStride: number, dc: number): void;
  zero(x: number, len: number): void;
}

/** The window's fields, 5 floats per image, in the kernels' order (src/engine/fused/kernels/window.ts). */
export const WINDOW = { gX: 0, gY: 1, sigma2: 2, delta: 3, gamma: 4, size: 5 } as const;

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

/** What a runner allocates its buffers from: an {@link Arena} on wasm memory, or the WebGPU engine's heap. */
export interface Allocator {
  /** A new zeroed buffer of `floats` 32-bit values, as a byte offset (never 0). */
  alloc(floats: number): number;
  /** Bytes allocated so far. */
  readonly used: number;
  /** A Float32Array view at byte offset `ptr` (host memory only). */
  f32(ptr: number, floats: number): Float32Array;
  /** An Int32Array view at byte offset `ptr` (small structs the host writes for the kernels). */
  i32(ptr: number, words: number): Int32Array;
}

/** Bytes in a wasm page. */
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

/**
 * Writes random.ts's ziggurat tables where the noise kernel reads them (KN as 32-bit integers,
 * then WN, FN and R as float64, at the byte offsets of src/engine/fused/kernels/noise.ts); returns their offset.
 */
export function noiseTables(arena: Allocator, k: KernelExports): number {
  const { KN, WN, FN, R } = zigguratTables();
  const ptr = arena.alloc(k.noiseTablesSize!());
  arena.i32(ptr, 128).set(KN);
  const f = arena.f32(ptr + 512, 2 * 257), f64 = new Float64Array(f.buffer, f.byteOffset, 257);
  f64.set(WN);
  f64.set(FN, 128);
  f64[256] = R;
  return ptr;
}

/** One thread's instance of the kernels on an arena's memory. */
export function instantiate(module: WebAssembly.Module, memory: WebAssembly.Memory): KernelExports {
  // the noise kernel's slow paths use the host's own e^x and log, so that it draws random.ts's values bit for bit
  const noise = { hostExp: Math.exp, hostLog: Math.log };
  const instance = new WebAssembly.Instance(module, { env: { memory }, noise });
  return instance.exports as unknown as KernelExports;
}

/** The geometry of one attention (a read or a write) for a batch: src/engine/fused/kernels/window.ts's struct. */
export interface AttentionShape {
  /** Images. */
  n: number;
  /** Filters per axis. */
  N: number;
  /** Width, height, channels. */
  A: number;
  B: number;
  C: number;
}

/** The struct's words, in the kernels' field order. */
export const ATT = { n: 0, N: 1, A: 2, B: 3, C: 4, win: 5, F: 6, mid: 7, scratch: 8, size: 9 } as const;

/**
 * The host's side of src/engine/fused/kernels/window.ts's `Attention`: the struct in memory, its scratch, and
 * per-step buffers set with {@link at}.
 */
export class AttentionStruct {
  /** The struct's byte offset, for the kernels. */
  readonly ptr: number;
  private readonly words: Int32Array;

  /**
   * Writes the struct for `shape` into `arena`, with scratch for `copies` images at once (1 where
   * one thread walks the images in turn; the batch where the WebGPU engine runs them in parallel).
   */
  constructor(arena: Allocator, readonly shape: AttentionShape, copies = 1) {
    const { N, A, B, C } = shape, D = A * B * C;
    this.ptr = arena.alloc(ATT.size);
    const scratch = arena.alloc(copies * (2 * D + 2 * N * 2 * C * A + N * (A + B)));
    this.words = arena.i32(this.ptr, ATT.size);
    for (const k of ["n", "N", "A", "B", "C"] as const) this.words[ATT[k]] = shape[k];
    this.words[ATT.scratch] = scratch;
  }

  /** Points the struct at one step's windows, filterbanks and kept products; returns its offset. */
  at(win: number, F: number, mid: number): number {
    this.words[ATT.win] = win;
    this.words[ATT.F] = F;
    this.words[ATT.mid] = mid;
    return this.ptr;
  }

  /** Floats per image of the filterbanks (F_X then F_Y). */
  get bank(): number {
    return this.shape.N * (this.shape.A + this.shape.B);
  }
}
