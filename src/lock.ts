/**
 * One writer per run directory: a training run holds `<dir>/train.lock` (its pid, host and start) while it
 * writes there. A second run into the same directory is refused at once, saying who holds it; a lock left by a
 * process that has died (a kill -9, a machine that went down) is recognised and taken over with a note. Readers
 * (`eval`, `sample`, `serve`) take no lock: checkpoints are replaced atomically.
 *
 * @module
 */

/** What a lock file says of its holder. */
export interface LockHolder {
  /** The holder's process id. */
  pid: number;
  /** The holder's host name. */
  host: string;
  /** When it took the lock (ISO 8601). */
  started: string;
}

/** A held lock: {@link RunLock.release} removes it (once; later calls do nothing). */
export interface RunLock {
  /** The lock file's path. */
  readonly path: string;
  /** Gives the lock up. */
  release(): Promise<void>;
}

/** The lock file's name in a run directory. */
export const LOCK_FILE = "train.lock";

/** An error taking a run's lock: another live run holds it. */
export class LockError extends Error {
  /** "LockError". */
  override name = "LockError";
}

function hostname(): string {
  try {
    return Deno.hostname();
  } catch {
    return "unknown"; // no --allow-sys
  }
}

/**
 * Whether process `pid` on this host is alive: /proc where there is one (Linux), else `kill -0`; where neither
 * can tell, assumed alive (a lock is never taken from a live run).
 */
async function alive(pid: number): Promise<boolean> {
  if (pid === Deno.pid) return true;
  try {
    await Deno.stat("/proc/self");
  } catch {
    try {
      return (await new Deno.Command("kill", { args: ["-0", String(pid)], stderr: "null" }).output()).success;
    } catch {
      return true;
    }
  }
  try {
    await Deno.stat(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

/**
 * Takes the lock of run directory `dir` (which must exist): a LockError where a live process holds it; a stale
 * lock (its holder dead on this host, or the file unreadable) is taken over and `note` told so.
 *
 * @example
 * ```ts
 * import { lockRun } from "./lock.ts";
 * const dir = await Deno.makeTempDir();
 * const lock = await lockRun(dir);
 * await lock.release();
 * ```
 */
export async function lockRun(dir: string, note: (line: string) => void = () => {}): Promise<RunLock> {
  const path = `${dir}/${LOCK_FILE}`;
  const me: LockHolder = { pid: Deno.pid, host: hostname(), started: new Date().toISOString() };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const file = await Deno.open(path, { write: true, createNew: true });
      try {
        await file.write(new TextEncoder().encode(JSON.stringify(me) + "\n"));
      } finally {
        file.close();
      }
      let held = true;
      return {
        path,
        release: async () => {
          if (!held) return;
          held = false;
          await Deno.remove(path).catch(() => {});
        },
      };
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
    }
    let holder: Partial<LockHolder> = {};
    try {
      holder = JSON.parse(await Deno.readTextFile(path));
    } catch {
      // unreadable or half written: its writer died before finishing a line of JSON
    }
    const known = Number.isInteger(holder.pid) && typeof holder.host === "string";
    if (known && (holder.host !== me.host || await alive(holder.pid!))) {
      const where = holder.host === me.host ? "" : ` on host ${holder.host}`;
      throw new LockError(
        `Cannot train in ${dir} as another run writes there: process ${holder.pid}${where}, since ${holder.started} ` +
          `(${path}); wait for it or stop it, or choose another --out` +
          (holder.host === me.host ? "" : `; if that run is gone, delete ${path}`),
      );
    }
    note(
      known
        ? `taking over ${path}: its holder, process ${holder.pid} (since ${holder.started}), is no longer running`
        : `taking over ${path}, which names no holder (a run that died while taking it)`,
    );
    await Deno.remove(path).catch(() => {});
  }
  throw new LockError(`Cannot take the lock ${path}: other processes keep taking it`);
}
