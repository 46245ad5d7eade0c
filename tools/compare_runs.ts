/**
 * Plots several runs' validation cost against examples seen on one SVG: the same model under two step-size
 * schedules, say (docs/results/mnist-restart/validation.svg is one). Each run is a run directory (its
 * metrics.jsonl) or a metrics file itself; `--label` names them in order (default: the folder's name).
 *
 * `--from N` plots from N examples on: runs that continue one another share their start. `--key K`, in order
 * as `--label`, plots field K of a run's validation lines instead of its cost: the same run given three times with
 * `--key elbo --key raw_elbo --key avg@0.998_elbo` plots its moving average, its raw weights and a second average
 * (docs/results/mnist-average/validation.svg).
 *
 * Run: deno run -A tools/compare_runs.ts <run-dir|metrics.jsonl>… --out FILE.svg [--label NAME]… [--key K]…
 *   [--title TEXT] [--from N]
 *
 * @module
 */
import { validationCurves, validationPoints } from "../src/pictures.ts";
import { fail, toolArgs } from "./_args.ts";

const USAGE =
  "usage: deno run -A tools/compare_runs.ts <run-dir|metrics.jsonl>… --out FILE.svg [--label NAME]… [--key K]… [--title TEXT] [--from N]";

const { values, positionals } = toolArgs(USAGE, {
  out: { type: "string" },
  label: { type: "string", multiple: true },
  key: { type: "string", multiple: true },
  title: { type: "string" },
  from: { type: "string" },
});
if (positionals.length === 0 || !values.out) fail(USAGE, 2);
const labels = values.label ?? [], keys = values.key ?? [];
for (const [flag, given] of [["--label", labels], ["--key", keys]] as const) {
  if (given.length > positionals.length) {
    fail(`${given.length} ${flag} for ${positionals.length} runs: give at most one ${flag} per run`, 2);
  }
}

const from = Number(values.from ?? 0);
if (!Number.isFinite(from) || from < 0) fail(`--from must be a number of examples >= 0: got ${values.from}`, 2);

const runs = [];
for (const [k, path] of positionals.entries()) {
  const file = path.endsWith(".jsonl") ? path : `${path.replace(/\/$/, "")}/metrics.jsonl`;
  let metrics: string;
  try {
    metrics = await Deno.readTextFile(file);
  } catch (e) {
    fail(`Cannot read ${file} (${(e as Error).message}): give a run directory or its metrics.jsonl`, 1);
  }
  if (!metrics.includes('"kind":"valid"')) fail(`${file} holds no validation line: nothing to plot`, 1);
  const name = file.split("/").slice(-2, -1)[0] || file, label = labels[k] ?? name, key = keys[k];
  if (validationPoints(metrics, from, key).length === 0) {
    const what = key === undefined ? "validation line" : `validation line with ${key}`;
    fail(`${label} has no ${what} from ${from} examples on: nothing to plot`, 1);
  }
  runs.push({ label, metrics, key });
}
await Deno.writeTextFile(
  values.out!,
  validationCurves(runs, values.title ?? "validation cost against examples seen", { from }),
);
console.log(`wrote ${values.out} (${runs.map((r) => r.label).join(", ")})`);
