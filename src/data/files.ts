/**
 * File plumbing for data sets: the data error, gzip, existence checks and atomic writes.
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
