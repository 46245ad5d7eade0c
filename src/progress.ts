/**
 * Progress on stderr: redrawn in place on a terminal, one line per interval otherwise.
 *
 * @module
 */

/** Formats seconds as h:mm:ss or m:ss. */
export function clock(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const mm = h ? String(m).padStart(2, "0") : String(m);
  return `${h ? h + ":" : ""}${mm}:${String(r).padStart(2, "0")}`;
}

/** A progress writer. */
export class Progress {
  readonly #write: (text: string) => void;
  readonly #tty: boolean;
  readonly #interval: number;
  #last = 0;
  #open = false;

  /** `interval` is the seconds between lines when stderr is not a terminal. */
  constructor(options: { interval?: number; write?: (text: string) => void; tty?: boolean } = {}) {
    const enc = new TextEncoder();
    this.#write = options.write ?? ((t) => Deno.stderr.writeSync(enc.encode(t)));
    this.#tty = options.tty ?? Deno.stderr.isTerminal();
    this.#interval = (options.interval ?? 10) * 1000;
  }

  /** Shows a status line; returns true when it was printed (always on a terminal, per interval otherwise). */
  update(text: string, force = false): boolean {
    const now = performance.now();
    if (this.#tty) {
      if (!force && now - this.#last < 200) return false;
      this.#write(`\r\x1b[2K${text}`);
      this.#open = true;
      this.#last = now;
      return true;
    }
    if (!force && now - this.#last < this.#interval) return false;
    this.#write(text + "\n");
    this.#last = now;
    return true;
  }

  /**
   * A counter for a pass over `total` items: each call shows "`what` done/total | ETA m:ss", the time left at the
   * rate since the counter was made (`now` in milliseconds, for tests).
   */
  counter(what: string, now: () => number = () => performance.now()): (done: number, total: number) => void {
    const start = now();
    return (done, total) => {
      const seconds = (now() - start) / 1000;
      this.update(`${what} ${done}/${total} | ETA ${done > 0 ? clock((seconds / done) * (total - done)) : "?"}`);
    };
  }

  /** Prints a permanent line. */
  line(text: string): void {
    if (this.#open) this.#write("\r\x1b[2K");
    this.#open = false;
    this.#write(text + "\n");
  }
}
