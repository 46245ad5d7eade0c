/** cli.ts run as a user runs it, in a subprocess, on the fixtures: for the tests that need a run. */

/** The repository's root folder, with a final slash. */
export const ROOT: string = new URL("..", import.meta.url).pathname;

/** `cli.ts args` as a command, with the fixtures as the data folder and the tests' own cache (spawn or run it). */
export function cliCommand(args: string[], env: Record<string, string> = {}): Deno.Command {
  return scriptCommand("cli.ts", args, env);
}

/** {@link cliCommand} for another script of the repository (`script` from the root, e.g. tools/ship_model.ts). */
export function scriptCommand(script: string, args: string[], env: Record<string, string> = {}): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}${script}`, ...args],
    env: { DRAW_DATA_DIR: `${ROOT}fixtures`, DRAW_CACHE_DIR: `${ROOT}.cache/test`, NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  });
}

/** Runs `cli.ts args` (see {@link cliCommand}); its exit code and output. */
export async function runCli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await cliCommand(args, env).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** A one-epoch run of the tiny preset on `dataset`'s fixtures, in a new folder; returns the folder. */
export async function tinyRun(dataset = "mnist", batch = 16): Promise<string> {
  const out = await Deno.makeTempDir();
  const r = await runCli([
    "train",
    dataset,
    "--preset",
    "tiny",
    "--epochs",
    "1",
    "--batch",
    String(batch),
    "--out",
    out,
  ]);
  if (r.code !== 0) throw new Error(`the tiny run failed: ${r.stderr}`);
  return out;
}
