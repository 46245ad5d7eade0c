/**
 * TensorFlow.js with every op's gradient registered: the one import of tfjs inside src/.
 *
 * tfjs-core alone registers no gradients, and its per-gradient ES modules use extensionless
 * imports that Deno cannot resolve; the union package's Node bundle registers all of them when it
 * loads. Ops come from tfjs-core, the same instance the union package and the backends use.
 *
 * @module
 */
import "@tensorflow/tfjs";
export * from "@tensorflow/tfjs-core";
