// Scalar expressions of the IR as wasm expressions of their dtype's register type, with the same
// op semantics as tiles (ops.ts). Constant subexpressions are folded here by the interpreter's own
// rules.
import binaryen from 'binaryen';
import { castValue, type DType } from '../../dtype.js';
import { normalize } from '../../interp/elementwise.js';
import { foldScalar, isConstantScalar } from '../../interp/fold-scalar.js';
import type { ScalarExpr } from '../../ir/scalar.js';
import type { Gen } from './context.js';
import type { Ref, Val } from './fn.js';
import { literal, reg } from './formats.js';
import { binary, cast, unary } from './ops.js';

/** How variables and block indices are read (main's locals, by default). */
export interface ScalarScope {
  variable(name: string, dtype: DType): Ref;
  blockIdx(axis: 0 | 1 | 2): Ref;
}

export function mainScope(g: Gen): ScalarScope {
  return {
    variable: (name, dtype) => g.f.get(g.scalar(name, dtype)),
    blockIdx: (axis) => g.f.get(g.block[axis]),
  };
}

/** Operands saved in fresh locals, so op builders may read them several times. */
function withOperands(
  g: Gen,
  values: readonly [Ref, DType][],
  build: (vals: Val[]) => Ref,
  result: DType,
): Ref {
  const stmts: Ref[] = [];
  const vals = values.map(([v, d]) => {
    const [set, get] = g.f.save(v, binaryen[reg(d)]);
    stmts.push(set);
    return get;
  });
  return g.f.seq(stmts, build(vals), binaryen[reg(result)]);
}

/** `e` as a register value of its dtype. */
export function scalarExpr(g: Gen, e: ScalarExpr, scope: ScalarScope = mainScope(g)): Ref {
  if (isConstantScalar(e)) return literal(g.mod, e.dtype, foldScalar(e));
  const sub = (x: ScalarExpr) => scalarExpr(g, x, scope);
  switch (e.kind) {
    case 'const':
      return literal(g.mod, e.dtype, normalize(e.dtype, e.value));
    case 'var':
      return scope.variable(e.name, e.dtype);
    case 'blockIdx':
      return scope.blockIdx(e.axis);
    case 'unary':
      return withOperands(g, [[sub(e.a), e.a.dtype]], ([x]) => unary(g.mod, e.op, e.a.dtype, x), e.dtype);
    case 'binary':
      return withOperands(
        g,
        [
          [sub(e.a), e.a.dtype],
          [sub(e.b), e.b.dtype],
        ],
        ([a, b]) => binary(g.mod, e.op, e.a.dtype, a, b),
        e.dtype,
      );
    case 'select':
      return withOperands(
        g,
        [
          [sub(e.cond), e.cond.dtype],
          [sub(e.a), e.a.dtype],
          [sub(e.b), e.b.dtype],
        ],
        ([c, a, b]) => g.m.select(truthy(g, e.cond.dtype, c()), a(), b()),
        e.dtype,
      );
    case 'cast':
      return withOperands(g, [[sub(e.a), e.a.dtype]], ([x]) => cast(g.mod, e.a.dtype, e.dtype, x), e.dtype);
  }
}

/** A register value of `d` as a wasm condition (nonzero is true; floats: nonzero or NaN). */
function truthy(g: Gen, d: DType, x: Ref): Ref {
  return d.kind === 'float' ? g.m.f32.ne(x, g.m.f32.const(0)) : x;
}

/** A bool or integer scalar as an i32 condition (nonzero is true). */
export function condition(g: Gen, e: ScalarExpr): Ref {
  return truthy(g, e.dtype, scalarExpr(g, e));
}

/** An integer scalar (offsets, loop bounds) as i32. */
export function i32Expr(g: Gen, e: ScalarExpr, scope?: ScalarScope): Ref {
  const x = scalarExpr(g, e, scope);
  return e.dtype.kind === 'float' ? g.m.i32.trunc_s_sat.f32(x) : x;
}

/** `e` converted to dtype `to` by the cast rules (folded when constant). */
export function convertedScalar(g: Gen, e: ScalarExpr, to: DType): Ref {
  if (isConstantScalar(e)) return literal(g.mod, to, castValue(e.dtype, to, foldScalar(e)));
  return withOperands(g, [[scalarExpr(g, e), e.dtype]], ([x]) => cast(g.mod, e.dtype, to, x), to);
}
