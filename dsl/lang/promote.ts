// Dtype promotion for binary operations (documented in docs/language.md). Operands have a
// strength: 0 for unsuffixed literals and consts, 1 for runtime scalars, 2 for tiles and suffixed
// literals.
// - equal dtypes: that dtype;
// - different strengths: the weaker operand takes the stronger one's dtype, except that a float
//   meeting an integer gives a float (the weaker float's dtype, so f32 for a literal);
// - two literals: f32 if either is a float, else i32;
// - otherwise (equal strengths): float with integer gives the float; two floats give the wider
//   (equal widths, e.g. f16 with bf16, give f32); two integers of one signedness give the wider;
//   mixed signedness does not promote implicitly.
import { type DType, f32 } from '../dtype.js';

export type Promotion =
  | { readonly ok: true; readonly dtype: DType }
  | { readonly ok: false; readonly why: string };

/** 0: literal or const, 1: runtime scalar, 2: tile or suffixed literal. */
export type Strength = 0 | 1 | 2;

export function promote(a: DType, aStrength: Strength, b: DType, bStrength: Strength): Promotion {
  if (a === b) return { ok: true, dtype: a };
  if (aStrength < bStrength) return weakWith(a, b);
  if (bStrength < aStrength) return weakWith(b, a);
  if (aStrength === 0) return { ok: true, dtype: a.kind === 'float' || b.kind === 'float' ? f32 : a };
  return strong(a, b);
}

function weakWith(weak: DType, strongType: DType): Promotion {
  if (weak.kind === 'float' && strongType.kind !== 'float') return { ok: true, dtype: weak };
  return { ok: true, dtype: strongType };
}

function strong(a: DType, b: DType): Promotion {
  if (a.kind === 'bool' || b.kind === 'bool') {
    return { ok: false, why: `bool does not mix with ${a.kind === 'bool' ? b.name : a.name}` };
  }
  if (a.kind === 'float' && b.kind === 'float') {
    if (a.bits === b.bits) return { ok: true, dtype: f32 };
    return { ok: true, dtype: a.bits > b.bits ? a : b };
  }
  if (a.kind === 'float') return { ok: true, dtype: a };
  if (b.kind === 'float') return { ok: true, dtype: b };
  if (a.kind === 'int' && b.kind === 'int') {
    if (a.signed !== b.signed) {
      return { ok: false, why: `${a.name} and ${b.name} mix signed and unsigned integers` };
    }
    return { ok: true, dtype: a.bits >= b.bits ? a : b };
  }
  return { ok: false, why: `${a.name} and ${b.name} do not mix` };
}
