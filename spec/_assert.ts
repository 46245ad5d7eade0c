/**
 * Assertions for the spec suite. node:assert/strict stands in for @std/assert (JSR is out of reach
 * from our machines); this is the one file to change to swap it back.
 */
import assert from "node:assert/strict";

export { assert };
export const equal: typeof assert.equal = assert.equal;
export const deepEqual: typeof assert.deepEqual = assert.deepEqual;
export const ok: typeof assert.ok = assert.ok;
export const throws: typeof assert.throws = assert.throws;
export const rejects: typeof assert.rejects = assert.rejects;
export const match: typeof assert.match = assert.match;

/**
 * Asserts |actual − expected| ≤ atol + rtol·|expected| element-wise, naming the first index off.
 */
export function assertClose(
  actual: ArrayLike<number> | number,
  expected: ArrayLike<number> | number,
  { rtol = 1e-5, atol = 1e-6, what = "value" }: { rtol?: number; atol?: number; what?: string } = {},
): void {
  const a = typeof actual === "number" ? [actual] : Array.from(actual);
  const e = typeof expected === "number" ? [expected] : Array.from(expected);
  assert.equal(a.length, e.length, `${what}: length ${a.length} != expected ${e.length}`);
  for (let k = 0; k < a.length; k++) {
    const tol = atol + rtol * Math.abs(e[k]);
    if (!(Math.abs(a[k] - e[k]) <= tol)) {
      assert.fail(`${what}[${k}] = ${a[k]} differs from expected ${e[k]} by more than ${tol}`);
    }
  }
}

/** Asserts ‖actual − expected‖₂ ≤ rtol·‖expected‖₂ + atol: for gradients, where single entries may be near 0. */
export function assertNormClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  { rtol = 1e-3, atol = 1e-6, what = "value" } = {},
): void {
  assert.equal(actual.length, expected.length, `${what}: length differs`);
  let diff = 0;
  let ref = 0;
  for (let k = 0; k < actual.length; k++) {
    diff += (actual[k] - expected[k]) ** 2;
    ref += expected[k] ** 2;
  }
  const err = Math.sqrt(diff);
  const tol = rtol * Math.sqrt(ref) + atol;
  if (!(err <= tol)) {
    assert.fail(`${what}: ‖actual − expected‖ = ${err} exceeds ${tol} (‖expected‖ = ${Math.sqrt(ref)})`);
  }
}

/**
 * {@link assertNormClose} column by column for a matrix of `cols` columns (row-major), so that one wrong column
 * (the γ column of read.kernel, say: one fifth of a head's gradient) cannot hide in the norm of the rest.
 */
export function assertColumnsClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  cols: number,
  { rtol = 1e-3, atol = 1e-6, what = "value" } = {},
): void {
  assert.equal(actual.length, expected.length, `${what}: length differs`);
  const rows = actual.length / cols;
  for (let j = 0; j < cols; j++) {
    const column = (v: ArrayLike<number>) => Array.from({ length: rows }, (_, i) => v[i * cols + j]);
    assertNormClose(column(actual), column(expected), { rtol, atol, what: `${what}[:, ${j}]` });
  }
}
