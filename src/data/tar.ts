/**
 * Tar archives (ustar, with GNU long names): the reader CIFAR-10 and SVHN need, and a writer for
 * their fixtures. A few lines of our own: the npm tar readers are built on Node streams.
 *
 * @module
 */
import { concatBytes, DataError } from "./files.ts";

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
