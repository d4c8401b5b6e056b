// The builtin functions, methods and properties of the kernel language. Each checks its arguments
// (reporting with the argument's span) and emits VM instructions through the checker's builder.
import { bool, type DType, f32, i32 } from '../dtype.js';
import { type ReduceOp, UNARY_OPS, type UnaryOp } from '../ir/ops.js';
import type { TileVar } from '../ir/program.js';
import { blockIdx, constant, type ScalarExpr, scalarVars } from '../ir/scalar.js';
import { broadcastsTo, showShape } from '../ir/shapes.js';
import type { Layout } from '../layout.js';
import type * as ast from './ast.js';
import type { Checker } from './checker.js';
import { describe, ERROR, type MethodValue, type ObjectValue, type Value, VOID } from './values.js';

export interface CallSite {
  readonly args: readonly Value[];
  readonly spans: readonly ast.Span[];
  readonly span: ast.Span;
  readonly calleeSpan: ast.Span;
}

type Builtin = (c: Checker, site: CallSite) => Value;

// Every unary VM op is a builtin of the same name, except `not`, which is spelled `~`.
const UNARY_BUILTINS: readonly UnaryOp[] = UNARY_OPS.filter((op) => op !== 'not');

// ---- argument helpers ----

function arity(c: Checker, site: CallSite, name: string, min: number, max: number, usage: string): boolean {
  const n = site.args.length;
  if (n >= min && n <= max) return true;
  const count =
    min === max ? `${min}` : max === Number.POSITIVE_INFINITY ? `at least ${min}` : `${min} to ${max}`;
  c.error(
    'TV2003',
    site.span,
    `${name} takes ${count} argument${max === 1 ? '' : 's'}, got ${n}`,
    `call it as ${usage}`,
  );
  return false;
}

function anyError(site: CallSite): boolean {
  return site.args.some((a) => a.kind === 'error');
}

function constInt(c: Checker, v: Value, span: ast.Span, what: string): number | undefined {
  if (v.kind === 'error') return undefined;
  if (v.kind === 'const' && v.dtype.kind === 'int') return v.value;
  if (v.kind === 'const' && Number.isInteger(v.value) && v.weak) return v.value;
  if (v.kind === 'scalar' || v.kind === 'tile') {
    c.error(
      'TV2007',
      span,
      `${what} must be known at compile time, but it is ${describe(v)}`,
      'use numbers and consts here',
    );
    return undefined;
  }
  c.error('TV2004', span, `${what} must be an integer, not ${describe(v)}`);
  return undefined;
}

/** A tile shape: an array of compile-time positive integers. */
function shapeArg(c: Checker, v: Value, span: ast.Span): number[] | undefined {
  if (v.kind === 'error') return undefined;
  if (v.kind !== 'array') {
    c.error('TV2004', span, `a tile shape is an array of dims like [BM, BN], not ${describe(v)}`);
    return undefined;
  }
  const dims: number[] = [];
  for (const [i, item] of v.items.entries()) {
    if (item.kind === 'error') return undefined;
    if (item.kind === 'scalar') {
      c.error(
        'TV2007',
        v.spans[i],
        `tile dim ${i} is ${describe(item)}; tile shapes must be compile-time constants`,
        'use consts (e.g. BN) for tile sizes; mask the edges instead of sizing tiles at run time',
      );
      return undefined;
    }
    if (item.kind !== 'const') {
      c.error('TV2004', v.spans[i], `tile dim ${i} must be a number, not ${describe(item)}`);
      return undefined;
    }
    if (!Number.isInteger(item.value) || item.value < 1) {
      c.error('TV2008', v.spans[i], `tile dim ${i} is ${item.value}; tile dims must be positive integers`);
      return undefined;
    }
    dims.push(item.value);
  }
  return dims;
}

function dtypeArg(c: Checker, v: Value, span: ast.Span): DType | undefined {
  if (v.kind === 'error') return undefined;
  if (v.kind === 'dtype') return v.dtype;
  c.error('TV2024', span, `expected a dtype such as f32 or u4, found ${describe(v)}`);
  return undefined;
}

function offsetsArg(c: Checker, v: Value, span: ast.Span): ScalarExpr[] | undefined {
  if (v.kind === 'error') return undefined;
  if (v.kind !== 'array') {
    c.error('TV2004', span, `offsets are an array with one index per tensor dim, not ${describe(v)}`);
    return undefined;
  }
  const out: ScalarExpr[] = [];
  for (const [i, item] of v.items.entries()) {
    if (item.kind === 'error') return undefined;
    const dtype = item.kind === 'const' ? item.dtype : item.kind === 'scalar' ? item.expr.dtype : undefined;
    if (dtype?.kind !== 'int' || (item.kind === 'const' && !Number.isInteger(item.value))) {
      c.error('TV2004', v.spans[i], `offset ${i} must be an integer scalar, not ${describe(item)}`);
      return undefined;
    }
    const e = c.asScalar(item, i32, v.spans[i]);
    if (!e) return undefined;
    out.push(e);
  }
  return out;
}

function tileArg(c: Checker, v: Value, span: ast.Span, what: string): TileVar | undefined {
  if (v.kind === 'tile') return v.tile;
  if (v.kind === 'shared') c.sharedMisuse(span);
  else if (v.kind !== 'error') c.error('TV2004', span, `${what} must be a tile, not ${describe(v)}`);
  return undefined;
}

function optionsArg(
  c: Checker,
  v: Value | undefined,
  span: ast.Span | undefined,
  allowed: readonly string[],
): ObjectValue['props'] | undefined {
  if (!v) return new Map();
  if (v.kind === 'error') return undefined;
  if (v.kind !== 'object' || !span) {
    c.error(
      'TV2016',
      span ?? { start: 0, end: 0 },
      `expected an options object like { ${allowed.map((k) => `${k}: …`).join(', ')} }, found ${describe(v)}`,
    );
    return undefined;
  }
  for (const [key, p] of v.props) {
    if (!allowed.includes(key)) {
      c.error('TV2016', p.keySpan, `unknown option '${key}'`, `the options here are: ${allowed.join(', ')}`);
      return undefined;
    }
  }
  // A value that already failed was reported: "option 'layout' must be a layout" would repeat it.
  for (const p of v.props.values()) if (p.value.kind === 'error') return undefined;
  return v.props;
}

function boolOption(c: Checker, props: ObjectValue['props'], key: string): boolean | undefined {
  const p = props.get(key);
  if (!p) return false;
  if (p.value.kind === 'const' && p.value.dtype === bool) return p.value.value !== 0;
  if (p.value.kind !== 'error')
    c.error('TV2016', p.span, `option '${key}' must be true or false, not ${describe(p.value)}`);
  return undefined;
}

function axisArg(
  c: Checker,
  v: Value,
  span: ast.Span,
  rank: number,
  what = `a rank-${rank} tile`,
): number | undefined {
  const axis = constInt(c, v, span, 'the axis');
  if (axis === undefined) return undefined;
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) {
    c.error(
      'TV2009',
      span,
      `axis ${axis} is out of range for ${what} (use 0..${rank - 1}, or -1 for the last)`,
    );
    return undefined;
  }
  return a;
}

/** Numbers given either as separate args `(2, 3)` or as one array `([2, 3])`. */
function intList(c: Checker, site: CallSite, what: string): number[] | undefined {
  if (site.args.length === 1 && site.args[0].kind === 'array') {
    const arr = site.args[0];
    const out: number[] = [];
    for (const [i, item] of arr.items.entries()) {
      const n = constInt(c, item, arr.spans[i], what);
      if (n === undefined) return undefined;
      out.push(n);
    }
    return out;
  }
  const out: number[] = [];
  for (const [i, item] of site.args.entries()) {
    const n = constInt(c, item, site.spans[i], what);
    if (n === undefined) return undefined;
    out.push(n);
  }
  return out;
}

function tile(t: TileVar | undefined): Value {
  return t ? { kind: 'tile', tile: t } : ERROR;
}

const num = (value: number): Value => ({
  kind: 'const',
  value,
  dtype: Number.isInteger(value) ? i32 : f32,
  weak: true,
});

// ---- builtins ----

const grid: Builtin = (c, site) => {
  if (!arity(c, site, 'grid', 1, 3, 'grid(x, y?, z?)')) return VOID;
  if (c.depth > 0) {
    c.error('TV2021', site.span, 'grid() must be at the top level of the kernel, not inside a loop or if');
    return VOID;
  }
  if (c.gridSpan) {
    c.error('TV2021', site.span, 'grid() is given twice', 'give the grid once');
    return VOID;
  }
  const dims: ScalarExpr[] = [];
  for (const [i, v] of site.args.entries()) {
    if (v.kind === 'error') return VOID;
    const dtype = v.kind === 'const' ? v.dtype : v.kind === 'scalar' ? v.expr.dtype : undefined;
    if (dtype?.kind !== 'int') {
      c.error('TV2021', site.spans[i], `grid sizes must be integers, not ${describe(v)}`);
      return VOID;
    }
    const e = c.asScalar(v, i32, site.spans[i]) as ScalarExpr;
    const outside = [...scalarVars(e)].filter((n) => !c.launchNames.has(n));
    if (outside.length > 0 || JSON.stringify(e).includes('"blockIdx"')) {
      c.error(
        'TV2021',
        site.spans[i],
        `grid sizes may use only numbers, consts, shape symbols and scalar params; '${outside[0] ?? 'blockIdx'}' is known only inside a block`,
      );
      return VOID;
    }
    dims.push(e);
  }
  c.b.grid(...dims);
  c.gridSpan = site.span; // only an accepted grid() makes a second one an error
  return VOID;
};

const threads: Builtin = (c, site) => {
  if (!arity(c, site, 'threads', 1, 1, 'threads(n)')) return VOID;
  if (c.depth > 0) {
    c.error('TV2021', site.span, 'threads() must be at the top level of the kernel');
    return VOID;
  }
  if (c.threadsSpan) {
    c.error('TV2021', site.span, 'threads() is given twice');
    return VOID;
  }
  c.threadsSpan = site.span;
  const n = constInt(c, site.args[0], site.spans[0], 'the thread count');
  if (n === undefined) return VOID;
  if (n < 1 || n > 1024) {
    c.error('TV2025', site.spans[0], `threads(${n}): a block has 1 to 1024 threads`);
    return VOID;
  }
  const clash = c.layoutThreads.find((t) => t !== n);
  if (clash !== undefined) {
    c.error(
      'TV2021',
      site.spans[0],
      `threads(${n}) does not match a layout used before it, which spans ${clash} threads`,
      'give threads() first, with as many threads as the layouts span',
    );
    return VOID;
  }
  c.threadCount = n;
  c.b.threads(n);
  return VOID;
};

const load: Builtin = (c, site) => {
  if (!arity(c, site, 'load', 3, 4, 'load(tensor, [offsets], [shape], { other?, mask?, layout? })'))
    return ERROR;
  if (anyError(site)) return ERROR;
  const [tv, ov, sv, opts] = site.args;
  if (tv.kind !== 'global')
    return c.error(
      'TV2004',
      site.spans[0],
      `load reads a global tensor param, not ${describe(tv)}`,
      tv.kind === 'shared' ? 'read a shared tile with s.load()' : undefined,
    );
  const p = tv.param;
  if (p.access === 'write')
    return c.error(
      'TV2010',
      site.spans[0],
      `'${p.name}' is write-only`,
      `declare it global(${p.dtype.name}, [...], 'readwrite') to load from it`,
    );
  const offsets = offsetsArg(c, ov, site.spans[1]);
  const shape = shapeArg(c, sv, site.spans[2]);
  const props = optionsArg(c, opts, site.spans[3], ['other', 'mask', 'layout']);
  if (!offsets || !shape || !props) return ERROR;
  if (offsets.length !== p.shape.length) {
    return c.error(
      'TV2017',
      site.spans[1],
      `'${p.name}' has ${p.shape.length} dim${p.shape.length === 1 ? '' : 's'}, so load needs ${p.shape.length} offset${p.shape.length === 1 ? '' : 's'}, got ${offsets.length}`,
    );
  }
  if (shape.length > p.shape.length)
    return c.error(
      'TV2018',
      site.spans[2],
      `a rank-${shape.length} tile cannot be loaded from '${p.name}', which has rank ${p.shape.length}`,
    );
  let other: number | undefined;
  const o = props.get('other');
  if (o) {
    if (o.value.kind !== 'const')
      return c.error(
        'TV2016',
        o.span,
        `option 'other' must be a number known at compile time, not ${describe(o.value)}`,
      );
    other = o.value.value;
  }
  let mask: TileVar | undefined;
  const m = props.get('mask');
  if (m) {
    mask = tileArg(c, m.value, m.span, "option 'mask'");
    if (!mask) return ERROR;
    if (mask.type.dtype !== bool || showShape(mask.type.shape) !== showShape(shape)) {
      return c.error(
        'TV2016',
        m.span,
        `option 'mask' must be a bool${showShape(shape)} tile, not ${describe(m.value)}`,
      );
    }
  }
  let layout: Layout | undefined;
  const l = props.get('layout');
  if (l) {
    if (l.value.kind !== 'layout')
      return c.error('TV2016', l.span, `option 'layout' must be a layout, not ${describe(l.value)}`);
    layout = l.value.layout;
    if (showShape(layout.shape) !== showShape(shape)) {
      return c.error(
        'TV2016',
        l.span,
        `the layout ${layout.toString()} covers ${showShape(layout.shape)}, but the tile is ${showShape(shape)}`,
      );
    }
    if (layout.numThreads !== c.threadCount) {
      return c.error(
        'TV2016',
        l.span,
        `the layout ${layout.toString()} spans ${layout.numThreads} threads, but the kernel has ${c.threadsSpan ? '' : 'the default '}threads(${c.threadCount})`,
        c.threadsSpan ? undefined : `give threads(${layout.numThreads}) before the load`,
      );
    }
    c.layoutThreads.push(layout.numThreads);
  }
  return tile(
    c.emit(site.span, 'TV2018', () =>
      c.b.load(p.name, offsets, shape, {
        ...(other !== undefined ? { other } : {}),
        ...(mask ? { mask } : {}),
        ...(layout ? { layout } : {}),
      }),
    ),
  );
};

const store: Builtin = (c, site) => {
  if (!arity(c, site, 'store', 3, 4, 'store(tensor, [offsets], tile, { mask? })')) return VOID;
  if (anyError(site)) return VOID;
  const [tv, ov, vv, opts] = site.args;
  if (tv.kind !== 'global') {
    c.error(
      'TV2004',
      site.spans[0],
      `store writes a global tensor param, not ${describe(tv)}`,
      tv.kind === 'shared' ? 'write a shared tile with s.store(tile)' : undefined,
    );
    return VOID;
  }
  const p = tv.param;
  if (p.access === 'read') {
    c.error(
      'TV2010',
      site.spans[0],
      `'${p.name}' is read-only`,
      `declare it global(${p.dtype.name}, [...], 'write') to store to it`,
    );
    return VOID;
  }
  const offsets = offsetsArg(c, ov, site.spans[1]);
  const props = optionsArg(c, opts, site.spans[3], ['mask']);
  if (!offsets || !props) return VOID;
  if (offsets.length !== p.shape.length) {
    c.error(
      'TV2017',
      site.spans[1],
      `'${p.name}' has ${p.shape.length} dim${p.shape.length === 1 ? '' : 's'}, so store needs ${p.shape.length} offset${p.shape.length === 1 ? '' : 's'}, got ${offsets.length}`,
    );
    return VOID;
  }
  if (vv.kind === 'tile' && vv.tile.type.dtype !== p.dtype) {
    c.error(
      'TV2005',
      site.spans[2],
      `'${p.name}' holds ${p.dtype.name}, but the value is ${describe(vv)}`,
      `convert it: (...).to(${p.dtype.name})`,
    );
    return VOID;
  }
  if (vv.kind === 'const' && !vv.weak && vv.dtype !== p.dtype) {
    c.error('TV2005', site.spans[2], `'${p.name}' holds ${p.dtype.name}, but the value is ${vv.dtype.name}`);
    return VOID;
  }
  const value = c.asTile(vv, p.dtype, site.spans[2]);
  if (!value) return VOID;
  if (value.type.shape.length > p.shape.length) {
    c.error(
      'TV2018',
      site.spans[2],
      `a rank-${value.type.shape.length} tile cannot be stored to '${p.name}', which has rank ${p.shape.length}`,
    );
    return VOID;
  }
  let mask: TileVar | undefined;
  const m = props.get('mask');
  if (m) {
    mask = tileArg(c, m.value, m.span, "option 'mask'");
    if (!mask) return VOID;
    if (mask.type.dtype !== bool || showShape(mask.type.shape) !== showShape(value.type.shape)) {
      c.error(
        'TV2016',
        m.span,
        `option 'mask' must be a bool${showShape(value.type.shape)} tile, not ${describe(m.value)}`,
      );
      return VOID;
    }
  }
  c.emit(site.span, 'TV2018', () => c.b.store(p.name, offsets, value, mask ? { mask } : {}));
  return VOID;
};

function fullOf(name: string, fill?: number): Builtin {
  return (c, site) => {
    const usage = fill === undefined ? `${name}(dtype, [shape], value)` : `${name}(dtype, [shape])`;
    if (!arity(c, site, name, fill === undefined ? 3 : 2, fill === undefined ? 3 : 2, usage)) return ERROR;
    const dtype = dtypeArg(c, site.args[0], site.spans[0]);
    const shape = shapeArg(c, site.args[1], site.spans[1]);
    if (!dtype || !shape) return ERROR;
    const v = fill === undefined ? site.args[2] : num(fill);
    if (v.kind === 'error') return ERROR;
    if (v.kind !== 'const' && v.kind !== 'scalar')
      return c.error(
        'TV2004',
        site.spans[2],
        `the fill value must be a number or scalar, not ${describe(v)}`,
      );
    const value = c.asScalar(v, dtype, fill === undefined ? site.spans[2] : site.span);
    if (!value) return ERROR;
    return tile(c.emit(site.span, 'TV2018', () => c.b.full(dtype, shape, value, name)));
  };
}

const arange: Builtin = (c, site) => {
  if (!arity(c, site, 'arange', 1, 2, 'arange(n, start?)')) return ERROR;
  const n = constInt(c, site.args[0], site.spans[0], 'the length');
  if (n === undefined) return ERROR;
  if (n < 1) return c.error('TV2008', site.spans[0], `arange(${n}): the length must be positive`);
  let start: ScalarExpr = constant(0);
  if (site.args.length === 2) {
    const offs = offsetsArg(
      c,
      { kind: 'array', items: [site.args[1]], spans: [site.spans[1]] },
      site.spans[1],
    );
    if (!offs) return ERROR;
    start = offs[0];
  }
  return tile(c.emit(site.span, 'TV2018', () => c.b.arange(i32, n, start)));
};

const shared: Builtin = (c, site) => {
  if (!arity(c, site, 'shared', 2, 2, 'shared(dtype, [shape])')) return ERROR;
  const dtype = dtypeArg(c, site.args[0], site.spans[0]);
  const shape = shapeArg(c, site.args[1], site.spans[1]);
  if (!dtype || !shape) return ERROR;
  const t = c.emit(site.span, 'TV2018', () => c.b.shared(dtype, shape));
  return t ? { kind: 'shared', tile: t } : ERROR;
};

const sync: Builtin = (c, site) => {
  if (arity(c, site, 'sync', 0, 0, 'sync()')) c.b.sync();
  return VOID;
};

const dot: Builtin = (c, site) => {
  if (!arity(c, site, 'dot', 2, 3, 'dot(a, b, acc?)')) return ERROR;
  if (anyError(site)) return ERROR;
  const a = tileArg(c, site.args[0], site.spans[0], 'a');
  const b = tileArg(c, site.args[1], site.spans[1], 'b');
  if (!a || !b) return ERROR;
  if (a.type.dtype !== b.type.dtype) {
    return c.error(
      'TV2005',
      site.span,
      `dot operands must have one dtype: a is ${a.type.dtype.name}, b is ${b.type.dtype.name}`,
      'convert one with .to(dtype)',
    );
  }
  if (a.type.dtype === bool) return c.error('TV2014', site.span, 'dot is not defined on bool tiles');
  let acc: TileVar | undefined;
  if (site.args.length === 3) {
    acc = tileArg(c, site.args[2], site.spans[2], 'the accumulator');
    if (!acc) return ERROR;
  } else {
    const accType = a.type.dtype.kind === 'float' ? f32 : i32;
    const [m, n] = [a.type.shape[0] ?? 1, b.type.shape[1] ?? 1];
    acc = c.emit(site.span, 'TV2018', () => c.b.zeros(accType, [m, n], 'acc'));
    if (!acc) return ERROR;
  }
  const out = acc;
  return tile(c.emit(site.span, 'TV2018', () => c.b.dot(a, b, out)));
};

const where: Builtin = (c, site) => {
  if (!arity(c, site, 'where', 3, 3, 'where(cond, a, b)')) return ERROR;
  return c.where(site.args[0], site.args[1], site.args[2], site.span, site.spans[0]);
};

function elementwise2(name: string, op: 'max' | 'min' | 'pow' | 'cdiv'): Builtin {
  return (c, site) => {
    if (!arity(c, site, name, 2, 2, `${name}(a, b)`)) return ERROR;
    return c.binaryMath(op, site.args[0], site.args[1], site.span, name);
  };
}

function unaryBuiltin(op: UnaryOp): Builtin {
  return (c, site) => {
    if (!arity(c, site, op, 1, 1, `${op}(x)`)) return ERROR;
    return c.unaryMath(op as Parameters<Checker['unaryMath']>[0], site.args[0], site.span);
  };
}

/** A builtin defined by a formula over other ops, on consts, scalars and tiles alike. */
function composite(
  name: string,
  params: number,
  formula: (c: Checker, s: ast.Span, ...x: Value[]) => Value,
): Builtin {
  return (c, site) => {
    if (!arity(c, site, name, params, params, `${name}(${['x', 'lo', 'hi'].slice(0, params).join(', ')})`))
      return ERROR;
    if (anyError(site)) return ERROR;
    // Checked here, or the formula's inner ops would name themselves: "neg needs a number".
    for (const [i, a] of site.args.entries()) {
      if (a.kind === 'shared') return c.sharedMisuse(site.spans[i]);
      if (a.kind !== 'const' && a.kind !== 'scalar' && a.kind !== 'tile') {
        return c.error('TV2004', site.spans[i], `${name} needs numbers or tiles, not ${describe(a)}`);
      }
    }
    const x = site.args[0];
    const numeric = name === 'clamp' || name === 'relu';
    if (x.kind === 'tile' && x.tile.type.dtype.kind !== 'float' && !numeric) {
      return c.error(
        'TV2014',
        site.span,
        `${name} needs a float tile, not ${x.tile.type.dtype.name}`,
        'convert it first: .to(f32)',
      );
    }
    // Integer numbers and scalars are math on reals here: hardsigmoid(0) is 0.5, not 0.
    const args = numeric ? site.args : site.args.map((a) => toFloat(c, a, site.span));
    return formula(c, site.span, ...args);
  };
}

function toFloat(c: Checker, v: Value, span: ast.Span): Value {
  if (v.kind === 'const' && v.dtype.kind !== 'float')
    return { kind: 'const', value: v.value, dtype: f32, weak: v.weak };
  if (v.kind === 'scalar' && v.expr.dtype.kind !== 'float') {
    const e = c.asScalar(v, f32, span);
    return e ? { kind: 'scalar', expr: e } : ERROR;
  }
  return v;
}

const mul = (c: Checker, s: ast.Span, a: Value, b: Value) => c.binaryMath('mul', a, b, s);
const add = (c: Checker, s: ast.Span, a: Value, b: Value) => c.binaryMath('add', a, b, s);

const sigmoidOf = (c: Checker, s: ast.Span, x: Value) =>
  c.binaryMath('div', num(1), add(c, s, num(1), c.unaryMath('exp', c.unaryMath('neg', x, s), s)), s);

const BUILTINS: Record<string, Builtin> = {
  grid,
  threads,
  load,
  store,
  zeros: fullOf('zeros', 0),
  ones: fullOf('ones', 1),
  full: fullOf('full'),
  arange,
  shared,
  sync,
  dot,
  where,
  max: elementwise2('max', 'max'),
  min: elementwise2('min', 'min'),
  pow: elementwise2('pow', 'pow'),
  cdiv: elementwise2('cdiv', 'cdiv'),
  sum: (c, site) => freeReduce(c, site, 'sum'),
  mean: (c, site) => freeReduce(c, site, 'mean'),
  clamp: composite('clamp', 3, (c, s, x, lo, hi) =>
    c.binaryMath('min', c.binaryMath('max', x, lo, s), hi, s),
  ),
  relu: composite('relu', 1, (c, s, x) => c.binaryMath('max', x, num(0), s)),
  sigmoid: composite('sigmoid', 1, sigmoidOf),
  silu: composite('silu', 1, (c, s, x) => mul(c, s, x, sigmoidOf(c, s, x))),
  gelu: composite('gelu', 1, (c, s, x) =>
    mul(
      c,
      s,
      mul(c, s, num(0.5), x),
      add(c, s, num(1), c.unaryMath('erf', mul(c, s, x, num(Math.SQRT1_2)), s)),
    ),
  ),
  gelu_tanh: composite('gelu_tanh', 1, (c, s, x) => {
    const cube = mul(c, s, mul(c, s, x, x), x);
    const inner = mul(c, s, num(0.7978845608028654), add(c, s, x, mul(c, s, num(0.044715), cube)));
    return mul(c, s, mul(c, s, num(0.5), x), add(c, s, num(1), c.unaryMath('tanh', inner, s)));
  }),
  // As PyTorch computes it: min(max(x + 3, 0), 6) / 6.
  hardsigmoid: composite('hardsigmoid', 1, (c, s, x) =>
    c.binaryMath(
      'div',
      c.binaryMath('min', c.binaryMath('max', add(c, s, x, num(3)), num(0), s), num(6), s),
      num(6),
      s,
    ),
  ),
};
for (const op of UNARY_BUILTINS) BUILTINS[op] = unaryBuiltin(op);

const NAMESPACES = new Set(['blockIdx']);

export function isBuiltinName(name: string): boolean {
  return Object.hasOwn(BUILTINS, name) || NAMESPACES.has(name);
}

/** Every builtin function and namespace, for did-you-mean hints. */
export function builtinNames(): string[] {
  return [...Object.keys(BUILTINS), ...NAMESPACES];
}

export function callBuiltin(c: Checker, name: string, site: CallSite): Value {
  const f = Object.hasOwn(BUILTINS, name) ? BUILTINS[name] : undefined;
  if (!f) return c.error('TV2002', site.calleeSpan, `'${name}' is not a function`);
  return f(c, site);
}

// ---- reductions ----

function freeReduce(c: Checker, site: CallSite, fn: 'sum' | 'mean'): Value {
  if (!arity(c, site, fn, 1, 3, `${fn}(tile, axis?, { keepdim? })`)) return ERROR;
  return reduce(c, fn, site.args[0], site.spans[0], {
    ...site,
    args: site.args.slice(1),
    spans: site.spans.slice(1),
  });
}

function reduce(c: Checker, fn: ReduceOp | 'mean', v: Value, vSpan: ast.Span, site: CallSite): Value {
  if (anyError(site) || v.kind === 'error') return ERROR;
  const src = tileArg(c, v, vSpan, `${fn}'s operand`);
  if (!src) return ERROR;
  const args = [...site.args];
  const spans = [...site.spans];
  let optsValue: Value | undefined;
  let optsSpan: ast.Span | undefined;
  if (args.length > 0 && args[args.length - 1].kind === 'object') {
    optsValue = args.pop();
    optsSpan = spans.pop();
  }
  if (args.length > 1)
    return c.error(
      'TV2003',
      site.span,
      `${fn} takes an axis and an options object, got ${site.args.length} arguments`,
    );
  const props = optionsArg(c, optsValue, optsSpan, fn === 'sum' ? ['keepdim', 'dtype'] : ['keepdim']);
  if (!props) return ERROR;
  const keepdim = boolOption(c, props, 'keepdim');
  if (keepdim === undefined) return ERROR;
  let dtype = src.type.dtype;
  const d = props.get('dtype');
  if (d) {
    const dt = dtypeArg(c, d.value, d.span);
    if (!dt) return ERROR;
    dtype = dt;
  }
  if (src.type.dtype === bool)
    return c.error(
      'TV2014',
      site.span,
      `${fn} is not defined on bool tiles`,
      'convert with .to(i32) to count',
    );
  if (fn === 'mean' && dtype.kind !== 'float')
    return c.error(
      'TV2014',
      site.span,
      `mean needs a float tile, not ${dtype.name}`,
      'convert it first: .to(f32)',
    );
  const rank = src.type.shape.length;
  let axis: number | undefined;
  let input = src;
  if (args.length === 1) {
    axis = axisArg(c, args[0], spans[0], rank);
    if (axis === undefined) return ERROR;
  } else {
    // No axis: reduce every element (row-major order).
    const flat = c.emit(site.span, 'TV2018', () =>
      c.b.reshape(src, [src.type.shape.reduce((p, x) => p * x, 1)]),
    );
    if (!flat) return ERROR;
    input = flat;
    axis = 0;
  }
  const count = input.type.shape[axis];
  const reduced = c.emit(site.span, 'TV2018', () =>
    c.b.reduce(fn === 'mean' ? 'sum' : fn, input, axis as number, {
      keepdim: keepdim && args.length === 1,
      dtype,
    }),
  );
  if (!reduced) return ERROR;
  let out: Value = { kind: 'tile', tile: reduced };
  if (keepdim && args.length === 0) {
    const ones = src.type.shape.map(() => 1);
    out = tile(c.emit(site.span, 'TV2018', () => c.b.reshape(reduced, ones)));
  }
  if (fn === 'mean') out = c.binaryMath('div', out, num(count), site.span);
  return out;
}

// ---- members and methods ----

const TILE_METHODS = [
  'to',
  'view',
  'reshape',
  'unsqueeze',
  'squeeze',
  'repeat',
  'transpose',
  'broadcast',
  'sum',
  'mean',
  'max',
  'min',
];
const TILE_PROPERTIES = ['shape', 'dtype', 'ndim'];
const SHARED_METHODS = ['load', 'store'];

export function memberOf(c: Checker, obj: Value, e: ast.Member): Value {
  if (obj.kind === 'error') return ERROR;
  const name = e.name;
  const unknown = (known: readonly string[]) =>
    c.error(
      'TV2015',
      e.nameSpan,
      `${describe(obj)} has no property or method '${name}'`,
      `known here: ${known.join(', ')}`,
    );
  switch (obj.kind) {
    case 'builtin': {
      if (obj.name === 'blockIdx') {
        const axis = ['x', 'y', 'z'].indexOf(name);
        if (axis < 0) return c.error('TV2015', e.nameSpan, `blockIdx has x, y and z, not '${name}'`);
        return { kind: 'scalar', expr: blockIdx(axis as 0 | 1 | 2) };
      }
      return c.error('TV2015', e.nameSpan, `builtin '${obj.name}' has no property '${name}'`);
    }
    case 'tile': {
      const t = obj.tile.type;
      if (name === 'shape')
        return { kind: 'array', items: t.shape.map(num), spans: t.shape.map(() => e.span) };
      if (name === 'dtype') return { kind: 'dtype', dtype: t.dtype };
      if (name === 'ndim') return num(t.shape.length);
      if (TILE_METHODS.includes(name)) return { kind: 'method', receiver: obj, name } satisfies MethodValue;
      return unknown([...TILE_PROPERTIES, ...TILE_METHODS.map((m) => `${m}()`)]);
    }
    case 'shared': {
      const t = obj.tile.type;
      if (name === 'shape')
        return { kind: 'array', items: t.shape.map(num), spans: t.shape.map(() => e.span) };
      if (name === 'dtype') return { kind: 'dtype', dtype: t.dtype };
      if (SHARED_METHODS.includes(name)) return { kind: 'method', receiver: obj, name };
      return unknown(['shape', 'dtype', 'load()', 'store()']);
    }
    case 'global': {
      const p = obj.param;
      if (name === 'shape') {
        return {
          kind: 'array',
          items: p.shape.map((d) => (d.kind === 'const' ? num(d.value) : { kind: 'scalar', expr: d })),
          spans: p.shape.map(() => e.span),
        };
      }
      if (name === 'dtype') return { kind: 'dtype', dtype: p.dtype };
      return unknown(['shape', 'dtype']);
    }
    case 'array':
      if (name === 'length') return num(obj.items.length);
      return unknown(['length']);
    case 'dtype':
      if (name === 'bits') return num(obj.dtype.bits);
      return unknown(['bits']);
    default:
      return c.error('TV2015', e.nameSpan, `${describe(obj)} has no property '${name}'`);
  }
}

export function callMethod(c: Checker, m: MethodValue, site: CallSite): Value {
  if (anyError(site)) return ERROR;
  const r = m.receiver;
  if (r.kind === 'shared') return sharedMethod(c, r.tile, m.name, site);
  if (r.kind !== 'tile') return c.error('TV2002', site.calleeSpan, `${describe(r)} has no methods`);
  const src = r.tile;
  const shape = src.type.shape;
  const rank = shape.length;
  switch (m.name) {
    case 'to':
    case 'view': {
      if (!arity(c, site, m.name, 1, 1, `.${m.name}(dtype)`)) return ERROR;
      const dtype = dtypeArg(c, site.args[0], site.spans[0]);
      if (!dtype) return ERROR;
      if (m.name === 'to')
        return dtype === src.type.dtype ? r : tile(c.emit(site.span, 'TV2018', () => c.b.cast(src, dtype)));
      return tile(c.emit(site.span, 'TV2018', () => c.b.view(src, dtype)));
    }
    case 'reshape': {
      if (
        !arity(
          c,
          site,
          'reshape',
          1,
          Number.POSITIVE_INFINITY,
          '.reshape(d0, d1, ...) or .reshape([d0, d1, ...])',
        )
      )
        return ERROR;
      const dims = intList(c, site, 'a reshape dim');
      if (!dims) return ERROR;
      const total = shape.reduce((p, x) => p * x, 1);
      const known = dims.filter((d) => d !== -1).reduce((p, x) => p * x, 1);
      const inferred = dims.filter((d) => d === -1).length;
      if (inferred > 1) return c.error('TV2018', site.span, 'only one reshape dim may be -1');
      const target = dims.map((d) => (d === -1 ? total / known : d));
      if (target.some((d) => !Number.isInteger(d) || d < 1) || target.reduce((p, x) => p * x, 1) !== total) {
        return c.error(
          'TV2018',
          site.span,
          `cannot reshape ${showShape(shape)} (${total} elements) to ${showShape(dims)}`,
        );
      }
      return tile(c.emit(site.span, 'TV2018', () => c.b.reshape(src, target)));
    }
    case 'unsqueeze': {
      if (!arity(c, site, 'unsqueeze', 1, 1, '.unsqueeze(axis)')) return ERROR;
      const axis = axisArg(c, site.args[0], site.spans[0], rank + 1, `unsqueeze on a rank-${rank} tile`);
      if (axis === undefined) return ERROR;
      return tile(c.emit(site.span, 'TV2018', () => c.b.unsqueeze(src, axis)));
    }
    case 'squeeze': {
      if (!arity(c, site, 'squeeze', 1, 1, '.squeeze(axis)')) return ERROR;
      const axis = axisArg(c, site.args[0], site.spans[0], rank);
      if (axis === undefined) return ERROR;
      if (shape[axis] !== 1)
        return c.error(
          'TV2018',
          site.spans[0],
          `cannot squeeze axis ${axis} of ${showShape(shape)}: its size is ${shape[axis]}, not 1`,
        );
      return tile(
        c.emit(site.span, 'TV2018', () =>
          c.b.reshape(
            src,
            shape.filter((_, i) => i !== axis),
          ),
        ),
      );
    }
    case 'repeat': {
      const reps = intList(c, site, 'a repeat count');
      if (!reps) return ERROR;
      if (reps.length !== rank) {
        return c.error(
          'TV2003',
          site.span,
          `.repeat needs one count per axis of ${describe(r)} (${rank}), got ${reps.length}`,
          `e.g. .repeat(${shape.map(() => 1).join(', ')})`,
        );
      }
      return tile(c.emit(site.span, 'TV2018', () => c.b.repeat(src, reps)));
    }
    case 'transpose': {
      let perm = site.args.length === 0 ? undefined : intList(c, site, 'a transpose axis');
      if (site.args.length === 0) {
        if (rank < 2)
          return c.error(
            'TV2018',
            site.span,
            `.transpose() swaps the last two axes; ${describe(r)} has rank ${rank}`,
          );
        perm = [...shape.keys()];
        [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1], perm[rank - 2]];
      }
      if (!perm) return ERROR;
      const p = perm;
      return tile(c.emit(site.span, 'TV2018', () => c.b.transpose(src, p)));
    }
    case 'broadcast': {
      const dims = intList(c, site, 'a broadcast dim');
      if (!dims) return ERROR;
      if (!broadcastsTo(shape, dims)) {
        return c.error(
          'TV2018',
          site.span,
          `cannot broadcast ${showShape(shape)} to ${showShape(dims)}`,
          'dims align from the right; each must equal the target dim or be 1 (add axes with .unsqueeze(axis))',
        );
      }
      return tile(c.emit(site.span, 'TV2018', () => c.b.broadcast(src, dims)));
    }
    case 'sum':
    case 'mean':
    case 'max':
    case 'min':
      return reduce(c, m.name, r, site.calleeSpan, site);
    default:
      return c.error('TV2015', site.calleeSpan, `tiles have no method '${m.name}'`);
  }
}

/** A register tile of this shape fits in shared tile s: the same rank, no dim larger. */
function fitsShared(shape: readonly number[], s: TileVar): boolean {
  return shape.length === s.type.shape.length && shape.every((d, i) => d <= s.type.shape[i]);
}

function sharedMethod(c: Checker, s: TileVar, name: string, site: CallSite): Value {
  const rank = s.type.shape.length;
  if (name === 'load') {
    if (!arity(c, site, 's.load', 0, 2, 's.load([offsets]?, [shape]?)')) return ERROR;
    const offsets = site.args[0]
      ? offsetsArg(c, site.args[0], site.spans[0])
      : s.type.shape.map(() => constant(0));
    const shape = site.args[1] ? shapeArg(c, site.args[1], site.spans[1]) : [...s.type.shape];
    if (!offsets || !shape) return ERROR;
    if (offsets.length !== rank)
      return c.error(
        'TV2017',
        site.spans[0],
        `the shared tile has ${rank} dims, so load needs ${rank} offsets, got ${offsets.length}`,
      );
    if (!fitsShared(shape, s))
      return c.error(
        'TV2018',
        site.spans[1],
        `a ${showShape(shape)} tile does not fit in the ${showShape(s.type.shape)} shared tile`,
        `use ${rank} dims, none larger than the shared tile's`,
      );
    return tile(c.emit(site.span, 'TV2018', () => c.b.loadShared(s, offsets, shape)));
  }
  if (name === 'store') {
    if (!arity(c, site, 's.store', 1, 2, 's.store(tile, [offsets]?)')) return VOID;
    const v = site.args[0];
    if (v.kind === 'tile' && v.tile.type.dtype !== s.type.dtype) {
      c.error(
        'TV2005',
        site.spans[0],
        `the shared tile holds ${s.type.dtype.name}, but the value is ${describe(v)}`,
        `convert it: (...).to(${s.type.dtype.name})`,
      );
      return VOID;
    }
    const value = c.asTile(v, s.type.dtype, site.spans[0]);
    const offsets = site.args[1]
      ? offsetsArg(c, site.args[1], site.spans[1])
      : s.type.shape.map(() => constant(0));
    if (!value || !offsets) return VOID;
    if (offsets.length !== rank) {
      c.error(
        'TV2017',
        site.spans[1],
        `the shared tile has ${rank} dims, so store needs ${rank} offsets, got ${offsets.length}`,
      );
      return VOID;
    }
    if (!fitsShared(value.type.shape, s)) {
      c.error(
        'TV2018',
        site.spans[0],
        `${describe(v)} does not fit in the ${showShape(s.type.shape)} shared tile`,
        `store a tile with ${rank} dims, none larger than the shared tile's`,
      );
      return VOID;
    }
    c.emit(site.span, 'TV2018', () => c.b.storeShared(s, value, offsets));
    return VOID;
  }
  return c.error('TV2015', site.calleeSpan, `shared tiles have load() and store(), not '${name}'`);
}
