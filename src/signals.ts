/**
 * Stopping a command cleanly: Ctrl-C, SIGTERM (kill, systemd, container runtimes, CI) or SIGHUP once finishes the
 * step and saves, then the command exits 130, 143 or 129; a second signal quits at once (the checkpoint on disk is
 * whole: written atomically).
 *
 * @module
 */

/** The signals that stop a command cleanly, and the exit code of each (128 + its number). */
export const STOP_SIGNALS = [["SIGINT", 130], ["SIGTERM", 143], ["SIGHUP", 129]] as const;

/** A command's stop: the signal to abort its work with, the exit code of what stopped it, and a remover. */
export interface Stop {
  /** Aborted at the first signal. */
  signal: AbortSignal;
  /** 128 + the number of the signal that stopped the command, if one did. */
  code(): number | undefined;
  /** Stops listening. */
  remove(): void;
}

/** Listens for the stop signals: the first aborts `signal` (and says so through `log`), a second exits at once. */
export function interruptible(
  log: (line: string) => void,
  note = "finishing the step, saving a checkpoint (a second signal quits without saving)",
): Stop {
  const controller = new AbortController();
  let stoppedBy: number | undefined;
  const listeners = STOP_SIGNALS.map(([name, code]) => {
    const on = () => {
      if (stoppedBy !== undefined) Deno.exit(stoppedBy);
      stoppedBy = code;
      log(`${name}: ${note}`);
      controller.abort();
    };
    Deno.addSignalListener(name, on);
    return [name, on] as const;
  });
  return {
    signal: controller.signal,
    code: () => stoppedBy,
    remove: () => listeners.forEach(([name, on]) => Deno.removeSignalListener(name, on)),
  };
}
