/**
 * `deno doc --lint mod.ts engine.ts` (the two entry points, linted together: a type the first names may be exported
 * by the second), failing only on problems in draw.ts's own files.
 *
 * mod.ts re-exports tfjs's tensor types (its functions take and return them), and the doc linter
 * then also lints tfjs's own declaration files under node_modules/, which we do not own.
 */
const out = await new Deno.Command(Deno.execPath(), {
  args: ["doc", "--lint", "mod.ts", "engine.ts"],
  env: { NO_COLOR: "1" },
  stdout: "piped",
  stderr: "piped",
}).output();
const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
const blocks = text.split(/\n(?=error\[)/).filter((b) => b.startsWith("error["));
const ours = blocks.filter((b) => !/--> .*node_modules\//.test(b));
for (const b of ours) console.error(b.trim() + "\n");
console.error(
  `doc lint: ${ours.length} problems in our files (${blocks.length - ours.length} in node_modules/ ignored)`,
);
Deno.exit(ours.length ? 1 : 0);
