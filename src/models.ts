/**
 * The trained models that ship with draw.ts: `models/<name>/` holds a run's checkpoint
 * (checkpoint.safetensors: weights, and for models shipped before weights-only, the optimizer state; a copy of
 * the folder continues training with `--resume` either way), its metrics.jsonl and config.json, and README.md, the model's card (data, command,
 * training time, examples seen, test figure, date). A model fine-tuned from another may hold only its
 * changes, the rest read from that model's folder (docs/checkpoint.md, "Fine-tuned checkpoints").
 * `sample`, `eval` and `loadModel` (src/resolve.ts) take such a name where they take a run directory.
 *
 * @module
 */

/** Where the shipped models are: `$DRAW_MODELS_DIR`, else the repository's models/ folder. */
export function modelsDir(): string {
  let env: string | undefined;
  try {
    env = Deno.env.get("DRAW_MODELS_DIR");
  } catch {
    env = undefined; // no --allow-env
  }
  return env ?? new URL("../models", import.meta.url).pathname;
}

/** The checkpoint of shipped model `name`, or undefined when there is none by that name. */
export async function shippedModel(name: string): Promise<string | undefined> {
  if (!/^[a-z0-9][a-z0-9._-]*$/i.test(name)) return undefined;
  const path = `${modelsDir()}/${name}/checkpoint.safetensors`;
  try {
    return (await Deno.stat(path)).isFile ? path : undefined;
  } catch {
    return undefined;
  }
}

/** The names of the shipped models. */
export async function shippedModels(): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(modelsDir())) {
      if (e.isDirectory && await shippedModel(e.name)) names.push(e.name);
    }
  } catch {
    // no models folder
  }
  return names.sort();
}
