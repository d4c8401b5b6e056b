// A builder for VM programs: infers each result's type from its operands (shapes.ts rules) so that
// hand-written programs, tests and the language's lowering all produce well-typed IR.
import { bool, type DType, i32 } from '../dtype.js';
import type { Layout } from '../layout.js';
import { VmError } from './errors.js';
import { type BinaryOp, COMPARISON_OPS, type ReduceOp, type UnaryOp } from './ops.js';
import type { Access, MemorySpace, Param, Program, Stmt, TileType, TileVar } from './program.js';
import { blockIdx, constant, type ScalarExpr, type ScalarLike, scalarVar, toScalar } from './scalar.js';
import { parseShapeExpr } from './shape-expr.js';
import {
  broadcastShapes,
  checkShape,
  dotShape,
  reduceShape,
  repeatShape,
  transposeShape,
  unsqueezeShape,
  viewShape,
} from './shapes.js';
import { validateProgram } from './validate.js';

export interface LoadOptions {
  other?: number;
  mask?: TileVar;
  layout?: Layout;
  name?: string;
}

export class ProgramBuilder {
  readonly blockIdx = { x: blockIdx(0), y: blockIdx(1), z: blockIdx(2) } as const;
  private readonly params: Param[] = [];
  private gridDims: ScalarExpr[] = [constant(1)];
  private threadCount = 1;
  private nextId = 0;
  /** The statement list being appended to; nested by for/if. */
  private current: Stmt[] = [];
  private readonly body = this.current;

  constructor(
    readonly name: string,
    readonly consts: Readonly<Record<string, number>> = {},
  ) {}

  /** The params declared so far. */
  get paramList(): readonly Param[] {
    return this.params;
  }

  /** A global tensor param; dims are numbers or expressions over shape symbols ('K', 'K / 128'). */
  global(name: string, dtype: DType, shape: readonly (string | number)[], access: Access = 'read'): string {
    this.params.push({ kind: 'global', name, dtype, shape: shape.map(parseShapeExpr), access });
    return name;
  }

  /** A scalar param, passed by value at launch. */
  scalar(name: string, dtype: DType = i32): ScalarExpr {
    this.params.push({ kind: 'scalar', name, dtype });
    return scalarVar(name, dtype);
  }

  /** A shape symbol (or any i32 scalar variable in scope) by name. */
  sym(name: string): ScalarExpr {
    return scalarVar(name, i32);
  }

  grid(...dims: ScalarLike[]): void {
    if (dims.length < 1 || dims.length > 3) throw new VmError(`grid takes 1 to 3 dims, got ${dims.length}`);
    this.gridDims = dims.map(toScalar);
  }

  threads(n: number): void {
    this.threadCount = n;
  }

  tile(
    dtype: DType,
    shape: readonly number[],
    name = 't',
    space: MemorySpace = 'register',
    layout?: Layout,
  ): TileVar {
    checkShape(shape, `tile %${name}`);
    const type: TileType = layout
      ? { dtype, shape: [...shape], space, layout }
      : { dtype, shape: [...shape], space };
    return { id: this.nextId++, name, type };
  }

  // ---- memory ----

  load(
    param: string,
    offsets: readonly ScalarLike[],
    shape: readonly number[],
    opts: LoadOptions = {},
  ): TileVar {
    const p = this.globalParam(param, 'load');
    const dst = this.tile(p.dtype, shape, opts.name ?? param, 'register', opts.layout);
    this.emit({
      op: 'load_global',
      dst,
      param,
      offsets: offsets.map(toScalar),
      ...(opts.other !== undefined ? { other: opts.other } : {}),
      ...(opts.mask ? { mask: opts.mask } : {}),
    });
    return dst;
  }

  store(param: string, offsets: readonly ScalarLike[], src: TileVar, opts: { mask?: TileVar } = {}): void {
    this.globalParam(param, 'store');
    this.emit({
      op: 'store_global',
      param,
      offsets: offsets.map(toScalar),
      src,
      ...(opts.mask ? { mask: opts.mask } : {}),
    });
  }

  shared(dtype: DType, shape: readonly number[], name = 'smem'): TileVar {
    const dst = this.tile(dtype, shape, name, 'shared');
    this.emit({ op: 'alloc_shared', dst });
    return dst;
  }

  loadShared(
    src: TileVar,
    offsets?: readonly ScalarLike[],
    shape?: readonly number[],
    name = `${src.name}_r`,
  ): TileVar {
    const dst = this.tile(src.type.dtype, shape ?? src.type.shape, name);
    this.emit({
      op: 'load_shared',
      dst,
      src,
      offsets: (offsets ?? src.type.shape.map(() => 0)).map(toScalar),
    });
    return dst;
  }

  storeShared(dst: TileVar, src: TileVar, offsets?: readonly ScalarLike[]): void {
    this.emit({
      op: 'store_shared',
      dst,
      src,
      offsets: (offsets ?? dst.type.shape.map(() => 0)).map(toScalar),
    });
  }

  sync(): void {
    this.emit({ op: 'sync' });
  }

  // ---- creation and conversion ----

  full(dtype: DType, shape: readonly number[], value: ScalarLike, name = 'full'): TileVar {
    const dst = this.tile(dtype, shape, name);
    this.emit({ op: 'full', dst, value: toScalar(value) });
    return dst;
  }

  zeros(dtype: DType, shape: readonly number[], name = 'zeros'): TileVar {
    return this.full(dtype, shape, 0, name);
  }

  arange(dtype: DType, n: number, start: ScalarLike = 0, name = 'arange'): TileVar {
    const dst = this.tile(dtype, [n], name);
    this.emit({ op: 'arange', dst, start: toScalar(start) });
    return dst;
  }

  cast(src: TileVar, dtype: DType, name = src.name): TileVar {
    const dst = this.tile(dtype, src.type.shape, name);
    this.emit({ op: 'cast', dst, src });
    return dst;
  }

  view(src: TileVar, dtype: DType, name = src.name): TileVar {
    const dst = this.tile(dtype, viewShape(src.type.shape, src.type.dtype, dtype), name);
    this.emit({ op: 'view', dst, src });
    return dst;
  }

  // ---- elementwise ----

  unary(fn: UnaryOp, src: TileVar, name = fn): TileVar {
    const dst = this.tile(src.type.dtype, src.type.shape, name);
    this.emit({ op: 'unary', fn, dst, src });
    return dst;
  }

  /** A number operand becomes a scalar tile of the other operand's dtype. */
  binary(fn: BinaryOp, a: TileVar | number, b: TileVar | number, name: string = fn): TileVar {
    const ta = typeof a === 'number' ? this.scalarTile(a, b) : a;
    const tb = typeof b === 'number' ? this.scalarTile(b, ta) : b;
    const shape = broadcastShapes(ta.type.shape, tb.type.shape);
    const dst = this.tile(COMPARISON_OPS.has(fn) ? bool : ta.type.dtype, shape, name);
    this.emit({ op: 'binary', fn, dst, a: ta, b: tb });
    return dst;
  }

  add(a: TileVar | number, b: TileVar | number): TileVar {
    return this.binary('add', a, b);
  }
  sub(a: TileVar | number, b: TileVar | number): TileVar {
    return this.binary('sub', a, b);
  }
  mul(a: TileVar | number, b: TileVar | number): TileVar {
    return this.binary('mul', a, b);
  }
  div(a: TileVar | number, b: TileVar | number): TileVar {
    return this.binary('div', a, b);
  }

  where(cond: TileVar, a: TileVar | number, b: TileVar | number, name = 'where'): TileVar {
    const ta = typeof a === 'number' ? this.scalarTile(a, b) : a;
    const tb = typeof b === 'number' ? this.scalarTile(b, ta) : b;
    const shape = broadcastShapes(cond.type.shape, broadcastShapes(ta.type.shape, tb.type.shape));
    const dst = this.tile(ta.type.dtype, shape, name);
    this.emit({ op: 'select', dst, cond, a: ta, b: tb });
    return dst;
  }

  // ---- shape ----

  reshape(src: TileVar, shape: readonly number[], name = src.name): TileVar {
    const dst = this.tile(src.type.dtype, shape, name);
    this.emit({ op: 'reshape', dst, src });
    return dst;
  }

  unsqueeze(src: TileVar, axis: number, name = src.name): TileVar {
    const dst = this.tile(src.type.dtype, unsqueezeShape(src.type.shape, axis), name);
    this.emit({ op: 'unsqueeze', dst, src, axis });
    return dst;
  }

  repeat(src: TileVar, repeats: readonly number[], name = src.name): TileVar {
    const dst = this.tile(src.type.dtype, repeatShape(src.type.shape, repeats), name);
    this.emit({ op: 'repeat', dst, src, repeats: [...repeats] });
    return dst;
  }

  broadcast(src: TileVar, shape: readonly number[], name = src.name): TileVar {
    const dst = this.tile(src.type.dtype, shape, name);
    this.emit({ op: 'broadcast', dst, src });
    return dst;
  }

  transpose(src: TileVar, perm: readonly number[] = [1, 0], name = src.name): TileVar {
    const dst = this.tile(src.type.dtype, transposeShape(src.type.shape, perm), name);
    this.emit({ op: 'transpose', dst, src, perm: [...perm] });
    return dst;
  }

  // ---- reductions and dot ----

  reduce(
    fn: ReduceOp,
    src: TileVar,
    axis: number,
    opts: { keepdim?: boolean; dtype?: DType; name?: string } = {},
  ): TileVar {
    const keepdim = opts.keepdim ?? false;
    const dst = this.tile(
      opts.dtype ?? src.type.dtype,
      reduceShape(src.type.shape, axis, keepdim),
      opts.name ?? fn,
    );
    this.emit({ op: 'reduce', fn, dst, src, axis, keepdim });
    return dst;
  }

  dot(a: TileVar, b: TileVar, c: TileVar, name = 'dot'): TileVar {
    const dst = this.tile(c.type.dtype, dotShape(a.type.shape, b.type.shape, c.type.shape), name);
    this.emit({ op: 'dot', dst, a, b, c });
    return dst;
  }

  // ---- variables and control flow ----

  /** dst = src: update a mutable tile variable (e.g. an accumulator inside a loop). */
  assign(dst: TileVar, src: TileVar): void {
    this.emit({ op: 'copy', dst, src });
  }

  convertLayout(src: TileVar, layout: Layout, name = src.name): TileVar {
    const dst = this.tile(src.type.dtype, src.type.shape, name, 'register', layout);
    this.emit({ op: 'convert_layout', dst, src });
    return dst;
  }

  let(name: string, value: ScalarLike): ScalarExpr {
    const v = toScalar(value);
    this.emit({ op: 'let_scalar', name, value: v });
    return scalarVar(name, v.dtype);
  }

  for(
    name: string,
    start: ScalarLike,
    stop: ScalarLike,
    step: ScalarLike,
    body: (i: ScalarExpr) => void,
  ): void {
    const stmts = this.nested(() => body(scalarVar(name, i32)));
    this.emit({
      op: 'for',
      var: name,
      start: toScalar(start),
      stop: toScalar(stop),
      step: toScalar(step),
      body: stmts,
    });
  }

  if(cond: ScalarExpr, then: () => void, otherwise?: () => void): void {
    const thenBody = this.nested(then);
    const elseBody = otherwise ? this.nested(otherwise) : [];
    this.emit({ op: 'if', cond, thenBody, elseBody });
  }

  /** Finishes the program and validates it (throws VmError naming the first problem). */
  build(): Program {
    const program: Program = {
      name: this.name,
      params: [...this.params],
      consts: { ...this.consts },
      grid: this.gridDims,
      threads: this.threadCount,
      body: this.body,
    };
    validateProgram(program);
    return program;
  }

  private emit(stmt: Stmt): void {
    this.current.push(stmt);
  }

  private nested(fill: () => void): Stmt[] {
    const saved = this.current;
    const stmts: Stmt[] = [];
    this.current = stmts;
    try {
      fill();
    } finally {
      this.current = saved;
    }
    return stmts;
  }

  private scalarTile(value: number, like: TileVar | number): TileVar {
    if (typeof like === 'number') throw new VmError('a binary op needs at least one tile operand');
    return this.full(like.type.dtype, [], constant(value, like.type.dtype), 'c');
  }

  private globalParam(name: string, what: string): Extract<Param, { kind: 'global' }> {
    const p = this.params.find((q) => q.name === name);
    if (p?.kind !== 'global') {
      const known = this.params.filter((q) => q.kind === 'global').map((q) => q.name);
      throw new VmError(`${what}: '${name}' is not a global param (declared: ${known.join(', ') || 'none'})`);
    }
    return p;
  }
}
