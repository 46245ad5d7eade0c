/**
 * The local page of `cli.ts serve`: a small HTTP server on localhost that serves the page
 * (web/index.html), the library bundled for the browser (web/app.ts, bundled by `deno bundle` when
 * the server starts), the model's weights as safetensors (a fine-tuned model's merged with its
 * base's), the run's metrics, tfjs-wasm's binaries, and, for a classifier, a few test images.
 * Everything is local: no CDN, works offline.
 *
 * @module
 */
import { cacheDir } from "./data/download.ts";
import { DataError, isFile } from "./data/files.ts";
import { checkpointWeights, encodeCheckpoint, loadCheckpoint } from "./checkpoint.ts";
import { RunError } from "./run_settings.ts";

/** What the page shows. */
export interface ServeOptions {
  /** The checkpoint (a run's, or a shipped model's). */
  checkpoint: string;
  /** The run's metrics.jsonl, for the loss curve, if there is one. */
  metrics?: string;
  /** Test images for a classifier: `count` images of `size` bytes, then their labels. */
  examples?: () => Promise<Uint8Array>;
  /** Port (0: any free one). */
  port?: number;
  /** Called with the address once the server listens. */
  onListen?: (url: string) => void;
}

/** The bundle of web/app.ts, made with `deno bundle` into the cache (a few seconds, once per start). */
export async function bundlePage(): Promise<string> {
  const out = `${cacheDir()}/web/app.js`;
  await Deno.mkdir(`${cacheDir()}/web`, { recursive: true });
  const entry = new URL("./web/app.ts", import.meta.url).pathname;
  const run = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--platform", "browser", "--format", "esm", "-o", out, entry],
    cwd: new URL("..", import.meta.url).pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!run.success) {
    const why = new TextDecoder().decode(run.stderr).split("\n").filter((l) => /error/i.test(l)).slice(0, 3).join("; ");
    throw new DataError(`Cannot bundle the page for the browser (deno bundle failed: ${why})`);
  }
  return out;
}

/** The folder of tfjs-wasm's .wasm binaries (the backend fetches them from the page's server). */
async function wasmDir(): Promise<string> {
  await import("@tensorflow/tfjs-backend-wasm"); // the import makes Deno install the package
  return new URL(".", import.meta.resolve("@tensorflow/tfjs-backend-wasm")).pathname;
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".wasm": "application/wasm",
  ".jsonl": "text/plain; charset=utf-8",
};

/** Starts the server (listening when this resolves). Stop it with the returned server's shutdown(). */
export async function servePage(o: ServeOptions): Promise<Deno.HttpServer<Deno.NetAddr>> {
  const port = o.port ?? 8417;
  const bundle = await bundlePage();
  const wasm = await wasmDir();
  const page = new URL("./web/index.html", import.meta.url).pathname;
  const file = async (path: string, type: string) =>
    new Response((await Deno.readFile(path)).buffer as ArrayBuffer, {
      headers: { "content-type": type, "cache-control": "no-store" },
    });
  const missing = (why: string) => new Response(why, { status: 404 });
  const handler = async (req: Request): Promise<Response> => {
    const { pathname } = new URL(req.url);
    if (pathname === "/" || pathname === "/index.html") return file(page, TYPES[".html"]);
    if (pathname === "/app.js") return file(bundle, TYPES[".js"]);
    if (pathname === "/model.safetensors") {
      if (!(await isFile(o.checkpoint))) return missing(`the checkpoint ${o.checkpoint} is gone`);
      // read afresh (a run in training rewrites it): the weights alone (a run's moving averages where it keeps
      // them, as eval and sample use), a fine-tuned model's with its base's
      try {
        const ckpt = await loadCheckpoint(o.checkpoint);
        return new Response(encodeCheckpoint({ ...ckpt, weights: checkpointWeights(ckpt) }).buffer as ArrayBuffer, {
          headers: { "content-type": "application/octet-stream", "cache-control": "no-store" },
        });
      } catch (e) {
        return missing((e as Error).message);
      }
    }
    if (pathname === "/metrics.jsonl") {
      return o.metrics && await isFile(o.metrics)
        ? file(o.metrics, TYPES[".jsonl"])
        : missing("no metrics for this model");
    }
    if (pathname === "/examples.bin") {
      if (!o.examples) return missing("this model has no test images");
      try {
        const bytes = await o.examples();
        return new Response(bytes.slice().buffer as ArrayBuffer, {
          headers: { "content-type": "application/octet-stream" },
        });
      } catch (e) {
        return missing((e as Error).message);
      }
    }
    const m = pathname.match(/^\/tfjs-wasm\/(tfjs-backend-wasm[a-z-]*\.wasm)$/);
    if (m) return file(`${wasm}${m[1]}`, TYPES[".wasm"]);
    return missing(`${pathname} is not part of this page`);
  };
  try {
    return Deno.serve({
      hostname: HOST,
      port,
      onListen: ({ hostname, port }) => o.onListen?.(`http://${hostname}:${port}/`), // called as it binds
    }, handler);
  } catch (e) {
    throw portError(e, port);
  }
}

/** The page is served on this machine alone. */
const HOST = "127.0.0.1";

/**
 * Refuses (RunError, one line) a port that cannot be had: in use, or privileged. Called before the model loads and
 * the page is bundled, so that the user hears at once; 0 (any free port) always passes.
 */
export function checkPort(port: number): void {
  if (port === 0) return;
  try {
    Deno.listen({ hostname: HOST, port }).close();
  } catch (e) {
    throw portError(e, port);
  }
}

/** A port that cannot be had, as a one-line error that says what to do (other errors as they are). */
function portError(e: unknown, port: number): unknown {
  if (e instanceof Deno.errors.AddrInUse) {
    return new RunError(
      `port ${port} is in use (another server holds it): give another with --port, or --port 0 for any free one`,
    );
  }
  if (e instanceof Deno.errors.PermissionDenied) {
    return new RunError(`port ${port} needs privileges you do not have: give one above 1023 with --port`);
  }
  return e;
}
