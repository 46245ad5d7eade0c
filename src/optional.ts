/**
 * npm packages that one feature each needs, installed on first use instead of by every first run.
 * Deno installs every package of deno.json's import map on the first `deno run`, whatever runs;
 * these are therefore not in it, and load through an `npm:` specifier built at run time (so that
 * Deno does not fetch it ahead), pinned here.
 *
 * @module
 */

/** Each optional package, its pinned version and the feature that needs it. */
export const OPTIONAL = {
  h5wasm: { version: "0.10.3", for: "SVHN's digitStruct.mat (MATLAB v7.3, HDF5)" },
  pngjs: { version: "7.0.0", for: "decoding SVHN's full-number PNG images" },
} as const;

/** An optional package's name. */
export type OptionalPackage = keyof typeof OPTIONAL;

/** The pinned `npm:` specifier of an optional package. */
export function optionalSpecifier(name: OptionalPackage): string {
  return `npm:${name}@${OPTIONAL[name].version}`;
}

/**
 * The module of an optional package (installed by Deno on this first use). Fails with a message
 * naming the package and the feature where it cannot be installed (no registry, say).
 */
export async function loadOptional<T = unknown>(name: OptionalPackage): Promise<T> {
  const specifier = optionalSpecifier(name);
  try {
    return await import(specifier) as T;
  } catch (e) {
    throw new Error(
      `Cannot load ${specifier}, needed for ${OPTIONAL[name].for} (${(e as Error).message}): ` +
        "check that the npm registry can be reached, or that Deno's cache holds it",
    );
  }
}
