// Symbolic tensor dims written as text in a signature: 'K', 'K / 128', 'cdiv(K, 32)', 'N * 2 + 1'.
// Integer arithmetic only; division truncates (dims are non-negative, so it floors).
import { i32 } from '../dtype.js';
import { VmError } from './errors.js';
import type { BinaryOp } from './ops.js';
import { binary, constant, type ScalarExpr, scalarVar } from './scalar.js';

const FUNCTIONS: Record<string, BinaryOp> = { cdiv: 'cdiv', min: 'min', max: 'max' };
const INFIX: Record<string, BinaryOp> = { '+': 'add', '-': 'sub', '*': 'mul', '/': 'div', '%': 'mod' };

export function parseShapeExpr(text: string | number): ScalarExpr {
  if (typeof text === 'number') {
    if (!Number.isInteger(text) || text < 0)
      throw new VmError(`a tensor dim of ${text} must be a non-negative integer`);
    return constant(text, i32);
  }
  const tokens = text.match(/\s*([A-Za-z_$][\w$]*|\d+|[-+*/%(),]|\S)/g)?.map((t) => t.trim()) ?? [];
  let pos = 0;
  const fail = (why: string): never => {
    throw new VmError(`shape '${text}': ${why}; write dims like 'K', 'K / 128' or 'cdiv(K, 32)'`);
  };
  const peek = (): string | undefined => tokens[pos];
  const expect = (t: string): void => {
    if (tokens[pos] !== t) fail(`expected '${t}' at '${tokens[pos] ?? 'end'}'`);
    pos++;
  };
  const factor = (): ScalarExpr => {
    const t = tokens[pos++];
    if (t === undefined) return fail('unexpected end');
    if (/^\d+$/.test(t)) return constant(Number(t), i32);
    if (t === '(') {
      const e = sum();
      expect(')');
      return e;
    }
    if (/^[A-Za-z_$]/.test(t)) {
      if (peek() === '(') {
        const op =
          FUNCTIONS[t] ?? fail(`unknown function '${t}' (known: ${Object.keys(FUNCTIONS).join(', ')})`);
        expect('(');
        const a = sum();
        expect(',');
        const b = sum();
        expect(')');
        return binary(op, a, b);
      }
      return scalarVar(t, i32);
    }
    return fail(`unexpected '${t}'`);
  };
  const product = (): ScalarExpr => {
    let e = factor();
    while (peek() === '*' || peek() === '/' || peek() === '%') e = binary(INFIX[tokens[pos++]], e, factor());
    return e;
  };
  const sum = (): ScalarExpr => {
    let e = product();
    while (peek() === '+' || peek() === '-') e = binary(INFIX[tokens[pos++]], e, product());
    return e;
  };
  const e = sum();
  if (pos !== tokens.length) fail(`unexpected '${tokens[pos]}'`);
  return e;
}

/** Evaluates an integer dim expression with every symbol bound; undefined if one is unbound. */
export function evalShapeExpr(e: ScalarExpr, env: ReadonlyMap<string, number>): number | undefined {
  switch (e.kind) {
    case 'const':
      return e.value;
    case 'var':
      return env.get(e.name);
    case 'binary': {
      const a = evalShapeExpr(e.a, env);
      const b = evalShapeExpr(e.b, env);
      if (a === undefined || b === undefined) return undefined;
      switch (e.op) {
        case 'add':
          return a + b;
        case 'sub':
          return a - b;
        case 'mul':
          return a * b;
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
        default:
          return undefined;
      }
    }
    default:
      return undefined;
  }
}
