// Dtype promotion for binary operations (documented in docs/language.md):
// - equal dtypes: that dtype;
// - a weak operand (an unsuffixed literal or const) takes the other operand's dtype, except that
//   a float literal meeting an integer operand makes the result f32;
// - float with integer: the float dtype;
// - two floats: the wider (more bits); f16 with bf16 gives f32;
// - two integers of one signedness: the wider; of mixed signedness: no implicit promotion.
import { bf16, type DType, f16, f32 } from '../dtype.js';

export type Promotion = { readonly ok: true; readonly dtype: DType } | { readonly ok: false; readonly why: string };

export function promote(a: DType, aWeak: boolean, b: DType, bWeak: boolean): Promotion {
  if (a === b) return { ok: true, dtype: a };
  if (aWeak && !bWeak) return weakWith(a, b);
  if (bWeak && !aWeak) return weakWith(b, a);
  if (aWeak && bWeak) return { ok: true, dtype: a.kind === 'float' || b.kind === 'float' ? f32 : a };
  return strong(a, b);
}

function weakWith(weak: DType, strongType: DType): Promotion {
  if (weak.kind === 'float' && strongType.kind !== 'float') return { ok: true, dtype: f32 };
  return { ok: true, dtype: strongType };
}

function strong(a: DType, b: DType): Promotion {
  if (a.kind === 'bool' || b.kind === 'bool') {
    return { ok: false, why: `bool does not mix with ${a.kind === 'bool' ? b.name : a.name}` };
  }
  if (a.kind === 'float' && b.kind === 'float') {
    if ((a === f16 && b === bf16) || (a === bf16 && b === f16)) return { ok: true, dtype: f32 };
    return { ok: true, dtype: a.bits >= b.bits ? a : b };
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
