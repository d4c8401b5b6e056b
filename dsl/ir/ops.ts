// The elementwise operations of the VM, as data, so that every backend's op table can be checked
// for completeness by the type system (`satisfies Record<UnaryOp, ...>`).

export const UNARY_OPS = [
  'neg',
  'abs',
  'not', // bitwise not on integers, logical not on bool
  'exp',
  'exp2',
  'log',
  'log2',
  'sqrt',
  'rsqrt',
  'tanh',
  'erf',
  'sin',
  'cos',
  'floor',
  'ceil',
  'round', // to nearest, ties to even
  'trunc',
] as const;
export type UnaryOp = (typeof UNARY_OPS)[number];

export const BINARY_OPS = [
  'add',
  'sub',
  'mul',
  'div', // floats: IEEE division; integers: truncating, x / 0 = x
  'mod', // floats: x - y * trunc(x / y); integers: truncating remainder, x % 0 = 0
  'min',
  'max',
  'pow',
  'and', // bitwise on integers, logical on bool
  'or',
  'xor',
  'shl', // shift amount taken modulo the bit width
  'shr', // arithmetic for signed, logical for unsigned
  'cdiv', // ceil(x / y) for non-negative integers
  'eq',
  'ne',
  'lt',
  'le',
  'gt',
  'ge',
] as const;
export type BinaryOp = (typeof BINARY_OPS)[number];

export const REDUCE_OPS = ['sum', 'max', 'min'] as const;
export type ReduceOp = (typeof REDUCE_OPS)[number];

/** Ops whose result is bool whatever the operand dtype. */
export const COMPARISON_OPS: ReadonlySet<BinaryOp> = new Set(['eq', 'ne', 'lt', 'le', 'gt', 'ge']);

/** Ops defined only on float operands. */
export const FLOAT_ONLY_UNARY: ReadonlySet<UnaryOp> = new Set([
  'exp',
  'exp2',
  'log',
  'log2',
  'sqrt',
  'rsqrt',
  'tanh',
  'erf',
  'sin',
  'cos',
  'floor',
  'ceil',
  'round',
  'trunc',
]);
export const FLOAT_ONLY_BINARY: ReadonlySet<BinaryOp> = new Set(['pow']);

/** Ops defined only on integer (or bool) operands. */
export const INT_ONLY_UNARY: ReadonlySet<UnaryOp> = new Set(['not']);
export const INT_ONLY_BINARY: ReadonlySet<BinaryOp> = new Set(['and', 'or', 'xor', 'shl', 'shr', 'cdiv']);

/** Ops that make sense on bool operands (everything else wants a number type). */
export const BOOL_BINARY: ReadonlySet<BinaryOp> = new Set(['and', 'or', 'xor', 'eq', 'ne']);
export const BOOL_UNARY: ReadonlySet<UnaryOp> = new Set(['not']);

/** Printed operator spelling for ops that have one (others print as calls). */
export const BINARY_SYMBOL: Partial<Record<BinaryOp, string>> = {
  add: '+',
  sub: '-',
  mul: '*',
  div: '/',
  mod: '%',
  and: '&',
  or: '|',
  xor: '^',
  shl: '<<',
  shr: '>>',
  eq: '==',
  ne: '!=',
  lt: '<',
  le: '<=',
  gt: '>',
  ge: '>=',
};
