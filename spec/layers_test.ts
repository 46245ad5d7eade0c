/**
 * The module's shape, checked: no import cycle among its files, and the models (src/draw.ts, src/classifier.ts)
 * import nothing from an engine's own folder (they ask `model.engine` for passes: src/engine/passes.ts).
 */
import { deepEqual, equal } from "./_assert.ts";

const ROOT = new URL("..", import.meta.url).href;

/** Our files' import graph from the entry points, as `deno info --json` gives it. */
async function graph(): Promise<Map<string, string[]>> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "cli.ts"],
    cwd: new URL(ROOT).pathname,
    stdout: "piped",
    stderr: "null",
  }).output();
  const modules = JSON.parse(new TextDecoder().decode(out.stdout)).modules as {
    specifier: string;
    dependencies?: { code?: { specifier?: string }; type?: { specifier?: string } }[];
  }[];
  const g = new Map<string, string[]>();
  for (const m of modules) {
    if (!m.specifier.startsWith(ROOT) || m.specifier.includes("/node_modules/")) continue;
    const deps = (m.dependencies ?? []).flatMap((d) => [d.code?.specifier, d.type?.specifier])
      .filter((s): s is string => s !== undefined && s.startsWith(ROOT));
    g.set(m.specifier.slice(ROOT.length), deps.map((s) => s.slice(ROOT.length)));
  }
  return g;
}

Deno.test("layers: no import cycle among the module's files (Tarjan's strongly connected components)", async () => {
  const g = await graph();
  let next = 0;
  const index = new Map<string, number>(), low = new Map<string, number>(), stack: string[] = [], on = new Set();
  const cycles: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    on.add(v);
    for (const w of g.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1) cycles.push(comp.sort());
    }
  };
  for (const v of g.keys()) if (!index.has(v)) visit(v);
  deepEqual(cycles, [], "files that import one another, around a cycle");
  equal(g.has("src/draw.ts"), true, "the graph holds the model");
});

Deno.test("layers: the models import nothing from an engine's own folder", async () => {
  const g = await graph();
  for (const model of ["src/draw.ts", "src/classifier.ts"]) {
    const own = (g.get(model) ?? []).filter((d) => /^src\/engine\/(fused|webgpu|program)\//.test(d));
    deepEqual(own, [], `${model} imports an engine's own files`);
  }
});
