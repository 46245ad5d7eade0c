/**
 * What the tools share on their command lines: a bad one is a one-line error with its usage (exit 2), never a
 * stack trace, as cli.ts's are.
 *
 * @module
 */
import { parseArgs, type ParseArgsOptionsConfig } from "node:util";
import { argsMessage } from "../src/cli_args.ts";

/** Exits with a one-line message: 2 for usage, 1 for what cannot be read or loaded. */
export function fail(message: string, code: 1 | 2): never {
  console.error(message);
  Deno.exit(code);
}

/** The tool's arguments parsed by `options` (positionals allowed); an unknown or malformed flag fails with `usage`. */
export function toolArgs<T extends ParseArgsOptionsConfig>(usage: string, options: T) {
  try {
    return parseArgs({ args: Deno.args, allowPositionals: true, options });
  } catch (e) {
    fail(`${argsMessage(e, Object.keys(options), Deno.args)}\n${usage}`, 2);
  }
}
