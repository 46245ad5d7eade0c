/**
 * Where data comes from when it is not on disk: the per-user cache, SHA-256 sums, and downloads
 * that are verified before they are kept.
 *
 * @module
 */
import { DataError, gunzip, isGzip, writeAtomic } from "./files.ts";

/** Lower-case hex SHA-256 of `bytes`. */
export async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes as BufferSource);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Parses a `sha256sum`-style file: "<hex>  <name>" per line. */
export function parseSums(text: string): Map<string, string> {
  const sums = new Map<string, string>();
  for (const line of text.split("\n")) {
    const m = line.trim().match(/^([0-9a-fA-F]{64})\s+\*?(.+)$/);
    if (m) sums.set(m[2].trim(), m[1].toLowerCase());
  }
  return sums;
}

/** The per-user cache directory: $DRAW_CACHE_DIR, else $XDG_CACHE_HOME/draw.ts, else ~/.cache/draw.ts. */
export function cacheDir(): string {
  const env = (k: string) => Deno.env.get(k);
  if (env("DRAW_CACHE_DIR")) return env("DRAW_CACHE_DIR")!;
  const base = env("XDG_CACHE_HOME") ?? `${env("HOME") ?? env("USERPROFILE") ?? "."}/.cache`;
  return `${base}/draw.ts`;
}

/**
 * Downloads `url` into `dest`, keeping it only if its SHA-256 is `sha`: that of the file as
 * served (`of: "file"`), or of its content after gunzip (`of: "content"`, the default, for sums
 * published for the uncompressed data). Progress goes to `log`.
 * Throws a {@link DataError} naming the URL when the network fails (and `dest`, where a copy fetched elsewhere goes:
 * every loader looks there before it downloads) or the checksum differs.
 */
export async function download(
  url: string,
  dest: string,
  sha: string,
  log: (line: string) => void = () => {},
  of: "file" | "content" = "content",
): Promise<void> {
  log(`downloading ${url}`);
  let bytes: Uint8Array;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(10 * 60_000) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    bytes = new Uint8Array(await res.arrayBuffer());
  } catch (e) {
    throw new DataError(
      `Cannot download ${url} (${(e as Error).message}): where this machine has no network, fetch it on one that has ` +
        `and save it as ${dest}`,
    );
  }
  const got = await sha256(of === "content" && isGzip(bytes) ? await gunzip(bytes, url) : bytes);
  if (got !== sha) {
    throw new DataError(`Cannot use ${url} as its SHA-256 is ${got}, not ${sha}: the server sent a different file`);
  }
  await Deno.mkdir(dest.replace(/\/[^/]*$/, ""), { recursive: true });
  await writeAtomic(dest, bytes);
}
