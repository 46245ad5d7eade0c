/**
 * File plumbing for data sets: gzip detection, SHA-256, a per-user cache directory, and downloads
 * that are verified before they are kept.
 *
 * @module
 */

/** A data file that is missing, malformed or fails its checksum. The message says what to do. */
export class DataError extends Error {
  override name = "DataError";
}

/** True when `bytes` start with the gzip magic number 1f 8b. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Inflates gzip data; names `what` in the error if the stream is corrupt or truncated. */
export async function gunzip(bytes: Uint8Array, what: string): Promise<Uint8Array> {
  try {
    const stream = new Blob([bytes as BlobPart]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  } catch (e) {
    throw new DataError(
      `Cannot read ${what} as its gzip stream is corrupt or truncated (${
        (e as Error).message
      }): delete it and get a fresh copy`,
    );
  }
}

/** Compresses with gzip (for fixtures and tests). */
export async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as BlobPart]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Reads a file, inflating it if it is gzip-compressed. */
export async function readMaybeGzip(path: string): Promise<Uint8Array> {
  const raw = await Deno.readFile(path);
  return isGzip(raw) ? await gunzip(raw, path) : raw;
}

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

/** True if `path` exists as a file. */
export async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

/** Writes `bytes` to `path` atomically: a temporary file beside it, then a rename. */
export async function writeAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${path}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  try {
    await Deno.writeFile(tmp, bytes);
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}

/**
 * Downloads `url` into `dest`, keeping it only if its SHA-256 is `sha`: that of the file as
 * served (`of: "file"`), or of its content after gunzip (`of: "content"`, the default, for sums
 * published for the uncompressed data). Progress goes to `log`.
 * Throws a {@link DataError} naming the URL when the network fails or the checksum differs.
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
    throw new DataError(`Cannot download ${url} (${(e as Error).message})`);
  }
  const got = await sha256(of === "content" && isGzip(bytes) ? await gunzip(bytes, url) : bytes);
  if (got !== sha) {
    throw new DataError(`Cannot use ${url} as its SHA-256 is ${got}, not ${sha}: the server sent a different file`);
  }
  await Deno.mkdir(dest.replace(/\/[^/]*$/, ""), { recursive: true });
  await writeAtomic(dest, bytes);
}

/**
 * Regular files of a tar archive by name (ustar, with GNU long names; directories and links are
 * skipped). Throws a {@link DataError} naming `what` when an entry runs past the end.
 */
export function untar(tar: Uint8Array, what: string): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>();
  const text = (a: number, b: number) => new TextDecoder().decode(tar.subarray(a, b)).replace(/\0.*$/s, "");
  let longName: string | undefined;
  for (let at = 0; at + 512 <= tar.length;) {
    const name = text(at, at + 100);
    if (!name) break; // two zero blocks end the archive
    const size = parseInt(text(at + 124, at + 136).trim() || "0", 8);
    const type = tar[at + 156];
    if (!Number.isFinite(size) || at + 512 + size > tar.length) {
      throw new DataError(`Cannot read ${what} as its tar entry ${name} is truncated: get a fresh copy`);
    }
    const body = tar.subarray(at + 512, at + 512 + size);
    const prefix = text(at + 345, at + 500);
    if (type === 76) { // 'L': GNU long name of the next entry
      longName = new TextDecoder().decode(body).replace(/\0.*$/s, "");
    } else {
      if (type === 0 || type === 48) files.set(longName ?? (prefix ? `${prefix}/${name}` : name), body);
      longName = undefined;
    }
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return files;
}

/** A ustar archive of `files` (names up to 100 bytes), as `tar` writes it: for fixtures and tests. */
export function writeTar(files: Iterable<[string, Uint8Array]>): Uint8Array {
  const parts: Uint8Array[] = [];
  const enc = new TextEncoder();
  for (const [name, body] of files) {
    const h = new Uint8Array(512);
    const field = (at: number, s: string) => h.set(enc.encode(s), at);
    if (enc.encode(name).length > 100) throw new RangeError(`Cannot tar ${name}: names are limited to 100 bytes`);
    field(0, name);
    field(100, "0000644\0");
    field(108, "0000000\0");
    field(116, "0000000\0");
    field(124, body.length.toString(8).padStart(11, "0") + "\0");
    field(136, "00000000000\0");
    field(148, "        "); // the checksum counts its own field as spaces
    h[156] = 48; // '0': a regular file
    field(257, "ustar\u000000");
    let sum = 0;
    for (const b of h) sum += b;
    field(148, sum.toString(8).padStart(6, "0") + "\0 ");
    parts.push(h, body, new Uint8Array((512 - (body.length % 512)) % 512));
  }
  parts.push(new Uint8Array(1024));
  return concatBytes(parts);
}

/** The bytes of `parts`, one after another. */
export function concatBytes(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
