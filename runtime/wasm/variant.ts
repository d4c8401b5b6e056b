// Which module of an artifact a WASM device runs: the relaxed-SIMD variant (artifact.relaxed) where
// the engine validates relaxed SIMD and the device allows it, the baseline module everywhere else.
import type { WasmArtifact } from '../artifact.js';

/** Artifacts whose variant passed the check below (the variant checked, in case it was replaced). */
const checked = new WeakMap<WasmArtifact, WasmArtifact>();

/**
 * The artifact to run: `artifact.relaxed` when `relaxed` is true and there is one (checked to be the
 * same kernel), else `artifact` itself. A malformed variant is an error even where it is not used,
 * so a corrupt file fails on every host alike.
 */
export function pickWasmVariant(artifact: WasmArtifact, relaxed: boolean): WasmArtifact {
  const variant = artifact?.relaxed;
  if (variant === undefined) return artifact;
  // The check stringifies several fields (tens to hundreds of µs): once per artifact and variant,
  // not on every launch of a ~1 ms kernel.
  if (checked.get(artifact) === variant) return relaxed ? variant : artifact;
  const name = typeof artifact.kernel === 'string' ? artifact.kernel : '?';
  const fail = (why: string): never => {
    throw new Error(
      `artifact of kernel '${name}': its relaxed-SIMD variant ${why}; rebuild it with this tilevm`,
    );
  };
  if (typeof variant !== 'object' || variant === null) fail('is not an artifact');
  if (variant.relaxed !== undefined) fail('has a variant of its own');
  for (const field of ['format', 'version', 'kernel', 'params', 'grid', 'descriptor', 'maxPages'] as const) {
    if (JSON.stringify(variant[field]) !== JSON.stringify(artifact[field])) {
      fail(`differs from the baseline module in '${field}'`);
    }
  }
  if (!Array.isArray(variant.features) || !variant.features.includes('relaxed-simd')) {
    fail("does not list 'relaxed-simd' in its features");
  }
  if (variant.hash === artifact.hash) fail("has the baseline module's hash (the module cache key)");
  checked.set(artifact, variant);
  return relaxed ? variant : artifact;
}
