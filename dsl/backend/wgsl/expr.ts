// Scalar WGSL expressions with the VM's semantics (dsl/interp/elementwise.ts): literals, every
// unary and binary op on a register value of a dtype, casts, and scalar expressions of the IR.
//
// Registers: floats in f32, signed integers in i32, unsigned in u32, bool in bool (codec.ts). After
// each op a narrow result is brought back to its dtype with the codec's round_<dtype> (integers wrap
// to their width, floats round to their format), which is what the interpreter's normalize() does.
import { castValue, type DType, type FloatDType, type IntDType, isFloat } from '../../dtype.js';
import { normalize } from '../../interp/elementwise.js';
import { foldScalar, isConstantScalar } from '../../interp/fold-scalar.js';
import type { BinaryOp, UnaryOp } from '../../ir/ops.js';
import type { ScalarExpr } from '../../ir/scalar.js';
import { registerType, wgslCast, wgslRound } from './codec.js';
import { nativeF16Binary } from './f16.js';
import {
  cdivI32,
  cdivU32,
  compareF32,
  erfF32,
  f32FromBits,
  fmodF32,
  maxF32,
  minF32,
  powF32,
  tanhF32,
} from './math.js';
import type { Helpers } from './writer.js';

export type Reg = ReturnType<typeof registerType>;

export const reg: (d: DType) => Reg = registerType;

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

function f32Bits(x: number): number {
  f32Scratch[0] = x;
  return u32Scratch[0];
}

/** A WGSL literal of d's register type for `value`, a value of `d` (already rounded or wrapped). */
export function literal(h: Helpers, d: DType, value: number): string {
  switch (reg(d)) {
    case 'bool':
      return value !== 0 ? 'true' : 'false';
    case 'i32':
      return value === -2147483648 ? 'i32(-2147483648)' : `${value}i`;
    case 'u32':
      return `${value >>> 0}u`;
    case 'f32':
      return f32Literal(h, value);
  }
}

/**
 * An f32 literal: decimal for normal numbers (the shortest text that reads back exactly), the bits
 * otherwise; Inf and NaN through tv_f32, since WGSL rejects them as constants.
 */
export function f32Literal(h: Helpers, value: number): string {
  const v = Math.fround(value);
  if (Number.isNaN(v)) return `${h.use(f32FromBits)}(0x7fc00000u)`;
  const bits = f32Bits(v);
  const exp = (bits >>> 23) & 0xff;
  if (exp === 0xff) return `${h.use(f32FromBits)}(0x${bits.toString(16)}u)`;
  if ((exp === 0 && v !== 0) || Object.is(v, -0)) return `bitcast<f32>(0x${bits.toString(16)}u)`;
  let text = String(v);
  if (!/[.e]/.test(text)) text = `${text}.0`;
  return `${text}f`;
}

/** `expr` rounded (floats) or wrapped (integers) to `d`, when d is narrower than its register. */
export function rounded(h: Helpers, d: DType, expr: string): string {
  const fn = wgslRound(d);
  return fn ? `${h.use(fn)}(${expr})` : expr;
}

/** A value of `from` converted to `to` by the cast rules (castValue). */
export function castExpr(h: Helpers, from: DType, to: DType, expr: string): string {
  if (from === to) return expr;
  const fn = wgslCast(from, to);
  return fn ? `${h.use(fn)}(${expr})` : expr;
}

const FLOAT_BUILTIN: Partial<Record<UnaryOp, string>> = {
  exp: 'exp',
  exp2: 'exp2',
  log: 'log',
  log2: 'log2',
  sqrt: 'sqrt',
  rsqrt: 'inverseSqrt',
  sin: 'sin',
  cos: 'cos',
  floor: 'floor',
  ceil: 'ceil',
  round: 'round', // ties to even in WGSL
  trunc: 'trunc',
};

/** `op x` for a value of dtype `d` (the result has dtype d). */
export function unaryExpr(h: Helpers, op: UnaryOp, d: DType, x: string): string {
  if (d.kind === 'bool') return op === 'not' ? `!(${x})` : x;
  if (isFloat(d)) {
    switch (op) {
      case 'neg':
        return `-(${x})`; // exact in every format
      case 'abs':
        return `abs(${x})`;
      case 'not':
        return x; // rejected on floats by the validator
      case 'tanh':
        return rounded(h, d, `${h.use(tanhF32)}(${x})`);
      case 'erf':
        return rounded(h, d, `${h.use(erfF32)}(${x})`);
      default:
        return rounded(h, d, `${FLOAT_BUILTIN[op]}(${x})`);
    }
  }
  const signed = (d as IntDType).signed;
  switch (op) {
    case 'neg':
      return rounded(h, d, signed ? `-(${x})` : `(0u - ${x})`);
    case 'abs':
      return signed ? rounded(h, d, `abs(${x})`) : x;
    case 'not':
      return rounded(h, d, `~(${x})`);
    default:
      return x; // float-only ops are rejected on integers by the validator
  }
}

const INFIX: Partial<Record<BinaryOp, string>> = {
  add: '+',
  sub: '-',
  mul: '*',
  div: '/',
  eq: '==',
  ne: '!=',
  lt: '<',
  le: '<=',
  gt: '>',
  ge: '>=',
};

/** `a op b` for operands of dtype `d`; comparisons give bool, everything else a value of d. */
export function binaryExpr(h: Helpers, op: BinaryOp, d: DType, a: string, b: string): string {
  const infix = INFIX[op];
  if (op === 'eq' || op === 'ne' || op === 'lt' || op === 'le' || op === 'gt' || op === 'ge') {
    return isFloat(d) ? `${h.use(compareF32[op])}(${a}, ${b})` : `(${a} ${infix} ${b})`;
  }
  if (d.kind === 'bool') {
    switch (op) {
      case 'and':
        return `(${a} & ${b})`;
      case 'or':
        return `(${a} | ${b})`;
      default:
        return `(${a} != ${b})`; // xor; other ops are rejected on bool by the validator
    }
  }
  if (isFloat(d)) return floatBinary(h, op, d, a, b);
  return intBinary(h, op, d as IntDType, a, b);
}

function floatBinary(h: Helpers, op: BinaryOp, d: FloatDType, a: string, b: string): string {
  const native = nativeF16Binary(h, op, d, a, b);
  if (native !== undefined) return native;
  switch (op) {
    case 'add':
    case 'sub':
    case 'mul':
    case 'div':
      return rounded(h, d, `(${a} ${INFIX[op]} ${b})`);
    case 'mod':
      return rounded(h, d, `${h.use(fmodF32)}(${a}, ${b})`);
    case 'min':
      return `${h.use(minF32)}(${a}, ${b})`; // one of the operands: already in d
    case 'max':
      return `${h.use(maxF32)}(${a}, ${b})`;
    case 'pow':
      return rounded(h, d, `${h.use(powF32)}(${a}, ${b})`);
    default:
      return `(${a} + ${b})`; // integer-only ops are rejected on floats by the validator
  }
}

function intBinary(h: Helpers, op: BinaryOp, d: IntDType, a: string, b: string): string {
  const r = reg(d);
  // WGSL rejects a division by a constant zero, even with a run-time dividend: spell out the VM's
  // x / 0 = x and x % 0 = 0.
  if (b === '0i' || b === '0u') {
    if (op === 'div' || op === 'cdiv') return a;
    if (op === 'mod') return b;
  }
  switch (op) {
    case 'add':
    case 'sub':
    case 'mul':
    case 'div': // WGSL: x / 0 = x, and MIN / -1 = MIN (the wrapped quotient), as the VM
      return rounded(h, d, `(${a} ${INFIX[op]} ${b})`);
    case 'mod': // WGSL: x % 0 = 0, as the VM
      return `(${a} % ${b})`;
    case 'cdiv':
      return rounded(h, d, `${h.use(r === 'i32' ? cdivI32 : cdivU32)}(${a}, ${b})`);
    case 'min':
      return `min(${a}, ${b})`;
    case 'max':
      return `max(${a}, ${b})`;
    case 'and':
      return `(${a} & ${b})`;
    case 'or':
      return `(${a} | ${b})`;
    case 'xor':
      return `(${a} ^ ${b})`;
    case 'shl':
      return rounded(h, d, `(${a} << ${shiftAmount(d, b)})`);
    case 'shr': // arithmetic on i32, logical on u32; the result stays in range
      return `(${a} >> ${shiftAmount(d, b)})`;
    default:
      return a; // pow is rejected on integers by the validator
  }
}

/** The shift amount `b` modulo d's width, as a u32 (Euclidean: a negative amount counts from the top). */
function shiftAmount(d: IntDType, b: string): string {
  const w = d.bits;
  const asU32 = d.signed ? `bitcast<u32>(${b})` : b;
  if ((w & (w - 1)) === 0) return `(${asU32} & ${w - 1}u)`; // two's complement: & is the Euclidean mod
  return d.signed ? `u32(((${b} % ${w}i) + ${w}i) % ${w}i)` : `(${b} % ${w}u)`;
}

/** How the scalar emitter spells variables and block indices. */
export interface ScalarScope {
  variable(name: string, dtype: DType): string;
  blockIdx(axis: 0 | 1 | 2): string;
}

/**
 * A scalar expression as WGSL of its dtype's register type. Constant subexpressions are folded here
 * with the interpreter's arithmetic: WGSL evaluates constant expressions at shader creation and
 * rejects overflow or division by zero in them, where the VM wraps.
 */
export function scalarExpr(h: Helpers, e: ScalarExpr, scope: ScalarScope): string {
  if (isConstantScalar(e)) return literal(h, e.dtype, foldScalar(e));
  switch (e.kind) {
    case 'const':
      return literal(h, e.dtype, normalize(e.dtype, e.value));
    case 'var':
      return scope.variable(e.name, e.dtype);
    case 'blockIdx':
      return scope.blockIdx(e.axis);
    case 'unary':
      return unaryExpr(h, e.op, e.dtype, scalarExpr(h, e.a, scope));
    case 'binary':
      return binaryExpr(h, e.op, e.a.dtype, scalarExpr(h, e.a, scope), scalarExpr(h, e.b, scope));
    case 'select':
      return `select(${scalarExpr(h, e.b, scope)}, ${scalarExpr(h, e.a, scope)}, ${condition(h, e.cond, scope)})`;
    case 'cast':
      return castExpr(h, e.a.dtype, e.dtype, scalarExpr(h, e.a, scope));
  }
}

/** A scalar expression converted to dtype `to` by the cast rules (folded when constant). */
export function convertedScalar(h: Helpers, e: ScalarExpr, to: DType, scope: ScalarScope): string {
  if (isConstantScalar(e)) return literal(h, to, castValue(e.dtype, to, foldScalar(e)));
  return castExpr(h, e.dtype, to, scalarExpr(h, e, scope));
}

/** A bool or integer scalar as a WGSL bool (nonzero is true). */
export function condition(h: Helpers, e: ScalarExpr, scope: ScalarScope): string {
  const x = scalarExpr(h, e, scope);
  return e.dtype.kind === 'bool' ? x : `(${x} != ${literal(h, e.dtype, 0)})`;
}

/** A scalar expression converted to i32 (offsets and loop bounds are i32 in the VM). */
export function i32Expr(h: Helpers, e: ScalarExpr, scope: ScalarScope): string {
  const x = scalarExpr(h, e, scope);
  switch (reg(e.dtype)) {
    case 'i32':
      return x;
    case 'u32':
      return `i32(${x})`;
    case 'bool':
      return `select(0i, 1i, ${x})`;
    case 'f32':
      return `i32(${x})`;
  }
}
