/**
 * Filterbank + read (Eq 27, on x and x̂ = x − s, or on x alone) and filterbank + write (Eq 29)
 * for a batch of `n` A×B images of C channels, on the wasm kernels, with their backward passes:
 * plain arrays in and out. For the benches (bench/attention_bench.ts) and the spec, which compare
 * them with the tfjs composition of attention.ts.
 *
 * @module
 */
import { type Arena, AttentionStruct, instantiate, type KernelExports, loadKernels, newArena, WINDOW } from "./wasm.ts";

/** One attention's kernels for a batch, with their buffers. */
export class AttentionKernels {
  private readonly k: KernelExports;
  private readonly arena: Arena;
  private readonly att: AttentionStruct;
  private readonly buf: Record<"raw" | "win" | "F" | "mid" | "x" | "s" | "io" | "dio" | "d" | "dRaw", number>;

  private constructor(
    module: WebAssembly.Module,
    readonly N: number,
    readonly A: number,
    readonly B: number,
    readonly C: number,
    readonly n: number,
  ) {
    const a = this.arena = newArena(module);
    this.k = instantiate(module, a.memory);
    const D = A * B * C, patch = N * 2 * C * N;
    this.att = new AttentionStruct(a, { n, N, A, B, C });
    this.buf = {
      raw: a.alloc(n * WINDOW.size),
      win: a.alloc(n * WINDOW.size),
      F: a.alloc(n * this.att.bank),
      mid: a.alloc(n * N * 2 * C * A),
      x: a.alloc(n * D),
      s: a.alloc(n * D),
      io: a.alloc(n * Math.max(D, patch)), // patches out of read, canvases out of write
      dio: a.alloc(n * Math.max(D, patch)), // their gradients in
      d: a.alloc(n * Math.max(D, patch)), // ∂c out of read, ∂w out of write
      dRaw: a.alloc(n * WINDOW.size),
    };
  }

  /** Kernels and buffers for `n` images. */
  static async create(N: number, A: number, B: number, C: number, n: number): Promise<AttentionKernels> {
    return new AttentionKernels(await loadKernels(), N, A, B, C, n);
  }

  private put(ptr: number, values: Float32Array) {
    this.arena.f32(ptr, values.length).set(values);
  }

  private get(ptr: number, floats: number): Float32Array {
    return this.arena.f32(ptr, floats).slice();
  }

  /** The windows and filterbanks of every image from raw [n, 5] (Eqs 21–26). */
  private banks(raw: Float32Array): number {
    this.put(this.buf.raw, raw);
    const ptr = this.att.at(this.buf.win, this.buf.F, this.buf.mid);
    this.k.windowForward(ptr, this.buf.raw, WINDOW.size);
    return ptr;
  }

  /** Patches [n, N, 2C, N] read from x [n, B, C, A] and x − s, or [n, N, C, N] from x alone when s is null. */
  read(raw: Float32Array, x: Float32Array, s: Float32Array | null): Float32Array {
    const R = this.N * (s ? 2 : 1) * this.C * this.N;
    const ptr = this.banks(raw);
    this.put(this.buf.x, x);
    if (s) this.put(this.buf.s, s);
    this.k.readForward(ptr, this.buf.x, s ? this.buf.s : 0, this.buf.io, R);
    return this.get(this.buf.io, this.n * R);
  }

  /**
   * Backward of the latest {@link read}: ∂raw [n, 5] from ∂patches, and (when it read x − s with
   * s = σ(c)) ∂c [n, D].
   */
  readBackward(dP: Float32Array, withS: boolean): { dRaw: Float32Array; dc: Float32Array } {
    const R = this.N * (withS ? 2 : 1) * this.C * this.N, D = this.A * this.B * this.C;
    this.put(this.buf.dio, dP);
    this.arena.f32(this.buf.d, this.n * D).fill(0);
    const ptr = this.att.at(this.buf.win, this.buf.F, this.buf.mid);
    const s = withS ? this.buf.s : 0;
    this.k.readBackward(ptr, this.buf.x, s, this.buf.io, this.buf.dio, R, this.buf.d, this.buf.dRaw, WINDOW.size);
    return { dRaw: this.get(this.buf.dRaw, this.n * WINDOW.size), dc: this.get(this.buf.d, this.n * D) };
  }

  /** Canvases [n, B, C, A] written from patches w [n, N, C, N] onto zeros. */
  write(raw: Float32Array, w: Float32Array): Float32Array {
    const D = this.A * this.B * this.C, W = this.N * this.C * this.N;
    const ptr = this.banks(raw);
    this.put(this.buf.x, w); // the patches live in x's buffer
    this.arena.f32(this.buf.io, this.n * D).fill(0);
    this.k.writeForward(ptr, this.buf.x, W, this.buf.io);
    return this.get(this.buf.io, this.n * D);
  }

  /** Backward of the latest {@link write}: ∂raw [n, 5] and ∂w [n, N, C, N] from ∂canvas. */
  writeBackward(dC: Float32Array): { dRaw: Float32Array; dw: Float32Array } {
    const W = this.N * this.C * this.N;
    this.put(this.buf.dio, dC);
    const ptr = this.att.at(this.buf.win, this.buf.F, this.buf.mid);
    this.k.writeBackward(ptr, this.buf.x, W, this.buf.dio, this.buf.d, W, this.buf.dRaw, WINDOW.size);
    return { dRaw: this.get(this.buf.dRaw, this.n * WINDOW.size), dw: this.get(this.buf.d, this.n * W) };
  }
}
