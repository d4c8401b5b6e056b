// Constant scalar expressions evaluated at compile time with the interpreter's arithmetic
// (elementwise.ts), so every backend folds them to the value the interpreter computes: WGSL would
// reject overflow or division by zero in constant expressions where the VM wraps, and WASM literals
// must carry the VM's rounding.
import { castValue } from '../dtype.js';
import type { ScalarExpr } from '../ir/scalar.js';
import { applyBinary, applyUnary, normalize } from './elementwise.js';

/** Whether an expression reads no variable and no block index (so it can be folded). */
export function isConstantScalar(e: ScalarExpr): boolean {
  switch (e.kind) {
    case 'const':
      return true;
    case 'var':
    case 'blockIdx':
      return false;
    case 'unary':
    case 'cast':
      return isConstantScalar(e.a);
    case 'binary':
      return isConstantScalar(e.a) && isConstantScalar(e.b);
    case 'select':
      return isConstantScalar(e.cond) && isConstantScalar(e.a) && isConstantScalar(e.b);
  }
}

/** The value of a constant expression (isConstantScalar holds), by the interpreter's rules. */
export function foldScalar(e: ScalarExpr): number {
  switch (e.kind) {
    case 'const':
      return normalize(e.dtype, e.value);
    case 'unary':
      return applyUnary(e.op, e.dtype, foldScalar(e.a));
    case 'binary':
      return applyBinary(e.op, e.a.dtype, foldScalar(e.a), foldScalar(e.b));
    case 'select':
      return foldScalar(e.cond) !== 0 ? foldScalar(e.a) : foldScalar(e.b);
    case 'cast':
      return castValue(e.a.dtype, e.dtype, foldScalar(e.a));
    default:
      throw new Error('internal: not a constant');
  }
}
