// Which optional WGSL paths one compilation may take, and which it took: packed 4x8 integer dots
// (WGSL language feature 'packed_4x8_integer_dot_product', dot4.ts), native f16 storage conversions
// and arithmetic (device feature 'shader-f16', f16.ts) and grouped word loads of read-only tensors
// (vec4.ts, no feature needed). Every path has a fallback that is always correct; the options force it.
//
// The choices are kept per compilation, keyed by its Helpers (every emitter, down to expr.ts, has
// that object), so the emitters need no extra parameter.
import type { Helpers } from './writer.js';

/** The WGSL language feature of dot4I8Packed / dot4U8Packed (navigator.gpu.wgslLanguageFeatures). */
export const PACKED_DOT_FEATURE = 'packed_4x8_integer_dot_product';
/** The device feature of `enable f16;`. */
export const SHADER_F16 = 'shader-f16';

export interface FeatureChoices {
  /** Lower 8-bit-or-narrower integer dots to dot4I8Packed / dot4U8Packed. */
  readonly packedDot: boolean;
  /** Convert f16 storage with native f16 and do f16 `+ - * /` in f16 (`enable f16;`). */
  readonly nativeF16: boolean;
  /**
   * Load tiles of tensors the program never stores to as aligned groups of 4 words, through the
   * scratch array (vec4.ts): 'auto' where it pays (sub-byte dtypes, rows of 128 bits or more),
   * 'always' wherever it is valid (tests), 'off' never.
   */
  readonly vec4Loads: 'auto' | 'always' | 'off';
}

export const NO_FEATURES: FeatureChoices = { packedDot: false, nativeF16: false, vec4Loads: 'off' };

interface State {
  readonly choices: FeatureChoices;
  /** Features the emitted module uses: device features and WGSL language features. */
  readonly used: Set<string>;
}

const states = new WeakMap<Helpers, State>();

/** Records the choices of the compilation that owns `h` (index.ts, once, before emitting). */
export function setFeatureChoices(h: Helpers, choices: FeatureChoices): void {
  states.set(h, { choices, used: new Set() });
}

export function featureChoices(h: Helpers): FeatureChoices {
  return states.get(h)?.choices ?? NO_FEATURES;
}

/** Marks a feature as used by the module (it then appears in the artifact's `features`). */
export function useFeature(h: Helpers, feature: string): void {
  states.get(h)?.used.add(feature);
}

/** The features the module uses, sorted. */
export function usedFeatures(h: Helpers): string[] {
  return [...(states.get(h)?.used ?? [])].sort();
}

/** The directives the module needs for the features it uses (`enable f16;`, `requires ...;`). */
export function featureDirectives(h: Helpers): string[] {
  const used = states.get(h)?.used ?? new Set<string>();
  const out: string[] = [];
  if (used.has(SHADER_F16)) out.push('enable f16;');
  if (used.has(PACKED_DOT_FEATURE)) out.push(`requires ${PACKED_DOT_FEATURE};`);
  return out;
}
