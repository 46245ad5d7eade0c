/**
 * Every path and name a user gives, resolved in one place: run directories and output folders (`--out`,
 * `--data-dir`), model arguments (a run directory, a checkpoint file or the name of a shipped model), data set
 * names (from a flag or from a checkpoint's metadata). Empty or odd values are refused with what was expected;
 * names are looked up among their own keys alone (a Map), so that `constructor` or `toString` is as unknown as any
 * other name.
 *
 * @module
 */
import { DataError, isFile } from "./data/files.ts";
import { type DatasetEntry, DATASETS } from "./data/registry.ts";
import { modelsDir, shippedModel, shippedModels } from "./models.ts";
import { basename, dirname, relative, resolve } from "node:path";
import { loadCheckpoint, type Model, modelFromCheckpoint, type ModelLoadOptions } from "./checkpoint.ts";

/** A usage error: the command line asks for something that cannot be (the CLI exits 2 with it). */
export class UsageError extends Error {
  /** "UsageError". */
  override name = "UsageError";
}

/**
 * The path a flag gives, checked: not empty or blank (an empty path would mean the current directory or, joined,
 * the file system's root), no NUL byte, no line break. `undefined` passes through (the flag was not given).
 *
 * @example
 * ```ts
 * import { userPath } from "./resolve.ts";
 * userPath("runs/mine", "--out"); // "runs/mine"; userPath("", "--out") throws a UsageError
 * ```
 */
export function userPath(value: string | undefined, flag: string): string | undefined {
  if (value === undefined) return undefined;
  if (value.trim() === "") throw new UsageError(`${flag} needs a path: got an empty one (give e.g. ${flag} runs/mine)`);
  if (/[\0\r\n]/.test(value)) {
    throw new UsageError(`${flag} must be a path without NUL bytes or line breaks: got ${JSON.stringify(value)}`);
  }
  return value;
}

/**
 * An output folder a flag gives ({@link userPath}'s checks), refused (UsageError) where it, or the nearest part of it
 * that exists, is a file: found before the data loads, not at the first write.
 */
export function userDir(value: string | undefined, flag: string): string | undefined {
  const path = userPath(value, flag);
  if (path === undefined) return undefined;
  for (let head = resolve(path);; head = dirname(head)) {
    let info: Deno.FileInfo;
    try {
      info = Deno.statSync(head);
    } catch (e) {
      const missing = e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory;
      if (missing && head !== dirname(head)) continue;
      return path; // unreadable: the first write says why
    }
    if (info.isDirectory) return path;
    const where = head === resolve(path) ? "is a file, not a folder" : `lies under ${head}, a file`;
    throw new UsageError(`${flag} ${path} ${where}: name a folder (made if missing), e.g. ${flag} runs/mine`);
  }
}

/**
 * A folder a flag names to read from ({@link userPath}'s checks), refused (UsageError) where it does not exist or is a
 * file: a mistyped folder would otherwise pass unseen to the next place searched. `holds` says what it should hold.
 */
export function existingDir(value: string | undefined, flag: string, holds: string): string | undefined {
  const path = userPath(value, flag);
  if (path === undefined) return undefined;
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(path);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory)) return path;
    throw new UsageError(`${flag} ${path} does not exist: name the folder that holds ${holds}`);
  }
  if (info.isDirectory) return path;
  throw new UsageError(`${flag} ${path} is a file, not a folder: name the folder that holds ${holds}`);
}

/** `path` made absolute with its links resolved as far as it exists (what is not there yet, as written). */
function realPath(path: string): string {
  let head = resolve(path), tail = "";
  while (true) {
    try {
      return Deno.realPathSync(head) + tail;
    } catch {
      if (head === dirname(head)) return resolve(path); // nothing of it exists
      tail = `/${basename(head)}${tail}`;
      head = dirname(head);
    }
  }
}

/**
 * Refuses (UsageError) a run directory inside the shipped models' folder (models/, or $DRAW_MODELS_DIR): a run
 * there would rewrite a shipped model's files (a resume writes the optimizer's state into its checkpoint). A copy
 * trains instead, as the cards say.
 */
export function checkNotShipped(out: string, flag = "--out"): void {
  const models = realPath(modelsDir()), inside = relative(models, realPath(out));
  if (inside.startsWith("..") || inside.startsWith("/")) return;
  const shown = relative(Deno.cwd(), models).startsWith("..") ? models : relative(Deno.cwd(), models) || ".";
  const name = inside.split("/")[0];
  throw new UsageError(
    `${flag} ${out} is ${name ? "inside " : ""}the shipped models' folder ${shown}: a run there would rewrite them; ` +
      (name
        ? `train a copy (cp -r ${shown}/${name} runs/${name}-more, then train --resume --out runs/${name}-more)`
        : "give a run directory elsewhere (e.g. --out runs/mine)"),
  );
}

/**
 * The checkpoint a model argument points to: a checkpoint file, a run directory holding checkpoint.safetensors,
 * or the name of a model shipped in models/ (in that order). `what` names the argument in errors (e.g. "eval",
 * "--init-from"). A UsageError for an empty argument; a DataError that lists the shipped models where nothing is
 * found.
 */
export async function resolveModel(arg: string, what: string): Promise<{ path: string; shipped?: string }> {
  userPath(arg, what);
  if (await isFile(arg)) return { path: arg };
  if (await isFile(`${arg}/checkpoint.safetensors`)) return { path: `${arg}/checkpoint.safetensors` };
  const shipped = await shippedModel(arg);
  if (shipped) return { path: shipped, shipped: arg };
  const names = await shippedModels();
  throw new DataError(
    `Cannot find a checkpoint at ${arg} or ${arg}/checkpoint.safetensors, nor a shipped model by that name ` +
      `(${names.length ? `shipped: ${names.join(", ")}` : "none shipped"}): train one with "cli.ts train"`,
  );
}

/**
 * The data set of this name: from a flag (`from` undefined) an unknown name is a UsageError; read from a file
 * (`from` names it), a DataError naming the file. Either lists the known names.
 */
export function datasetEntry(name: string, from?: string): DatasetEntry {
  const entry = DATASETS.get(name);
  if (entry) return entry;
  const known = [...DATASETS.keys()].join(", ");
  if (from === undefined) throw new UsageError(`unknown dataset "${name}": choose one of ${known}`);
  throw new DataError(`Cannot use ${from}: it names the data set "${name}", which draw.ts does not have (${known})`);
}

/**
 * A model by checkpoint file, run directory or shipped name ("mnist"), with its weights loaded (a run's moving
 * averages where it keeps them, unless `raw`).
 *
 * @example
 * ```ts
 * import { loadModel, Rng } from "../mod.ts";
 * const names = await (await import("./models.ts")).shippedModels();
 * if (names.includes("mnist")) {
 *   const model = await loadModel("mnist");
 *   if (model.kind === "draw") model.generate(4, new Rng(1)).means.print();
 * }
 * ```
 */
export async function loadModel(nameOrPath: string, options: ModelLoadOptions = {}): Promise<Model> {
  return modelFromCheckpoint(await loadCheckpoint((await resolveModel(nameOrPath, "loadModel")).path), options);
}
