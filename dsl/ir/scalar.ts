// Scalar expressions: block indices, shape symbols, scalar params, loop variables and arithmetic
// on them. They compute offsets, loop bounds, grid sizes and fill values.
import { bool, type DType, f32, i32, isFloat } from '../dtype.js';
import { BINARY_SYMBOL, type BinaryOp, COMPARISON_OPS, type UnaryOp } from './ops.js';

export type ScalarExpr =
  | { readonly kind: 'const'; readonly value: number; readonly dtype: DType }
  | { readonly kind: 'var'; readonly name: string; readonly dtype: DType }
  | { readonly kind: 'blockIdx'; readonly axis: 0 | 1 | 2; readonly dtype: DType }
  | { readonly kind: 'unary'; readonly op: UnaryOp; readonly a: ScalarExpr; readonly dtype: DType }
  | {
      readonly kind: 'binary';
      readonly op: BinaryOp;
      readonly a: ScalarExpr;
      readonly b: ScalarExpr;
      readonly dtype: DType;
    }
  | {
      readonly kind: 'select';
      readonly cond: ScalarExpr;
      readonly a: ScalarExpr;
      readonly b: ScalarExpr;
      readonly dtype: DType;
    }
  | { readonly kind: 'cast'; readonly a: ScalarExpr; readonly dtype: DType };

/** A scalar expression, or a plain number (an i32 constant when integral, else f32). */
export type ScalarLike = ScalarExpr | number;

export function constant(value: number, dtype?: DType): ScalarExpr {
  return { kind: 'const', value, dtype: dtype ?? (Number.isInteger(value) ? i32 : f32) };
}

export function scalarVar(name: string, dtype: DType = i32): ScalarExpr {
  return { kind: 'var', name, dtype };
}

export function blockIdx(axis: 0 | 1 | 2): ScalarExpr {
  return { kind: 'blockIdx', axis, dtype: i32 };
}

export function toScalar(x: ScalarLike): ScalarExpr {
  return typeof x === 'number' ? constant(x) : x;
}

/**
 * A binary scalar op. Operands of different dtypes are not promoted here (the language's type
 * checker does that); a bare number takes the other operand's dtype.
 */
export function binary(op: BinaryOp, a: ScalarLike, b: ScalarLike): ScalarExpr {
  const ea = typeof a === 'number' && typeof b !== 'number' ? constant(a, b.dtype) : toScalar(a);
  const eb = typeof b === 'number' ? constant(b, ea.dtype) : b;
  const dtype = COMPARISON_OPS.has(op) ? bool : ea.dtype;
  return { kind: 'binary', op, a: ea, b: eb, dtype };
}

export function unary(op: UnaryOp, a: ScalarLike): ScalarExpr {
  const ea = toScalar(a);
  return { kind: 'unary', op, a: ea, dtype: ea.dtype };
}

export function select(cond: ScalarExpr, a: ScalarLike, b: ScalarLike): ScalarExpr {
  const ea = typeof a === 'number' && typeof b !== 'number' ? constant(a, b.dtype) : toScalar(a);
  const eb = typeof b === 'number' ? constant(b, ea.dtype) : b;
  return { kind: 'select', cond, a: ea, b: eb, dtype: ea.dtype };
}

export function castScalar(a: ScalarLike, dtype: DType): ScalarExpr {
  return { kind: 'cast', a: toScalar(a), dtype };
}

/** Every variable name the expression reads. */
export function scalarVars(e: ScalarExpr, out: Set<string> = new Set()): Set<string> {
  switch (e.kind) {
    case 'var':
      out.add(e.name);
      break;
    case 'unary':
    case 'cast':
      scalarVars(e.a, out);
      break;
    case 'binary':
      scalarVars(e.a, out);
      scalarVars(e.b, out);
      break;
    case 'select':
      scalarVars(e.cond, out);
      scalarVars(e.a, out);
      scalarVars(e.b, out);
      break;
    default:
      break;
  }
  return out;
}

const AXIS = ['x', 'y', 'z'] as const;

/** Readable infix text, fully parenthesized only where needed for unambiguous reading. */
export function printScalar(e: ScalarExpr): string {
  switch (e.kind) {
    case 'const':
      return printConst(e.value, e.dtype);
    case 'var':
      return e.name;
    case 'blockIdx':
      return `blockIdx.${AXIS[e.axis]}`;
    case 'unary':
      return e.op === 'neg' ? `-${wrap(e.a)}` : `${e.op}(${printScalar(e.a)})`;
    case 'binary': {
      const sym = BINARY_SYMBOL[e.op];
      return sym ? `${wrap(e.a)} ${sym} ${wrap(e.b)}` : `${e.op}(${printScalar(e.a)}, ${printScalar(e.b)})`;
    }
    case 'select':
      return `select(${printScalar(e.cond)}, ${printScalar(e.a)}, ${printScalar(e.b)})`;
    case 'cast':
      return `${e.dtype.name}(${printScalar(e.a)})`;
  }
}

function wrap(e: ScalarExpr): string {
  return e.kind === 'binary' || e.kind === 'select' ? `(${printScalar(e)})` : printScalar(e);
}

export function printConst(value: number, dtype: DType): string {
  if (Number.isNaN(value)) return 'nan';
  if (value === Number.POSITIVE_INFINITY) return 'inf';
  if (value === Number.NEGATIVE_INFINITY) return '-inf';
  if (dtype.kind === 'bool') return value ? 'true' : 'false';
  const text = Object.is(value, -0) ? '-0' : String(value);
  if (isFloat(dtype)) {
    const shown = Number.isInteger(value) && !text.includes('e') ? `${text}.0` : text;
    return dtype === f32 ? shown : `${shown}:${dtype.name}`;
  }
  return dtype === i32 ? text : `${text}:${dtype.name}`;
}
