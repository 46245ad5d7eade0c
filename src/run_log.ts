/**
 * A run's log and clock: metrics.jsonl (one JSON line per progress interval, validation and checkpoint; trimmed on
 * resume to the last checkpoint), the averages of each interval, and the session's time budget.
 *
 * @module
 */
import { isFile, writeAtomic } from "./data/files.ts";

/** Appends one JSON line to metrics.jsonl. */
export async function appendMetric(outDir: string, record: Record<string, unknown>): Promise<void> {
  await Deno.writeTextFile(`${outDir}/metrics.jsonl`, JSON.stringify(record) + "\n", { append: true });
}

/**
 * Drops metrics.jsonl lines past `step` (written after the last checkpoint by a run that was then
 * killed) and any half-written last line, so a resumed run continues one curve.
 */
export async function trimMetrics(outDir: string, step: number): Promise<void> {
  const path = `${outDir}/metrics.jsonl`;
  if (!(await isFile(path))) return;
  const keep = (await Deno.readTextFile(path)).split("\n").filter((line) => {
    try {
      return line.trim() !== "" && JSON.parse(line).step <= step;
    } catch {
      return false;
    }
  });
  await writeAtomic(path, new TextEncoder().encode(keep.map((l) => l + "\n").join("")));
}

/**
 * metrics.jsonl made smaller to ship: every validation and checkpoint line, and of the training lines the first in
 * each span of `every` examples. The spans follow the examples, so a file thinned once is kept as it is when thinned
 * again (a shipped model that trains on and ships anew keeps its older history as it was).
 */
export function thinMetrics(text: string, every: number): string {
  let span = NaN;
  const keep = text.split("\n").filter((line) => {
    if (line.trim() === "") return false;
    if (!line.startsWith('{"kind":"train"')) return true;
    const s = Math.floor(JSON.parse(line).examples / every);
    if (s === span) return false;
    span = s;
    return true;
  });
  return keep.map((l) => l + "\n").join("");
}

/** The time of this session: elapsed seconds, the budget, and what is kept for the end. */
export class Budget {
  private readonly start = performance.now();
  /** Seconds this session may train (Infinity without --minutes). */
  readonly total: number;
  /** Seconds kept for the final validation and checkpoint. */
  readonly reserve: number;

  constructor(minutes: number | undefined) {
    this.total = minutes !== undefined ? minutes * 60 : Infinity;
    this.reserve = Number.isFinite(this.total) ? Math.min(0.15 * this.total, 120) : 0;
  }

  /** Seconds since the session started. */
  elapsed(): number {
    return (performance.now() - this.start) / 1000;
  }

  /** Whether the budget is spent (the reserve aside). */
  spent(): boolean {
    return this.elapsed() > this.total - this.reserve;
  }
}

/** Averages of the training figures between two metrics lines. */
export class MetricsWindow {
  private n = 0;
  private loss = 0;
  private grad = 0;
  private figures: Record<string, number> = {};
  private t = performance.now();

  constructor(private examples: number) {}

  /** Adds one step's figures. */
  add(loss: number, gradNorm: number, figures: Record<string, number>): void {
    this.n++;
    this.loss += loss;
    this.grad += gradNorm;
    for (const [k, v] of Object.entries(figures)) this.figures[k] = (this.figures[k] ?? 0) + v;
  }

  /** The window's averages as a metrics record, and a fresh window from here. */
  close(examples: number): Record<string, number> {
    const n = Math.max(this.n, 1), now = performance.now();
    const record = {
      loss: this.loss / n,
      ...Object.fromEntries(Object.entries(this.figures).map(([k, v]) => [k, v / n])),
      grad_norm: this.grad / n,
      examples_per_s: (examples - this.examples) / ((now - this.t) / 1000),
    };
    [this.n, this.loss, this.grad, this.figures, this.t, this.examples] = [0, 0, 0, {}, now, examples];
    return record;
  }
}
