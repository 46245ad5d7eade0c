/**
 * Larochelle's `.amat` text format of binarized MNIST: one image per line, 784 values 0 or 1
 * separated by spaces (the fixed binarization of Salakhutdinov & Murray 2008, used in Table 2).
 *
 * @module
 */
import { DataError } from "./files.ts";

/** Parses `.amat` text into bytes (one 0/1 byte per pixel), checking every row. */
export function parseAmat(bytes: Uint8Array, what: string, rowLength = 784): { count: number; data: Uint8Array } {
  const fix = "get a good copy (see README: Data)";
  const rows: Uint8Array[] = [];
  let line = 1;
  let start = 0;
  const text = bytes;
  const SPACE = 32, TAB = 9, CR = 13, NL = 10, ZERO = 48, ONE = 49;
  while (start < text.length) {
    let end = text.indexOf(NL, start);
    if (end < 0) end = text.length;
    const row = new Uint8Array(rowLength);
    let n = 0;
    let k = start;
    while (k < end) {
      const c = text[k];
      if (c === SPACE || c === TAB || c === CR) {
        k++;
        continue;
      }
      // A value: "0", "1", or a float spelling of them ("0.0", "1.000").
      let j = k;
      while (j < end && text[j] !== SPACE && text[j] !== TAB && text[j] !== CR) j++;
      let v: number;
      if (j === k + 1 && (c === ZERO || c === ONE)) v = c - ZERO;
      else v = Number(new TextDecoder().decode(text.subarray(k, j)));
      if (v !== 0 && v !== 1) {
        throw new DataError(
          `Cannot read ${what} as line ${line} holds the value "${
            new TextDecoder().decode(text.subarray(k, j))
          }", not 0 or 1 (binarized MNIST): ${fix}`,
        );
      }
      if (n >= rowLength) {
        throw new DataError(`Cannot read ${what} as line ${line} has more than ${rowLength} values: ${fix}`);
      }
      row[n++] = v;
      k = j;
    }
    if (n > 0) {
      if (n !== rowLength) {
        throw new DataError(`Cannot read ${what} as line ${line} has ${n} values, not ${rowLength}: ${fix}`);
      }
      rows.push(row);
    }
    start = end + 1;
    line++;
  }
  if (rows.length === 0) throw new DataError(`Cannot read ${what} as it holds no images: ${fix}`);
  const data = new Uint8Array(rows.length * rowLength);
  rows.forEach((r, i) => data.set(r, i * rowLength));
  return { count: rows.length, data };
}

/** Writes images (0/1 bytes, `rowLength` per image) as `.amat` text. */
export function encodeAmat(data: Uint8Array, rowLength = 784): Uint8Array {
  const lines: string[] = [];
  for (let i = 0; i < data.length; i += rowLength) lines.push(Array.from(data.subarray(i, i + rowLength)).join(" "));
  return new TextEncoder().encode(lines.join("\n") + "\n");
}
