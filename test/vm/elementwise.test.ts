// Elementwise semantics: integers against BigInt arithmetic (an independent exact model),
// floats against hand-checked values.
import { describe, expect, it } from 'vitest';
import {
  ALL_DTYPES,
  bf16,
  bool,
  type DType,
  f16,
  f32,
  type IntDType,
  i4,
  i8,
  i32,
  u4,
  u8,
  u32,
} from '../../dsl/dtype.js';
import { applyBinary, applyUnary } from '../../dsl/interp/elementwise.js';
import { erf, roundHalfEven } from '../../dsl/interp/math.js';
import type { BinaryOp } from '../../dsl/ir/ops.js';
import { randomInt, rng } from '../helpers/random.js';

const INT_TYPES = ALL_DTYPES.filter((d): d is IntDType => d.kind === 'int');

function bigWrap(d: IntDType, x: bigint): number {
  return Number(d.signed ? BigInt.asIntN(d.bits, x) : BigInt.asUintN(d.bits, x));
}

/** The documented integer semantics, written with BigInt. */
function bigRef(op: BinaryOp, d: IntDType, a: number, b: number): number {
  const A = BigInt(a);
  const B = BigInt(b);
  const amount = BigInt(((b % d.bits) + d.bits) % d.bits);
  switch (op) {
    case 'add':
      return bigWrap(d, A + B);
    case 'sub':
      return bigWrap(d, A - B);
    case 'mul':
      return bigWrap(d, A * B);
    case 'div':
      return B === 0n ? a : bigWrap(d, A / B); // BigInt division truncates toward zero
    case 'mod':
      return B === 0n ? 0 : bigWrap(d, A % B);
    case 'and':
      return bigWrap(d, A & B);
    case 'or':
      return bigWrap(d, A | B);
    case 'xor':
      return bigWrap(d, A ^ B);
    case 'shl':
      return bigWrap(d, A << amount);
    case 'shr':
      return bigWrap(d, A >> amount); // A is the value: arithmetic for signed, logical for unsigned
    case 'min':
      return Math.min(a, b);
    case 'max':
      return Math.max(a, b);
    case 'lt':
      return a < b ? 1 : 0;
    case 'eq':
      return a === b ? 1 : 0;
    default:
      throw new Error(`no reference for ${op}`);
  }
}

describe('integer ops match exact BigInt arithmetic for every integer type', () => {
  const ops: BinaryOp[] = [
    'add',
    'sub',
    'mul',
    'div',
    'mod',
    'and',
    'or',
    'xor',
    'shl',
    'shr',
    'min',
    'max',
    'lt',
    'eq',
  ];
  for (const d of INT_TYPES) {
    it(d.name, () => {
      const r = rng(d.bits * 100 + (d.signed ? 1 : 0));
      const pick = () => {
        const u = r();
        // Extremes and zero often, random values otherwise.
        if (u < 0.05) return d.min;
        if (u < 0.1) return d.max;
        if (u < 0.15) return 0;
        return randomInt(r, d.min, d.max);
      };
      for (let i = 0; i < 3000; i++) {
        const a = pick();
        const b = pick();
        for (const op of ops) {
          const got = applyBinary(op, d, a, b);
          const want = bigRef(op, d, a, b);
          if (got !== want) throw new Error(`${d.name} ${op}(${a}, ${b}) = ${got}, expected ${want}`);
        }
        expect(applyUnary('neg', d, a)).toBe(bigWrap(d, -BigInt(a)));
        expect(applyUnary('not', d, a)).toBe(bigWrap(d, ~BigInt(a)));
        expect(applyUnary('abs', d, a)).toBe(bigWrap(d, BigInt(Math.abs(a))));
      }
    });
  }

  it('documented corner cases', () => {
    expect(applyBinary('add', i4, 7, 1)).toBe(-8);
    expect(applyBinary('add', u4, 15, 1)).toBe(0);
    expect(applyBinary('sub', u8, 3, 5)).toBe(254);
    expect(applyBinary('mul', i32, 65536, 65536)).toBe(0);
    expect(applyBinary('mul', u32, 0xffffffff, 0xffffffff)).toBe(1);
    expect(applyBinary('div', i32, -7, 2)).toBe(-3);
    expect(applyBinary('div', i32, 9, 0)).toBe(9);
    expect(applyBinary('div', i32, -(2 ** 31), -1)).toBe(-(2 ** 31));
    expect(applyBinary('mod', i32, -7, 3)).toBe(-1);
    expect(applyBinary('mod', u8, 9, 0)).toBe(0);
    expect(applyBinary('shl', u8, 1, 9)).toBe(2);
    expect(applyBinary('shr', i8, -128, 1)).toBe(-64);
    expect(applyBinary('shr', u8, 200, 3)).toBe(25);
    expect(applyBinary('cdiv', i32, 10, 4)).toBe(3);
    expect(applyUnary('not', i4, 5)).toBe(-6);
    expect(applyUnary('neg', u4, 1)).toBe(15);
    expect(applyUnary('abs', i8, -128)).toBe(-128);
  });
});

describe('float ops round once to the tile dtype', () => {
  it('f32 addition rounds ties to even', () => {
    expect(applyBinary('add', f32, 1, 2 ** -24)).toBe(1);
    expect(applyBinary('add', f32, 1 + 2 ** -23, 2 ** -24)).toBe(1 + 2 ** -22);
    expect(applyBinary('mul', f32, 3, 1 / 3)).toBe(Math.fround(3 * Math.fround(1 / 3)));
  });
  it('f16 and bf16 arithmetic rounds to the narrow format', () => {
    expect(applyBinary('add', f16, 2048, 1)).toBe(2048);
    expect(applyBinary('add', f16, 2048, 3)).toBe(2052);
    expect(applyBinary('mul', f16, 300, 300)).toBe(Number.POSITIVE_INFINITY);
    expect(applyBinary('add', bf16, 256, 1)).toBe(256);
    expect(applyBinary('div', f32, 1, 0)).toBe(Number.POSITIVE_INFINITY);
  });
  it('comparisons give bool 0/1 and NaN compares unequal', () => {
    expect(applyBinary('lt', f32, 1, 2)).toBe(1);
    expect(applyBinary('ge', f32, 1, 2)).toBe(0);
    expect(applyBinary('eq', f32, Number.NaN, Number.NaN)).toBe(0);
    expect(applyBinary('ne', f32, Number.NaN, Number.NaN)).toBe(1);
    expect(applyBinary('min', f32, Number.NaN, 1)).toBeNaN();
  });
  it('bool ops are logical', () => {
    expect(applyBinary('and', bool, 1, 0)).toBe(0);
    expect(applyBinary('or', bool, 1, 0)).toBe(1);
    expect(applyBinary('xor', bool, 1, 1)).toBe(0);
    expect(applyUnary('not', bool, 0)).toBe(1);
  });
  it('round is to nearest, ties to even', () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, 2.4, -2.6].map(roundHalfEven)).toEqual([0, 2, 2, -0, -2, 2, -3]);
    expect(Object.is(roundHalfEven(-0.4), -0)).toBe(true);
    expect(applyUnary('round', f32, 3.5)).toBe(4);
  });
  it('erf matches reference values to double precision', () => {
    const table: [number, number][] = [
      [0.1, 0.1124629160182849],
      [0.5, 0.5204998778130465],
      [1, 0.8427007929497149],
      [2, 0.9953222650189527],
      [3, 0.9999779095030014],
      [-1.5, -0.9661051464753108],
      [4.5, 0.9999999998033839],
    ];
    for (const [x, want] of table) expect(Math.abs(erf(x) - want)).toBeLessThan(2e-15);
    expect(applyUnary('erf', f32, 0.5)).toBe(Math.fround(0.5204998778130465));
  });
  it('transcendental ops on every float type give a value of that type', () => {
    const floats = ALL_DTYPES.filter((d): d is Extract<DType, { kind: 'float' }> => d.kind === 'float');
    for (const d of floats) {
      for (const op of ['exp', 'tanh', 'sqrt', 'erf', 'log'] as const) {
        const y = applyUnary(op, d, 1.5);
        const again = applyUnary('abs', d, y); // abs of a representable value is exact
        expect(again).toBe(Math.abs(y));
      }
    }
  });
});
