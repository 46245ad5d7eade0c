/**
 * TensorFlow.js with every op's gradient registered: the one import of tfjs inside src/.
 *
 * tfjs-core alone registers no gradients, and its per-gradient ES modules use extensionless
 * imports that Deno cannot resolve; vendor/tfjs_gradients.js is tfjs-core's own registration of
 * all of them, bundled into one module by tools/gradients.ts (no union package, which would
 * install some 60 packages DRAW never uses). Ops come from tfjs-core, the instance the backends use.
 *
 * @module
 */
// tfjs-core first: it makes the one engine (kept on globalThis), which the bundle then finds
export * from "@tensorflow/tfjs-core";
import "./vendor/tfjs_gradients.js";
// a backend is always there, as the union package gave one: selectBackend picks the fastest
import "@tensorflow/tfjs-backend-cpu";
import { env } from "@tensorflow/tfjs-core";
// tfjs's production mode only silences its warnings, among them a banner on the first tensor
// that recommends tfjs-node to anyone running in Deno (which it takes for Node.js)
env().set("PROD", true);
