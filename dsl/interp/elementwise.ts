// The exact semantics of every elementwise op on one value of a given dtype. The interpreter
// applies these lane by lane; they are the definition every backend is tested against.
import { type DType, type IntDType, isFloat, roundToDType } from '../dtype.js';
import type { BinaryOp, UnaryOp } from '../ir/ops.js';
import { erf, roundHalfEven } from './math.js';

/** Keep the low `bits` bits of an integer, as two's complement for signed types. */
export function wrapInt(d: IntDType, x: number): number {
  const m = 2 ** d.bits;
  let r = x % m;
  if (r < 0) r += m;
  // `+ 0` turns -0 (from e.g. trunc(-1 / 2)) into 0: integers have no negative zero.
  return (d.signed && r >= m / 2 ? r - m : r) + 0;
}

/** Round or wrap a freshly computed value to what a tile of dtype `d` holds. */
export function normalize(d: DType, x: number): number {
  if (d.kind === 'int') return wrapInt(d, x);
  if (d.kind === 'bool') return x !== 0 ? 1 : 0;
  return roundToDType(d, x);
}

type FloatUnary = (x: number) => number;
const FLOAT_UNARY = {
  neg: (x) => -x,
  abs: Math.abs,
  not: (x) => x, // rejected on floats by the validator
  exp: Math.exp,
  exp2: (x) => 2 ** x,
  log: Math.log,
  log2: Math.log2,
  sqrt: Math.sqrt,
  rsqrt: (x) => 1 / Math.sqrt(x),
  tanh: Math.tanh,
  erf,
  sin: Math.sin,
  cos: Math.cos,
  floor: Math.floor,
  ceil: Math.ceil,
  round: roundHalfEven,
  trunc: Math.trunc,
} satisfies Record<UnaryOp, FloatUnary>;

export function applyUnary(op: UnaryOp, d: DType, x: number): number {
  if (isFloat(d)) return roundToDType(d, FLOAT_UNARY[op](x));
  if (d.kind === 'bool') return op === 'not' ? 1 - x : x;
  switch (op) {
    case 'neg':
      return wrapInt(d, -x);
    case 'abs':
      return wrapInt(d, Math.abs(x));
    case 'not':
      return wrapInt(d, -x - 1); // ~x in two's complement
    default:
      return x; // float-only ops are rejected on integers by the validator
  }
}

type Binary = (a: number, b: number) => number;

const FLOAT_BINARY = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  mod: (a, b) => a % b, // JS % is fmod: a - b * trunc(a / b), exact
  min: (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? Number.NaN : Math.min(a, b)),
  max: (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? Number.NaN : Math.max(a, b)),
  pow: Math.pow,
  and: () => Number.NaN,
  or: () => Number.NaN,
  xor: () => Number.NaN,
  shl: () => Number.NaN,
  shr: () => Number.NaN,
  cdiv: () => Number.NaN,
  eq: (a, b) => (a === b ? 1 : 0),
  ne: (a, b) => (a !== b ? 1 : 0),
  lt: (a, b) => (a < b ? 1 : 0),
  le: (a, b) => (a <= b ? 1 : 0),
  gt: (a, b) => (a > b ? 1 : 0),
  ge: (a, b) => (a >= b ? 1 : 0),
} satisfies Record<BinaryOp, Binary>;

/** Integer ops on exact values; the caller wraps the result to the dtype. */
function intBinary(op: BinaryOp, d: IntDType, a: number, b: number): number {
  // Shift amounts are taken modulo the bit width, so every shift is defined.
  const shift = () => ((b % d.bits) + d.bits) % d.bits;
  switch (op) {
    case 'add':
      return a + b;
    case 'sub':
      return a - b;
    case 'mul': {
      const p = a * b;
      // Beyond 2^53 a double loses low bits; Math.imul gives the exact low 32 bits.
      return Math.abs(p) <= Number.MAX_SAFE_INTEGER ? p : Math.imul(a, b);
    }
    case 'div':
      return b === 0 ? a : Math.trunc(a / b);
    case 'mod':
      return b === 0 ? 0 : a % b;
    case 'cdiv':
      return b === 0 ? a : Math.ceil(a / b);
    case 'min':
      return Math.min(a, b);
    case 'max':
      return Math.max(a, b);
    case 'pow':
      return a ** b;
    case 'and':
      return a & b;
    case 'or':
      return a | b;
    case 'xor':
      return a ^ b;
    case 'shl':
      return Math.abs(a) * 2 ** shift() > Number.MAX_SAFE_INTEGER ? a << shift() : a * 2 ** shift();
    case 'shr':
      return d.signed ? a >> shift() : Math.floor(a / 2 ** shift());
    default:
      return FLOAT_BINARY[op](a, b);
  }
}

/**
 * `op` on two values of operand dtype `d`. Comparisons give 0/1 (bool); everything else gives a
 * value of `d`: floats computed in float64 and rounded once, integers exact and then wrapped.
 */
export function applyBinary(op: BinaryOp, d: DType, a: number, b: number): number {
  if (isFloat(d)) {
    const r = FLOAT_BINARY[op](a, b);
    return op === 'eq' || op === 'ne' || op === 'lt' || op === 'le' || op === 'gt' || op === 'ge'
      ? r
      : roundToDType(d, r);
  }
  if (d.kind === 'bool') {
    switch (op) {
      case 'and':
        return a & b;
      case 'or':
        return a | b;
      case 'xor':
        return a ^ b;
      default:
        return FLOAT_BINARY[op](a, b);
    }
  }
  const r = intBinary(op, d, a, b);
  return op === 'eq' || op === 'ne' || op === 'lt' || op === 'le' || op === 'gt' || op === 'ge'
    ? r
    : wrapInt(d, r);
}
