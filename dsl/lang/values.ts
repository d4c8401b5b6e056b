// What an expression evaluates to while a kernel is checked and lowered.
import type { DType } from '../dtype.js';
import type { GlobalParam, TileVar } from '../ir/program.js';
import type { ScalarExpr } from '../ir/scalar.js';
import type { Layout } from '../layout.js';
import type { Span } from './ast.js';
import type { DeviceFn } from './fn.js';

/** A compile-time number (literal, const, or folded arithmetic on them). */
export interface ConstValue {
  readonly kind: 'const';
  readonly value: number;
  /** The dtype it has: i32 for integer literals, f32 for float literals, or a suffix's dtype. */
  readonly dtype: DType;
  /** Literals and consts adapt to the other operand's dtype (a "weak" type), suffixed ones don't. */
  readonly weak: boolean;
}
/** A scalar known only at run time: block indices, shape symbols, scalar params, loop variables. */
export interface ScalarValue {
  readonly kind: 'scalar';
  readonly expr: ScalarExpr;
}
export interface TileValue {
  readonly kind: 'tile';
  readonly tile: TileVar;
}
export interface SharedValue {
  readonly kind: 'shared';
  readonly tile: TileVar;
}
export interface GlobalValue {
  readonly kind: 'global';
  readonly param: GlobalParam;
}
export interface DTypeValue {
  readonly kind: 'dtype';
  readonly dtype: DType;
}
export interface LayoutValue {
  readonly kind: 'layout';
  readonly layout: Layout;
}
export interface FnValue {
  readonly kind: 'fn';
  readonly fn: DeviceFn;
}
export interface ArrayValue {
  readonly kind: 'array';
  readonly items: readonly Value[];
  readonly spans: readonly Span[];
}
export interface ObjectValue {
  readonly kind: 'object';
  readonly props: ReadonlyMap<string, { readonly value: Value; readonly span: Span; readonly keySpan: Span }>;
}
/** A builtin function or namespace named by an identifier (only meaningful when called/accessed). */
export interface BuiltinValue {
  readonly kind: 'builtin';
  readonly name: string;
}
/** A method looked up on a value, waiting for its call. */
export interface MethodValue {
  readonly kind: 'method';
  readonly receiver: Value;
  readonly name: string;
}
export interface VoidValue {
  readonly kind: 'void';
}
/** An expression that already produced a diagnostic: everything built on it stays quiet. */
export interface ErrorValue {
  readonly kind: 'error';
}

export type Value =
  | ConstValue
  | ScalarValue
  | TileValue
  | SharedValue
  | GlobalValue
  | DTypeValue
  | LayoutValue
  | FnValue
  | ArrayValue
  | ObjectValue
  | BuiltinValue
  | MethodValue
  | VoidValue
  | ErrorValue;

export const ERROR: ErrorValue = { kind: 'error' };
export const VOID: VoidValue = { kind: 'void' };

/** How a value is named in messages: "an f32[8, 256] tile", "the i32 scalar", "the number 3". */
export function describe(v: Value): string {
  switch (v.kind) {
    case 'const':
      return v.dtype.kind === 'bool'
        ? `the boolean ${v.value ? 'true' : 'false'}`
        : `the number ${showNumber(v.value, v.dtype)}`;
    case 'scalar':
      return `${article(v.expr.dtype.name)} ${v.expr.dtype.name} scalar`;
    case 'tile':
      return `${article(v.tile.type.dtype.name)} ${v.tile.type.dtype.name}[${v.tile.type.shape.join(', ')}] tile`;
    case 'shared':
      return `a shared ${v.tile.type.dtype.name}[${v.tile.type.shape.join(', ')}] tile`;
    case 'global':
      return `global tensor '${v.param.name}'`;
    case 'dtype':
      return `the dtype ${v.dtype.name}`;
    case 'layout':
      return `the layout ${v.layout.toString()}`;
    case 'fn':
      return `device function '${v.fn.signature?.name}'`;
    case 'array':
      return `an array of ${v.items.length}`;
    case 'object':
      return 'an options object';
    case 'builtin':
      return `builtin '${v.name}'`;
    case 'method':
      return `method '${v.name}'`;
    case 'void':
      return 'nothing (a statement call)';
    case 'error':
      return 'an invalid value';
  }
}

/**
 * A const as written: f32 literals are stored rounded (0.64 is 0.6399999856948853), so print the
 * shortest decimal that rounds to the same f32 (integers print exactly), and mark integral floats
 * (`1e9` is 1000000000.0: not an integer literal).
 */
export function showNumber(value: number, dtype: DType): string {
  if (dtype.kind !== 'float' || !Number.isFinite(value)) return String(value);
  let text = String(value);
  if (
    dtype.name === 'f32' &&
    Math.fround(value) === value &&
    !(Number.isInteger(value) && Math.abs(value) < 1e21)
  ) {
    for (let p = 1; p <= 9; p++) {
      const short = Number(value.toPrecision(p));
      if (Math.fround(short) === value) {
        text = String(short);
        break;
      }
    }
  }
  return /[.e]/.test(text) ? text : `${text}.0`;
}

/** "an" before dtype names read with a vowel sound: an f32, an i8, an u4 is read "a u4" though. */
export function article(name: string): string {
  return /^[fi]/.test(name) ? 'an' : 'a';
}
