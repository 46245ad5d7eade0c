/**
 * WGSL: the small vector kernels (src/engine/fused/kernels/vector.ts and fastmath.ts in AssemblyScript): row
 * copies and sums, column sums (bias gradients), clearing, σ.
 *
 * @module
 */
import { elementwise, type Shader } from "./prelude.ts";

export const vector: Record<string, Shader> = {
  zero: elementwise(["x"], `  mem[p.x + id] = 0.0;`),
  sigmoidInto: elementwise(["src", "dst"], `  mem[p.dst + id] = sigmoid(mem[p.src + id]);`),
  expInto: elementwise(["src", "dst"], `  mem[p.dst + id] = exp(mem[p.src + id]);`),
  tanhInto: elementwise(["src", "dst"], `  mem[p.dst + id] = tanh_(mem[p.src + id]);`),
  addInto: elementwise(["x", "y"], `  mem[p.y + id] += mem[p.x + id];`),
  // dst row r = src row r (srcStride 0 repeats one row), cols floats each
  copyRows: elementwise(
    ["dst", "dstStride", "src", "srcStride", "cols"],
    `  let r = id / p.cols; let k = id % p.cols;
  mem[p.dst + r * p.dstStride + k] = mem[p.src + r * p.srcStride + k];`,
  ),
  addRows: elementwise(
    ["dst", "dstStride", "src", "srcStride", "cols"],
    `  let r = id / p.cols; let k = id % p.cols;
  mem[p.dst + r * p.dstStride + k] += mem[p.src + r * p.srcStride + k];`,
  ),
  // into[k] += Σ_r m[r, k]: one thread per column (no barriers: they are costly on software adapters)
  addColumnSums: elementwise(
    ["m", "rows", "into"],
    `  var s = 0.0;
  for (var r = 0u; r < p.rows; r++) { s += mem[p.m + r * p.total + id]; }
  mem[p.into + id] += s;`,
  ),
};
