// The VM validator: every instruction's operands are defined, typed and shaped as its rule says.
// Errors quote the instruction (printed form) and name the mismatch.
import { type DType, i32, isFloat } from '../dtype.js';
import { VmError } from './errors.js';
import {
  BOOL_BINARY,
  BOOL_UNARY,
  COMPARISON_OPS,
  FLOAT_ONLY_BINARY,
  FLOAT_ONLY_UNARY,
  INT_ONLY_BINARY,
  INT_ONLY_UNARY,
} from './ops.js';
import { printStmtHead, printVar } from './print.js';
import type { GlobalParam, Program, Stmt, TileVar } from './program.js';
import { printScalar, type ScalarExpr, scalarVars } from './scalar.js';
import {
  broadcastShapes,
  broadcastsTo,
  checkShape,
  dotShape,
  numel,
  reduceShape,
  repeatShape,
  sameShape,
  showShape,
  transposeShape,
  unsqueezeShape,
  viewShape,
} from './shapes.js';

const MAX_THREADS = 1024;
const IDENT = /^[A-Za-z_$][\w$]*$/;

/** Names of the shape symbols: every variable that appears in a global param's dims. */
export function shapeSymbols(program: Program): string[] {
  const names = new Set<string>();
  for (const p of program.params) if (p.kind === 'global') for (const d of p.shape) scalarVars(d, names);
  return [...names];
}

interface Scope {
  scalars: Map<string, DType>;
  tiles: Set<TileVar>;
}

export function validateProgram(program: Program): void {
  const where = `program '${program.name}'`;
  if (!IDENT.test(program.name)) throw new VmError(`${where}: the name must be an identifier`);
  const seen = new Set<string>();
  for (const p of program.params) {
    if (!IDENT.test(p.name)) throw new VmError(`${where}: param name '${p.name}' is not an identifier`);
    if (seen.has(p.name)) throw new VmError(`${where}: param '${p.name}' is declared twice`);
    seen.add(p.name);
  }
  const symbols = shapeSymbols(program);
  for (const s of symbols) {
    if (seen.has(s)) throw new VmError(`${where}: shape symbol '${s}' has the same name as a param`);
    const bare = program.params.some(
      (p) => p.kind === 'global' && p.shape.some((d) => d.kind === 'var' && d.name === s),
    );
    if (!bare) {
      throw new VmError(
        `${where}: shape symbol '${s}' never appears alone as a dim, so a launch cannot bind it; make some dim exactly '${s}'`,
      );
    }
  }
  if (!Number.isInteger(program.threads) || program.threads < 1 || program.threads > MAX_THREADS) {
    throw new VmError(`${where}: threads(${program.threads}) must be an integer in 1..${MAX_THREADS}`);
  }
  if (program.grid.length < 1 || program.grid.length > 3) {
    throw new VmError(`${where}: grid has ${program.grid.length} dims; give 1 to 3`);
  }
  const scope: Scope = { scalars: new Map(), tiles: new Set() };
  for (const s of symbols) scope.scalars.set(s, i32);
  for (const p of program.params) if (p.kind === 'scalar') scope.scalars.set(p.name, p.dtype);
  for (const [i, g] of program.grid.entries()) {
    const t = checkScalar(g, scope, `${where}: grid dim ${i}`);
    if (t.kind !== 'int')
      throw new VmError(`${where}: grid dim ${i} (${printScalar(g)}) must be an integer, not ${t.name}`);
  }
  validateBody(program, program.body, scope);
}

function validateBody(program: Program, body: readonly Stmt[], outer: Scope): void {
  const scope: Scope = { scalars: new Map(outer.scalars), tiles: new Set(outer.tiles) };
  for (const s of body) {
    try {
      validateStmt(program, s, scope);
    } catch (e) {
      if (e instanceof VmError && !e.message.startsWith('in `')) {
        throw new VmError(`in \`${printStmtHead(s)}\`: ${e.message}`);
      }
      throw e;
    }
  }
}

function fail(message: string): never {
  throw new VmError(message);
}

function validateStmt(program: Program, s: Stmt, scope: Scope): void {
  const use = (v: TileVar, space: 'register' | 'shared' = 'register'): TileVar => {
    if (!scope.tiles.has(v))
      fail(`${printVar(v)} is used before it is defined (or outside the block that defines it)`);
    if (v.type.space !== space) {
      fail(
        `${printVar(v)} is a ${v.type.space} tile; this operand must be a ${space} tile${space === 'register' ? ' (load_shared it first)' : ''}`,
      );
    }
    return v;
  };
  const define = (v: TileVar, space: 'register' | 'shared' = 'register'): void => {
    checkShape(v.type.shape, printVar(v));
    if (v.type.space !== space) fail(`${printVar(v)} must be a ${space} tile, not ${v.type.space}`);
    const layout = v.type.layout;
    if (layout) {
      if (space === 'shared') fail(`shared tile ${printVar(v)} cannot have a register layout`);
      if (!sameShape(layout.shape, v.type.shape)) {
        fail(
          `layout ${layout.toString()} covers ${showShape(layout.shape)}, but ${printVar(v)} is ${showShape(v.type.shape)}`,
        );
      }
      if (layout.numThreads !== program.threads) {
        fail(
          `layout ${layout.toString()} spans ${layout.numThreads} threads, but the program has threads(${program.threads})`,
        );
      }
    }
    scope.tiles.add(v);
  };
  const sameDtype = (a: TileVar, b: TileVar, what: string): void => {
    if (a.type.dtype !== b.type.dtype)
      fail(
        `${what}: ${printVar(a)} is ${a.type.dtype.name} but ${printVar(b)} is ${b.type.dtype.name}; cast one first`,
      );
  };
  const expectShape = (v: TileVar, shape: readonly number[]): void => {
    if (!sameShape(v.type.shape, shape))
      fail(`${printVar(v)} has shape ${showShape(v.type.shape)}, expected ${showShape(shape)}`);
  };
  const offsets = (list: readonly ScalarExpr[], rank: number, what: string): void => {
    if (list.length !== rank) fail(`${list.length} offsets for ${what} of rank ${rank}; give one per dim`);
    for (const [i, o] of list.entries()) {
      const t = checkScalar(o, scope, `offset ${i}`);
      if (t.kind !== 'int') fail(`offset ${i} (${printScalar(o)}) must be an integer, not ${t.name}`);
    }
  };
  const mask = (m: TileVar | undefined, shape: readonly number[]): void => {
    if (!m) return;
    use(m);
    if (m.type.dtype.kind !== 'bool') fail(`mask ${printVar(m)} must be bool, not ${m.type.dtype.name}`);
    expectShape(m, shape);
  };

  switch (s.op) {
    case 'load_global': {
      const p = globalParam(program, s.param);
      if (p.access === 'write')
        fail(`param '${p.name}' is write-only; declare it 'readwrite' to load from it`);
      offsets(s.offsets, p.shape.length, `param '${p.name}'`);
      if (s.dst.type.shape.length > p.shape.length)
        fail(
          `a rank-${s.dst.type.shape.length} tile cannot be loaded from rank-${p.shape.length} param '${p.name}'`,
        );
      if (s.dst.type.dtype !== p.dtype)
        fail(
          `loads from '${p.name}' give ${p.dtype.name}, but ${printVar(s.dst)} is ${s.dst.type.dtype.name}`,
        );
      mask(s.mask, s.dst.type.shape);
      if (s.other !== undefined && typeof s.other !== 'number') fail('other must be a number');
      define(s.dst);
      return;
    }
    case 'store_global': {
      const p = globalParam(program, s.param);
      if (p.access === 'read')
        fail(`param '${p.name}' is read-only; declare it 'write' or 'readwrite' to store to it`);
      offsets(s.offsets, p.shape.length, `param '${p.name}'`);
      use(s.src);
      if (s.src.type.shape.length > p.shape.length)
        fail(
          `a rank-${s.src.type.shape.length} tile cannot be stored to rank-${p.shape.length} param '${p.name}'`,
        );
      if (s.src.type.dtype !== p.dtype)
        fail(
          `'${p.name}' holds ${p.dtype.name}, but ${printVar(s.src)} is ${s.src.type.dtype.name}; cast it first`,
        );
      mask(s.mask, s.src.type.shape);
      return;
    }
    case 'alloc_shared':
      define(s.dst, 'shared');
      return;
    case 'load_shared':
    case 'store_shared': {
      const shared = s.op === 'load_shared' ? use(s.src, 'shared') : use(s.dst, 'shared');
      const reg = s.op === 'load_shared' ? s.dst : use(s.src);
      offsets(s.offsets, shared.type.shape.length, `shared tile ${printVar(shared)}`);
      sameDtype(reg, shared, s.op);
      if (
        reg.type.shape.length !== shared.type.shape.length ||
        reg.type.shape.some((d, i) => d > shared.type.shape[i])
      ) {
        fail(
          `register tile ${showShape(reg.type.shape)} does not fit in shared tile ${showShape(shared.type.shape)}`,
        );
      }
      if (s.op === 'load_shared') define(s.dst);
      return;
    }
    case 'sync':
      return;
    case 'full':
      checkScalar(s.value, scope, 'value');
      define(s.dst);
      return;
    case 'arange': {
      const t = checkScalar(s.start, scope, 'start');
      if (t.kind !== 'int') fail(`start (${printScalar(s.start)}) must be an integer`);
      if (s.dst.type.shape.length !== 1)
        fail(`arange makes a rank-1 tile, not ${showShape(s.dst.type.shape)}`);
      if (s.dst.type.dtype.kind === 'bool') fail('arange cannot make a bool tile');
      define(s.dst);
      return;
    }
    case 'cast':
      use(s.src);
      expectShape(s.dst, s.src.type.shape);
      define(s.dst);
      return;
    case 'view':
      use(s.src);
      expectShape(s.dst, viewShape(s.src.type.shape, s.src.type.dtype, s.dst.type.dtype));
      define(s.dst);
      return;
    case 'unary': {
      use(s.src);
      const d = s.src.type.dtype;
      if (FLOAT_ONLY_UNARY.has(s.fn) && !isFloat(d))
        fail(`${s.fn} needs a float tile, not ${d.name}; cast it first`);
      if (INT_ONLY_UNARY.has(s.fn) && isFloat(d))
        fail(`${s.fn} needs an integer or bool tile, not ${d.name}`);
      if (d.kind === 'bool' && !BOOL_UNARY.has(s.fn))
        fail(`${s.fn} is not defined on bool; cast to a number type first`);
      if (s.dst.type.dtype !== d) fail(`${printVar(s.dst)} must be ${d.name}`);
      expectShape(s.dst, s.src.type.shape);
      define(s.dst);
      return;
    }
    case 'binary': {
      use(s.a);
      use(s.b);
      sameDtype(s.a, s.b, s.fn);
      const d = s.a.type.dtype;
      if (FLOAT_ONLY_BINARY.has(s.fn) && !isFloat(d)) fail(`${s.fn} needs float operands, not ${d.name}`);
      if (INT_ONLY_BINARY.has(s.fn) && isFloat(d)) fail(`${s.fn} needs integer operands, not ${d.name}`);
      if (d.kind === 'bool' && !BOOL_BINARY.has(s.fn))
        fail(`${s.fn} is not defined on bool; cast to a number type first`);
      const want = COMPARISON_OPS.has(s.fn) ? 'bool' : d.name;
      if (s.dst.type.dtype.name !== want)
        fail(`${printVar(s.dst)} must be ${want}, not ${s.dst.type.dtype.name}`);
      expectShape(s.dst, broadcastShapes(s.a.type.shape, s.b.type.shape));
      define(s.dst);
      return;
    }
    case 'select':
      use(s.cond);
      use(s.a);
      use(s.b);
      if (s.cond.type.dtype.kind !== 'bool')
        fail(`condition ${printVar(s.cond)} must be bool, not ${s.cond.type.dtype.name}`);
      sameDtype(s.a, s.b, 'select');
      sameDtype(s.dst, s.a, 'select');
      expectShape(s.dst, broadcastShapes(s.cond.type.shape, broadcastShapes(s.a.type.shape, s.b.type.shape)));
      define(s.dst);
      return;
    case 'reshape':
      use(s.src);
      sameDtype(s.dst, s.src, 'reshape');
      if (numel(s.dst.type.shape) !== numel(s.src.type.shape)) {
        fail(
          `cannot reshape ${showShape(s.src.type.shape)} (${numel(s.src.type.shape)} elements) to ${showShape(s.dst.type.shape)}`,
        );
      }
      define(s.dst);
      return;
    case 'unsqueeze':
      use(s.src);
      sameDtype(s.dst, s.src, 'unsqueeze');
      expectShape(s.dst, unsqueezeShape(s.src.type.shape, s.axis));
      define(s.dst);
      return;
    case 'repeat':
      use(s.src);
      sameDtype(s.dst, s.src, 'repeat');
      expectShape(s.dst, repeatShape(s.src.type.shape, s.repeats));
      define(s.dst);
      return;
    case 'broadcast':
      use(s.src);
      sameDtype(s.dst, s.src, 'broadcast');
      if (!broadcastsTo(s.src.type.shape, s.dst.type.shape)) {
        fail(`${showShape(s.src.type.shape)} does not broadcast to ${showShape(s.dst.type.shape)}`);
      }
      define(s.dst);
      return;
    case 'transpose':
      use(s.src);
      sameDtype(s.dst, s.src, 'transpose');
      expectShape(s.dst, transposeShape(s.src.type.shape, s.perm));
      define(s.dst);
      return;
    case 'reduce':
      use(s.src);
      if (s.src.type.dtype.kind === 'bool' || s.dst.type.dtype.kind === 'bool')
        fail('reduce needs number tiles; cast bool first');
      expectShape(s.dst, reduceShape(s.src.type.shape, s.axis, s.keepdim));
      define(s.dst);
      return;
    case 'dot':
      use(s.a);
      use(s.b);
      use(s.c);
      sameDtype(s.a, s.b, 'dot');
      sameDtype(s.dst, s.c, 'dot');
      if (s.a.type.dtype.kind === 'bool' || s.c.type.dtype.kind === 'bool') fail('dot needs number tiles');
      expectShape(s.dst, dotShape(s.a.type.shape, s.b.type.shape, s.c.type.shape));
      define(s.dst);
      return;
    case 'copy':
    case 'convert_layout':
      use(s.src);
      sameDtype(s.dst, s.src, s.op);
      expectShape(s.dst, s.src.type.shape);
      if (s.op === 'copy' && !scope.tiles.has(s.dst) && s.dst.type.space !== 'register')
        fail('copy writes register tiles');
      define(s.dst);
      return;
    case 'let_scalar': {
      if (!IDENT.test(s.name)) fail(`'${s.name}' is not an identifier`);
      if (program.params.some((p) => p.name === s.name))
        fail(`'${s.name}' is a param and cannot be reassigned`);
      const t = checkScalar(s.value, scope, s.name);
      const prev = scope.scalars.get(s.name);
      if (prev && prev !== t) fail(`'${s.name}' was ${prev.name} and cannot become ${t.name}`);
      scope.scalars.set(s.name, t);
      return;
    }
    case 'for': {
      if (!IDENT.test(s.var)) fail(`loop variable '${s.var}' is not an identifier`);
      if (scope.scalars.has(s.var)) fail(`loop variable '${s.var}' shadows a name already in scope`);
      for (const [what, e] of [
        ['start', s.start],
        ['stop', s.stop],
        ['step', s.step],
      ] as const) {
        const t = checkScalar(e, scope, what);
        if (t.kind !== 'int') fail(`loop ${what} (${printScalar(e)}) must be an integer, not ${t.name}`);
      }
      if (s.step.kind === 'const' && s.step.value <= 0) fail(`loop step ${s.step.value} must be positive`);
      const inner: Scope = { scalars: new Map(scope.scalars), tiles: scope.tiles };
      inner.scalars.set(s.var, i32);
      validateBody(program, s.body, inner);
      return;
    }
    case 'if': {
      const t = checkScalar(s.cond, scope, 'condition');
      if (t.kind === 'float')
        fail(`condition (${printScalar(s.cond)}) must be bool or integer, not ${t.name}`);
      validateBody(program, s.thenBody, scope);
      validateBody(program, s.elseBody, scope);
      return;
    }
  }
}

function globalParam(program: Program, name: string): GlobalParam {
  const p = program.params.find((q) => q.name === name);
  if (!p) fail(`no param named '${name}'`);
  if (p.kind !== 'global') fail(`'${name}' is a scalar param, not a global tensor`);
  return p;
}

/** Checks a scalar expression and returns its dtype. */
function checkScalar(e: ScalarExpr, scope: Scope, what: string): DType {
  switch (e.kind) {
    case 'const':
      return e.dtype;
    case 'var': {
      const t = scope.scalars.get(e.name);
      if (!t)
        fail(`${what}: '${e.name}' is not a shape symbol, scalar param, loop variable or scalar in scope`);
      if (t.name !== e.dtype.name) fail(`${what}: '${e.name}' is ${t.name}, but is used as ${e.dtype.name}`);
      return t;
    }
    case 'blockIdx':
      return e.dtype;
    case 'unary':
      checkScalar(e.a, scope, what);
      return e.dtype;
    case 'cast':
      checkScalar(e.a, scope, what);
      return e.dtype;
    case 'binary': {
      const a = checkScalar(e.a, scope, what);
      const b = checkScalar(e.b, scope, what);
      if (a.name !== b.name) fail(`${what}: ${printScalar(e)} mixes ${a.name} and ${b.name}; cast one first`);
      // The same op rules as tiles: ordered comparisons and arithmetic are not defined on bool.
      if (a.kind === 'bool' && !BOOL_BINARY.has(e.op))
        fail(`${what}: ${e.op} is not defined on bool (${printScalar(e)})`);
      return e.dtype;
    }
    case 'select': {
      const c = checkScalar(e.cond, scope, what);
      if (c.kind === 'float') fail(`${what}: select condition must be bool or integer`);
      const a = checkScalar(e.a, scope, what);
      const b = checkScalar(e.b, scope, what);
      if (a.name !== b.name) fail(`${what}: select branches are ${a.name} and ${b.name}`);
      return e.dtype;
    }
  }
}
