/**
 * The arena of DRAW's T-step program (draw.ts), described (layout.ts): the widths its buffers are made of, every
 * buffer in the order it is carved, and the operands of its products with their packed panels.
 *
 * @module
 */
import { type DrawConfig, imageSize } from "../../config.ts";
import { type Allocator, AttentionStruct, type KernelExports, noiseTables, type Operand, WINDOW } from "./kernels.ts";
import { at, type Carved, type Carver, perStep, stepsAt } from "./layout.ts";
import type { Team, TeamPlace, TeamSizes } from "./team.ts";

/**
 * The widths a runner's buffers are made of (floats per image): the image D; the read vector R and the write
 * output W; the decoder's head S = [write window (5) | write (W) | next read window (5)], with the write output at
 * wOff and the next read window at rOff (−1: none); the LSTMs' inputs E = R + 2H and Q = z + H and gates G = 4H;
 * and X, the encoder input's first floats that stay the same over the steps (x, where read is Eq 17's; else 0).
 */
export interface DrawSizes {
  D: number;
  R: number;
  W: number;
  S: number;
  wOff: number;
  rOff: number;
  E: number;
  Q: number;
  G: number;
  X: number;
}

/** The {@link DrawSizes} of `config`. */
export function drawSizes(config: DrawConfig): DrawSizes {
  const { hidden: H, z, readN: Nr, writeN: Nw, channels: C } = config;
  const D = imageSize(config), R = Nr > 0 ? 2 * Nr * Nr * C : 2 * D, W = Nw > 0 ? Nw * Nw * C : D;
  const wOff = Nw > 0 ? WINDOW.size : 0, rOff = Nr > 0 ? wOff + W : -1;
  const S = wOff + W + (Nr > 0 ? WINDOW.size : 0);
  return { D, R, W, S, wOff, rOff, E: R + 2 * H, Q: z + H, G: 4 * H, X: Nr > 0 ? 0 : D };
}

/** The widths of the stores a team shares (team.ts) for `config`: the LSTMs' inputs and gates. */
export function teamSizes(config: DrawConfig): TeamSizes {
  const { E, Q, G, X } = drawSizes(config);
  return { T: config.T, E, Q, G, X };
}

/**
 * The operands of the LSTMs' large products, which a team splits by columns: the encoder's rows that take what
 * changes over the steps (`enc`; all of them with attention) and those that take x (`encX`, without attention).
 */
export type LstmOperand = "enc" | "encX" | "dec" | "encT" | "decT";

/** A thread's columns of an operand in a team, and the first column's index. */
export type TeamOperand = { op: Operand; c0: number };

/** Rows per product when a weight's gradient sums over all T·n rows (bounds the packing buffer). */
export const ROWS = 512;

/** Options of a {@link FusedDraw}. */
export interface FusedDrawOptions {
  /** The flat weights (a vector in paramSpecs order, maybe shared with other threads); allocated when absent. */
  weightsPtr?: number;
  /**
   * Whether backward passes will run (default true). A forward-only runner (evaluation,
   * generation) keeps two steps' stores instead of T and no gradient buffers.
   */
  training?: boolean;
  /**
   * This thread's place in a pool's team (team.ts; training runners only): the LSTMs' large
   * products split by columns over the threads, every other step split by images.
   */
  team?: TeamPlace;
}

/** What {@link drawLayout} needs besides the configuration and batch. */
export interface LayoutContext {
  training: boolean;
  /** Floats in the weight (and gradient) vector; the weights' place where another runner holds them. */
  params: number;
  weightsPtr?: number;
  /** This thread's team, whose shared stores hold this runner's rows. */
  team?: Team;
  /** Images whose attention scratch the kernels need at once (the batch where they run images in parallel). */
  copies: number;
  /** This thread's kernels (the noise tables and the packed panels' sizes are theirs). */
  k: KernelExports;
}

/**
 * Every buffer of a {@link FusedDraw}, in the order it is carved (layout.ts): floats per image times n unless
 * said. The per-step stores hold T steps where backward passes run, else two (taking turns); a team's runner
 * finds the LSTMs' inputs and gates (and their one-step gradients, and x's share of the gates) as its rows of
 * the team's shared block.
 */
export function drawLayout(config: DrawConfig, n: number, c: LayoutContext) {
  const { T, hidden: H, z, readN: Nr, writeN: Nw, channels: C, width: A, height: B } = config;
  const { D, S, E, Q, G, X } = drawSizes(config), team = c.team, training = c.training;
  const steps = (width: number, slots = training ? T : Math.min(T, 2)) => perStep(n, width, slots);
  // a team's stores: this runner's rows of the whole batch's [T, batch, width], and of one step's [batch, width]
  const rows = (ptr: number, width: number) => ptr + 4 * team!.place.first * width;
  const teamSteps = (ptr: number, width: number) => stepsAt(rows(ptr, width), team!.place.batch * width, T);
  const struct = (N: number): Carver<AttentionStruct> => (a) => new AttentionStruct(a, { n, N, A, B, C }, c.copies);
  const pk = (K: number, N: number) => c.k.packedSize(K, N);
  return {
    weights: c.weightsPtr === undefined ? c.params : at(c.weightsPtr),
    grads: training ? c.params : at(0),
    io: { x: n * D, eps: T * n * z, lx: n, lz: n, logRatio: n, dlx: n, dlz: n },
    canvas: n * D,
    stores: {
      encIn: team ? teamSteps(team.encIn, E) : steps(E), // [read | h^dec_{t−1} | h^enc_{t−1}]
      encG: team ? teamSteps(team.encG, G) : steps(G), // activated gates
      encC: steps(H),
      encH: steps(H),
      q: steps(2 * z), // μ, log σ
      decIn: team ? teamSteps(team.decIn, Q) : steps(Q), // [z | h^dec_{t−1}]
      decG: team ? teamSteps(team.decG, G) : steps(G),
      decC: steps(H),
      decH: steps(H),
      head: steps(S), // [write window | write | next read window]
      sig: steps(D), // σ(c_{t−1})
    },
    read: Nr > 0
      ? { att: struct(Nr), win: steps(WINDOW.size), F: steps(Nr * (A + B)), U: steps(Nr * 2 * C * A) }
      : undefined,
    write: Nw > 0
      ? { att: struct(Nw), win: steps(WINDOW.size), F: steps(Nw * (A + B)), V: steps(Nw * C * A) }
      : undefined,
    // one step's: step 1's read window raw, h^dec_0, the head's kernel and bias, zeros
    head0: n * WINDOW.size,
    h0dec: n * H,
    headKernel: H * S,
    headBias: S,
    zeros: Math.max(S, WINDOW.size),
    xGates: X === 0 ? at(0) : team ? at(rows(team.xGates, G)) : n * G, // x·W_x, [n, G]
    grad: training
      ? {
        dQ: steps(2 * z, T),
        dHead: steps(S, T),
        dc: n * D,
        dhDec: n * H,
        dcDec: n * H,
        dhEnc: n * H,
        dcEnc: n * H,
        dEncIn: team ? at(rows(team.dEncIn, E)) : n * E,
        dDecIn: team ? at(rows(team.dDecIn, Q)) : n * Q,
        dRead: [n * WINDOW.size, n * WINDOW.size] as const,
        headK: H * S,
        headB: S,
      }
      : undefined,
    // the noise kernel's tables and the seed words [seed, first, of, drawn here] (wasm kernels only)
    seeded: c.k.noise
      ? { tables: (a: Allocator) => noiseTables(a, c.k), words: (a: Allocator) => a.i32(a.alloc(4), 4) }
      : undefined,
    // where the one-off products pack op(B): a step's gate gradients, or all steps' rows at the end
    work: training
      ? Math.max(pk(ROWS, Math.max(G, 2 * z, S)), pk(n, WINDOW.size), pk(H, WINDOW.size), pk(WINDOW.size, H))
      : pk(H, WINDOW.size),
  };
}

/** The buffers {@link drawLayout} describes, carved. */
export type DrawBuffers = Carved<ReturnType<typeof drawLayout>>;

/** An operand of a product (kernels.ts) before its packed panels are carved. */
type OperandShape = Omit<Operand, "packed">;

/**
 * The operands of a {@link FusedDraw}'s products and their packed panels, in the order carved: the transposed
 * weights' panels only where backward passes run; a team's threads multiply by their own columns of the LSTMs'
 * weights (`team`), and generation by the whole decoder's.
 */
export function operandLayout(config: DrawConfig, w: (name: string) => number, headKernel: number, c: LayoutContext) {
  const { z } = config, { S, E, Q, G, X } = drawSizes(config), { team, training } = c;
  const H = config.hidden;
  const op = (K: number, N: number, trans: boolean, ptr: number, ld: number): OperandShape => ({
    K,
    N,
    trans,
    ptr,
    ld,
  });
  const packed = (shape: OperandShape, used = true): Carver<Operand> => (a) => ({
    ...shape,
    packed: used ? a.alloc(c.k.packedSize(shape.K, shape.N)) : 0,
  });
  // the encoder kernel's rows from X on (those that take x̂, or the read patch, and both h's), and rows [0, X)
  const encRest = w("encoder.kernel") + 4 * X * G;
  const o = {
    enc: op(E - X, G, false, encRest, G),
    dec: op(Q, G, false, w("decoder.kernel"), G),
    post: op(H, 2 * z, false, w("posterior.kernel"), 2 * z),
    head: op(H, S, false, headKernel, S),
    encT: op(G, E - X, true, encRest, G),
    decT: op(G, Q, true, w("decoder.kernel"), G),
    postT: op(2 * z, H, true, w("posterior.kernel"), 2 * z),
    headT: op(S, H, true, headKernel, S),
    encX: X > 0 ? op(X, G, false, w("encoder.kernel"), G) : undefined,
  };
  // a thread's columns of op(B): column c starts at c in B, or at row c of B where op(B) = Bᵀ
  const cols = (full: OperandShape, width: number): Carver<TeamOperand> => (a) => {
    const [c0, c1] = team!.columns(width);
    return { op: packed({ ...full, N: c1 - c0, ptr: full.ptr + 4 * c0 * (full.trans ? full.ld : 1) })(a), c0 };
  };
  return {
    whole: {
      enc: packed(o.enc, !team),
      dec: packed(o.dec),
      post: packed(o.post),
      head: packed(o.head),
      encT: packed(o.encT, training && !team),
      decT: packed(o.decT, training && !team),
      postT: packed(o.postT, training),
      headT: packed(o.headT, training),
      encX: o.encX && packed(o.encX, !team),
    },
    team: team
      ? {
        enc: cols(o.enc, G),
        dec: cols(o.dec, G),
        encT: cols(o.encT, E - X),
        decT: cols(o.decT, Q),
        encX: o.encX && cols(o.encX, G),
      }
      : undefined,
  };
}
