// Malformed programs and launches are rejected with errors that name the instruction or param
// and the mismatch.
import { describe, expect, it } from 'vitest';
import { bool, type DType, f16, f32, i32, u4, u8 } from '../../dsl/dtype.js';
import { interpret } from '../../dsl/interp/interpret.js';
import { ProgramBuilder } from '../../dsl/ir/builder.js';
import { LaunchError, VmError } from '../../dsl/ir/errors.js';
import type { Program, Stmt, TileVar } from '../../dsl/ir/program.js';
import { binary, constant } from '../../dsl/ir/scalar.js';
import { parseShapeExpr } from '../../dsl/ir/shape-expr.js';
import { validateProgram } from '../../dsl/ir/validate.js';
import { spatial } from '../../dsl/layout.js';
import { Tensor } from '../../dsl/tensor.js';

function base(): ProgramBuilder {
  const b = new ProgramBuilder('k');
  b.global('x', f32, ['N']);
  b.global('y', f32, ['N'], 'write');
  return b;
}

function withBody(p: Program, body: Stmt[]): Program {
  return { ...p, body };
}

const tile = (
  id: number,
  dtype: DType = f32,
  shape = [4],
  space: 'register' | 'shared' = 'register',
): TileVar => ({
  id,
  name: `t${id}`,
  type: { dtype, shape, space },
});

describe('the builder rejects ill-typed instructions as it goes', () => {
  it('shapes that do not broadcast', () => {
    const b = base();
    const t = b.load('x', [0], [4]);
    expect(() => b.add(t, b.load('x', [0], [3]))).toThrow(/\[4\] and \[3\] do not broadcast/);
  });
  it('dot with mismatched inner dims', () => {
    const b = base();
    const a = b.zeros(f32, [2, 3]);
    expect(() => b.dot(a, b.zeros(f32, [4, 5]), b.zeros(f32, [2, 5]))).toThrow(/inner dims differ/);
  });
  it('a view that does not divide the row', () => {
    const b = base();
    expect(() => b.view(b.zeros(u8, [3]), f32)).toThrow(/24 bits, not a whole number of f32/);
  });
  it('a load from an undeclared param names the declared ones', () => {
    expect(() => base().load('z', [0], [4])).toThrow(/'z' is not a global param \(declared: x, y\)/);
  });
  it('non-positive tile dims', () => {
    expect(() => base().zeros(f32, [4, 0])).toThrow(/tile dim 1 is 0/);
  });
});

describe('the validator', () => {
  const good = (() => {
    const b = base();
    b.store('y', [0], b.load('x', [0], [4]));
    return b.build();
  })();

  it('accepts a well-formed program', () => {
    expect(() => validateProgram(good)).not.toThrow();
  });
  it('rejects a store to a read-only param', () => {
    const b = base();
    const t = b.load('x', [0], [4]);
    b.store('x', [0], t);
    expect(() => b.build()).toThrow(/param 'x' is read-only; declare it 'write' or 'readwrite'/);
  });
  it('rejects a load from a write-only param', () => {
    const b = base();
    b.load('y', [0], [4]);
    expect(() => b.build()).toThrow(/param 'y' is write-only/);
  });
  it('quotes the instruction at fault', () => {
    const b = base();
    b.store('y', [0], b.load('x', [0], [4]));
    const p = b.build();
    const t = tile(99);
    const bad = withBody(p, [{ op: 'store_global', param: 'y', offsets: [constant(0)], src: t }]);
    expect(() => validateProgram(bad)).toThrow(
      /in `store y\[0\] <- %t99.99`: %t99.99 is used before it is defined/,
    );
  });
  it('rejects a dtype mismatch in a binary op', () => {
    const a = tile(1);
    const c = tile(2, f16);
    const body: Stmt[] = [
      { op: 'full', dst: a, value: constant(1) },
      { op: 'full', dst: c, value: constant(1) },
      { op: 'binary', fn: 'add', dst: tile(3), a, b: c },
    ];
    expect(() => validateProgram(withBody(good, body))).toThrow(
      /%t1.1 is f32 but %t2.2 is f16; cast one first/,
    );
  });
  it('rejects float-only math on integers and bitwise ops on floats', () => {
    const a = tile(1, i32);
    expect(() =>
      validateProgram(
        withBody(good, [
          { op: 'full', dst: a, value: constant(1) },
          { op: 'unary', fn: 'exp', dst: tile(2, i32), src: a },
        ]),
      ),
    ).toThrow(/exp needs a float tile, not i32/);
    const f = tile(3);
    expect(() =>
      validateProgram(
        withBody(good, [
          { op: 'full', dst: f, value: constant(1) },
          { op: 'binary', fn: 'xor', dst: tile(4), a: f, b: f },
        ]),
      ),
    ).toThrow(/xor needs integer operands, not f32/);
  });
  it('rejects tile ops on shared tiles', () => {
    const s = tile(1, f32, [4], 'shared');
    expect(() =>
      validateProgram(
        withBody(good, [
          { op: 'alloc_shared', dst: s },
          { op: 'unary', fn: 'neg', dst: tile(2), src: s },
        ]),
      ),
    ).toThrow(/is a shared tile; this operand must be a register tile \(load_shared it first\)/);
  });
  it('rejects a comparison result that is not bool, and a non-bool mask', () => {
    const a = tile(1);
    expect(() =>
      validateProgram(
        withBody(good, [
          { op: 'full', dst: a, value: constant(1) },
          { op: 'binary', fn: 'lt', dst: tile(2), a, b: a },
        ]),
      ),
    ).toThrow(/must be bool, not f32/);
    const m = tile(3, u8);
    expect(() =>
      validateProgram(
        withBody(good, [
          { op: 'full', dst: m, value: constant(1) },
          { op: 'load_global', dst: tile(4), param: 'x', offsets: [constant(0)], mask: m },
        ]),
      ),
    ).toThrow(/mask %t3.3 must be bool, not u8/);
  });
  it('rejects tiles used outside the block that defines them', () => {
    const b = base();
    let inner: TileVar | undefined;
    b.for('i', 0, 4, 1, () => {
      inner = b.load('x', [0], [4]);
    });
    b.store('y', [0], inner!);
    expect(() => b.build()).toThrow(/used before it is defined \(or outside the block that defines it\)/);
  });
  it('rejects unknown scalars, a wrong offset count, a non-integer offset', () => {
    const b = base();
    b.load('x', [b.sym('M')], [4]);
    expect(() => b.build()).toThrow(
      /'M' is not a shape symbol, scalar param, loop variable or scalar in scope/,
    );
    const b2 = base();
    b2.load('x', [0, 0], [4]);
    expect(() => b2.build()).toThrow(/2 offsets for param 'x' of rank 1/);
    const b3 = base();
    b3.load('x', [constant(0.5)], [4]);
    expect(() => b3.build()).toThrow(/offset 0 \(0.5\) must be an integer, not f32/);
  });
  it('rejects a layout that does not match the tile or the thread count', () => {
    const b = base();
    b.threads(32);
    b.load('x', [0], [4], { layout: spatial(8) });
    expect(() => b.build()).toThrow(/covers \[8\], but %x.0 is \[4\]/);
    const b2 = base();
    b2.threads(32);
    b2.load('x', [0], [4], { layout: spatial(4) });
    expect(() => b2.build()).toThrow(/spans 4 threads, but the program has threads\(32\)/);
  });
  it('rejects bad program headers', () => {
    const b = base();
    b.threads(0);
    expect(() => b.build()).toThrow(/threads\(0\) must be an integer in 1..1024/);
    const b2 = new ProgramBuilder('k');
    b2.global('s', f16, ['K / 128']);
    expect(() => b2.build()).toThrow(/shape symbol 'K' never appears alone as a dim/);
    const b3 = base();
    b3.global('x', u4, ['N']);
    expect(() => b3.build()).toThrow(/param 'x' is declared twice/);
  });
  it('rejects a where with a non-bool condition and a loop with a non-positive constant step', () => {
    const b = base();
    const t = b.load('x', [0], [4]);
    expect(() => b.where(t, t, t)).not.toThrow();
    expect(() => b.build()).toThrow(/condition %x.0 must be bool, not f32/);
    const b2 = base();
    b2.for('i', 0, 4, 0, () => {});
    expect(() => b2.build()).toThrow(/loop step 0 must be positive/);
  });
});

describe('launch arguments', () => {
  function gemvLike(): Program {
    const b = new ProgramBuilder('gemv');
    b.global('x', f32, ['K']);
    b.global('w', u4, ['N', 'K']);
    b.global('s', f16, ['N', 'K / 128']);
    b.global('y', f32, ['N'], 'write');
    b.scalar('alpha', f32);
    b.grid(b.sym('N'));
    return b.build();
  }
  const args = () => ({
    x: Tensor.zeros(f32, [256]),
    w: Tensor.zeros(u4, [3, 256]),
    s: Tensor.zeros(f16, [3, 2]),
    y: Tensor.zeros(f32, [3]),
    alpha: 0.5,
  });
  it('accepts matching arguments', () => {
    expect(() => interpret(gemvLike(), args())).not.toThrow();
  });
  it('names a missing argument with its declaration', () => {
    const { x: _x, ...rest } = args();
    expect(() => interpret(gemvLike(), rest)).toThrow(
      new LaunchError("launch of 'gemv': missing argument 'x' (x: global f32[K])"),
    );
  });
  it('names an extra argument and the real params', () => {
    expect(() => interpret(gemvLike(), { ...args(), q: 1 })).toThrow(
      /unexpected argument 'q'; the params are x, w, s, y, alpha/,
    );
  });
  it('names a dtype mismatch', () => {
    expect(() => interpret(gemvLike(), { ...args(), w: Tensor.zeros(u8, [3, 256]) })).toThrow(
      /argument 'w' is u8, but the param is declared u4/,
    );
  });
  it('names a shape-symbol conflict with both sources', () => {
    expect(() => interpret(gemvLike(), { ...args(), x: Tensor.zeros(f32, [128]) })).toThrow(
      /shape symbol K is 128 from x.shape\[0\] but 256 from w.shape\[1\]/,
    );
  });
  it('names a derived dim that does not match its expression', () => {
    expect(() => interpret(gemvLike(), { ...args(), s: Tensor.zeros(f16, [3, 3]) })).toThrow(
      /argument 's' has shape \[3, 3\], but dim 1 should be K \/ 128 = 2 \(K = 256 from x.shape\[0\], N = 3 from w.shape\[0\]\)/,
    );
  });
  it('names a rank mismatch and a bad scalar', () => {
    expect(() => interpret(gemvLike(), { ...args(), y: Tensor.zeros(f32, [3, 1]) })).toThrow(
      /'y' has shape \[3, 1\] \(rank 2\)/,
    );
    expect(() => interpret(gemvLike(), { ...args(), alpha: Tensor.zeros(f32, [1]) })).toThrow(
      /'alpha' must be a number/,
    );
    expect(() => interpret(gemvLike(), { ...args(), x: 3 })).toThrow(/'x' must be a tensor/);
  });
  it('errors are LaunchError / VmError instances', () => {
    try {
      interpret(gemvLike(), { ...args(), q: 1 });
    } catch (e) {
      expect(e).toBeInstanceOf(LaunchError);
    }
    expect(() => parseShapeExpr('K +')).toThrow(VmError);
  });
});

describe('shape expressions', () => {
  it('parse arithmetic and functions', () => {
    expect(() => parseShapeExpr('cdiv(K, 32) * 2 + (N % 3)')).not.toThrow();
    expect(() => parseShapeExpr('foo(K, 2)')).toThrow(/unknown function 'foo'/);
    expect(() => parseShapeExpr('K $ 2')).toThrow(/unexpected/);
    expect(() => parseShapeExpr(-1)).toThrow(/non-negative integer/);
  });
  it('a scalar param may size the grid', () => {
    const b = base();
    const n = b.scalar('blocks', i32);
    b.grid(binary('add', n, 1));
    const x = Tensor.fromArray(f32, [4], [1, 2, 3, 4]);
    const y = Tensor.zeros(f32, [4]);
    b.store('y', [0], b.add(b.load('x', [0], [4]), 1));
    interpret(b.build(), { x, y, blocks: 2 });
    expect(y.toArray()).toEqual([2, 3, 4, 5]);
  });
});

describe('bool tiles', () => {
  it('comparisons produce bool and where selects', () => {
    const b = base();
    const t = b.load('x', [0], [4]);
    b.store('y', [0], b.where(b.binary('gt', t, 0), t, b.unary('neg', t)));
    const x = Tensor.fromArray(f32, [4], [-1.5, 2, -3, 0.25]);
    const y = Tensor.zeros(f32, [4]);
    interpret(b.build(), { x, y });
    expect(y.toArray()).toEqual([1.5, 2, 3, 0.25]);
    expect(bool.bits).toBe(1);
  });
});

describe('scalar expressions follow the tile op rules', () => {
  it('rejects ordered comparisons of bool scalars', () => {
    const b = base();
    const flag = b.scalar('flag', bool);
    b.if(binary('gt', flag, constant(1, bool)), () => b.sync());
    expect(() => b.build()).toThrow(/gt is not defined on bool/);
  });
});
