// The type checker and lowering: walks a kernel's syntax tree once, infers every value's dtype and
// tile shape, reports what is wrong with a code and a span, and emits VM IR through the
// ProgramBuilder for what is right.
import { ALL_DTYPES, bool, castValue, type DType, f32, i32 } from '../dtype.js';
import { applyBinary, applyUnary, normalize } from '../interp/elementwise.js';
import { ProgramBuilder } from '../ir/builder.js';
import { VmError } from '../ir/errors.js';
import { type BinaryOp, BOOL_BINARY, COMPARISON_OPS, FLOAT_ONLY_BINARY, INT_ONLY_BINARY } from '../ir/ops.js';
import type { GlobalParam, TileVar } from '../ir/program.js';
import {
  binary,
  castScalar,
  constant,
  type ScalarExpr,
  scalarVar,
  scalarVars,
  select,
} from '../ir/scalar.js';
import { broadcastShapes, broadcastsTo, sameShape, showShape } from '../ir/shapes.js';
import { Layout } from '../layout.js';
import type * as ast from './ast.js';
import { builtinNames, callBuiltin, callMethod, isBuiltinName, memberOf } from './builtins.js';
import { DiagnosticBag, type DiagnosticCode } from './diagnostics.js';
import { DeviceFn } from './fn.js';
import { promote, type Strength } from './promote.js';
import type { KernelSignature } from './signature.js';
import {
  type ArrayValue,
  article,
  type ConstValue,
  describe,
  ERROR,
  type ObjectValue,
  type ScalarValue,
  showNumber,
  type TileValue,
  type Value,
} from './values.js';

interface Binding {
  readonly value: Value;
  readonly mutable: boolean;
  readonly span: ast.Span;
  /** Loop variables, params and symbols cannot be assigned. */
  readonly role: 'variable' | 'loop' | 'param' | 'symbol' | 'const';
}

/** Where interpolations and diagnostics go: the kernel's own source, or an inlined fn's. */
interface SourceFrame {
  readonly bag: DiagnosticBag;
  readonly values: readonly unknown[];
}

const ASSIGN_TO_BINARY: Record<Exclude<ast.AssignOperator, '='>, ast.BinaryOperator> = {
  '+=': '+',
  '-=': '-',
  '*=': '*',
  '/=': '/',
  '%=': '%',
  '&=': '&',
  '|=': '|',
  '^=': '^',
  '<<=': '<<',
  '>>=': '>>',
  '**=': '**',
};

const OPERATOR_OPS: Record<ast.BinaryOperator, BinaryOp> = {
  '+': 'add',
  '-': 'sub',
  '*': 'mul',
  '/': 'div',
  '%': 'mod',
  '**': 'pow',
  '<<': 'shl',
  '>>': 'shr',
  '>>>': 'shr',
  '&': 'and',
  '|': 'or',
  '^': 'xor',
  '==': 'eq',
  '===': 'eq',
  '!=': 'ne',
  '!==': 'ne',
  '<': 'lt',
  '<=': 'le',
  '>': 'gt',
  '>=': 'ge',
  '&&': 'and',
  '||': 'or',
};

const MAX_FN_DEPTH = 16;

export class Checker {
  readonly b: ProgramBuilder;
  private frame: SourceFrame;
  private scopes: Map<string, Binding>[] = [new Map()];
  /** Tiles bound to a variable: binding one to another variable copies it (tiles are values). */
  private readonly owned = new Set<TileVar>();
  private readonly scalarNames = new Set<string>();
  private readonly nextSuffix = new Map<string, number>();
  /** Nesting of for/if bodies: grid() and threads() belong at the top level. */
  depth = 0;
  gridSpan?: ast.Span;
  threadsSpan?: ast.Span;
  /** The block size: threads(n), 128 until given. Register layouts must span exactly this many. */
  threadCount = 128;
  /** Thread counts of the layouts loads used so far, for a later threads() to match. */
  readonly layoutThreads: number[] = [];
  private fnDepth = 0;
  /** Names a launch binds (shape symbols, scalar params): what grid() may use. */
  readonly launchNames = new Set<string>();

  constructor(
    readonly signature: KernelSignature,
    readonly consts: Readonly<Record<string, number>>,
    bag: DiagnosticBag,
    values: readonly unknown[],
  ) {
    this.frame = { bag, values };
    this.b = new ProgramBuilder(signature.name, consts);
    this.b.threads(this.threadCount);
    this.declareSignature();
  }

  // ---- diagnostics ----

  error(code: DiagnosticCode, span: ast.Span, message: string, hint?: string): Value {
    this.frame.bag.error(code, span, message, hint);
    return ERROR;
  }

  /** Runs a builder call; a VmError becomes a diagnostic at `span`. */
  emit<T>(span: ast.Span, code: DiagnosticCode, build: () => T): T | undefined {
    try {
      return build();
    } catch (e) {
      if (e instanceof VmError || e instanceof RangeError) {
        this.error(code, span, e.message);
        return undefined;
      }
      throw e;
    }
  }

  // ---- signature ----

  private declareSignature(): void {
    const top = this.scopes[0];
    const sig = this.signature;
    const at: ast.Span = { start: 0, end: 0 };
    for (const [name, value] of Object.entries(this.consts)) {
      top.set(name, { value: weakConst(value), mutable: false, span: at, role: 'const' });
    }
    const params = sig.params ?? {};
    for (const [name, spec] of Object.entries(params)) {
      if (top.has(name)) {
        this.error('TV3004', at, `param '${name}' has the same name as a const`, 'rename one of them');
        continue;
      }
      if (isDTypeObject(spec)) {
        const expr = this.emit(at, 'TV3002', () => this.b.scalar(name, spec));
        if (!expr) continue;
        this.launchNames.add(name);
        top.set(name, { value: { kind: 'scalar', expr }, mutable: false, span: at, role: 'param' });
        continue;
      }
      if (spec && typeof spec === 'object' && spec.kind === 'global' && !isDTypeObject(spec.dtype)) {
        const d: unknown = spec.dtype;
        this.error(
          'TV3002',
          at,
          `param '${name}': global() needs a dtype such as f32 or u4, not ${describeJs(d)}`,
          ALL_DTYPES.some((x) => x.name === d)
            ? `pass the dtype object, not its name: global(${d}, ...)`
            : undefined,
        );
        continue;
      }
      if (!spec || typeof spec !== 'object' || spec.kind !== 'global') {
        this.error(
          'TV3002',
          at,
          `param '${name}' must be global(dtype, shape, access?) or a dtype (a scalar param)`,
        );
        continue;
      }
      if (!Array.isArray(spec.shape)) {
        this.error('TV3002', at, `param '${name}': the shape must be an array of dims like ['N', 'K / 128']`);
        continue;
      }
      if (!['read', 'write', 'readwrite'].includes(spec.access)) {
        this.error(
          'TV3002',
          at,
          `param '${name}': access must be 'read', 'write' or 'readwrite', not '${String(spec.access)}'`,
        );
        continue;
      }
      try {
        this.b.global(name, spec.dtype, spec.shape, spec.access);
      } catch (e) {
        if (!(e instanceof VmError)) throw e;
        this.error('TV3002', at, `param '${name}': ${e.message}`);
        continue;
      }
      const param = this.b.paramList.at(-1) as GlobalParam;
      top.set(name, { value: { kind: 'global', param }, mutable: false, span: at, role: 'param' });
    }
    for (const p of this.b.paramList) {
      if (p.kind !== 'global') continue;
      for (const dim of p.shape) {
        if (dim.kind !== 'var') continue;
        if (top.has(dim.name) && top.get(dim.name)?.role !== 'symbol') {
          this.error(
            'TV3004',
            at,
            `shape symbol '${dim.name}' of param '${p.name}' has the same name as a const or param`,
          );
          continue;
        }
        this.launchNames.add(dim.name);
        top.set(dim.name, {
          value: { kind: 'scalar', expr: scalarVar(dim.name, i32) },
          mutable: false,
          span: at,
          role: 'symbol',
        });
      }
    }
    // A symbol used only inside expressions ('K / 2') cannot be bound from any tensor's shape.
    for (const p of this.b.paramList) {
      if (p.kind !== 'global') continue;
      for (const dim of p.shape) {
        for (const name of scalarVars(dim)) {
          if (this.launchNames.has(name) || top.has(name)) continue;
          this.error(
            'TV3002',
            at,
            `param '${p.name}': shape symbol '${name}' never appears alone as a dim, so a launch cannot bind it`,
            `make some dim exactly '${name}'`,
          );
          this.launchNames.add(name);
        }
      }
    }
  }

  // ---- scopes ----

  private lookup(name: string): Binding | undefined {
    for (let i = this.scopes.length - 1; i >= 0; i--) {
      const b = this.scopes[i].get(name);
      if (b) return b;
    }
    return undefined;
  }

  private inScope<T>(fill: () => T): T {
    this.scopes.push(new Map());
    try {
      return fill();
    } finally {
      this.scopes.pop();
    }
  }

  /** A fresh VM name for a scalar variable (users may shadow; the VM may not). */
  private scalarName(name: string): string {
    let candidate = name;
    // Resume after the last suffix taken for this name: probing from 1 each time is quadratic.
    let i = this.nextSuffix.get(name) ?? 1;
    for (; this.scalarNames.has(candidate) || this.launchNames.has(candidate); i++)
      candidate = `${name}_${i}`;
    this.nextSuffix.set(name, i);
    this.scalarNames.add(candidate);
    return candidate;
  }

  // ---- statements ----

  checkBody(body: readonly ast.Stmt[]): void {
    for (const s of body) this.checkStmt(s);
  }

  checkStmt(s: ast.Stmt): void {
    switch (s.kind) {
      case 'var':
        this.checkVarDecl(s);
        return;
      case 'assign':
        this.checkAssign(s);
        return;
      case 'expr':
        this.evaluate(s.expr);
        return;
      case 'for':
        this.checkFor(s);
        return;
      case 'if':
        this.checkIf(s);
        return;
      case 'return':
        if (this.fnDepth > 0) {
          this.error(
            'TV2020',
            s.span,
            'a device function returns once, at its end',
            'compute the result with where(...) and return it last',
          );
        } else {
          this.error(
            'TV2020',
            s.span,
            'a kernel cannot return',
            'kernels write results with store(...); edge tiles are masked, so no early exit is needed',
          );
        }
        return;
      case 'block':
        this.inScope(() => this.checkBody(s.body));
        return;
    }
  }

  private checkVarDecl(s: ast.VarDecl): void {
    const scope = this.scopes[this.scopes.length - 1];
    if (scope.has(s.name)) {
      this.error(
        'TV2019',
        s.nameSpan,
        `'${s.name}' is already declared in this block`,
        'pick another name, or assign without const/let',
      );
    }
    const init = this.evaluate(s.init);
    const value = this.bindable(init, s.declKind === 'let', s.name, s.init.span);
    scope.set(s.name, { value, mutable: s.declKind === 'let', span: s.nameSpan, role: 'variable' });
  }

  /** The value a variable holds: tiles are owned by one variable, runtime scalars are snapshots. */
  private bindable(v: Value, mutable: boolean, name: string, span: ast.Span): Value {
    if (v.kind === 'void')
      return this.error('TV2004', span, `this call produces no value to store in '${name}'`);
    if (v.kind === 'builtin' || v.kind === 'method') {
      return this.error('TV2004', span, `${describe(v)} must be called; it is not a value`);
    }
    if (v.kind === 'tile') {
      let tile = v.tile;
      if (this.owned.has(tile)) {
        const copy = this.emit(span, 'TV4001', () => this.b.reshape(tile, tile.type.shape, name));
        if (!copy) return ERROR;
        tile = copy;
      } else {
        (tile as { name: string }).name = name; // a fresh tile takes the variable's name in the IR
      }
      this.owned.add(tile);
      return { kind: 'tile', tile };
    }
    if (v.kind === 'scalar' || (v.kind === 'const' && mutable)) {
      const expr = v.kind === 'scalar' ? v.expr : constant(v.value, v.dtype);
      const vmName = this.scalarName(name);
      this.b.let(vmName, expr);
      return { kind: 'scalar', expr: scalarVar(vmName, expr.dtype) };
    }
    return v;
  }

  private checkAssign(s: ast.AssignStmt): void {
    const name = s.target.name;
    const binding = this.lookup(name);
    if (!binding) {
      this.error('TV2001', s.target.span, `'${name}' is not declared`, `declare it first: let ${name} = ...`);
      return;
    }
    if (!binding.mutable) {
      const why =
        binding.role === 'loop'
          ? 'is a loop variable; the loop owns it'
          : binding.role === 'param'
            ? 'is a param'
            : binding.role === 'symbol'
              ? 'is a shape symbol'
              : binding.role === 'const'
                ? 'is a compile-time const'
                : 'is declared with const';
      this.error(
        'TV2011',
        s.target.span,
        `cannot assign to '${name}': it ${why}`,
        binding.role === 'variable' ? `declare it with let` : undefined,
      );
      return;
    }
    const rhs = this.evaluate(s.value);
    const value =
      s.op === '=' ? rhs : this.binaryOperator(ASSIGN_TO_BINARY[s.op], binding.value, rhs, s.span, s.span);
    this.storeInto(binding, name, value, s.span);
  }

  private storeInto(binding: Binding, name: string, value: Value, span: ast.Span): void {
    const target = binding.value;
    if (value.kind === 'error' || target.kind === 'error') return;
    // A number or scalar converts to the variable's dtype only where an operator would promote it
    // to that dtype: 0.5 into an i32 variable would otherwise be truncated to 0 without a word.
    const have = value.kind === 'const' || value.kind === 'scalar' ? typeOf(value) : undefined;
    const want =
      target.kind === 'tile'
        ? target.tile.type.dtype
        : target.kind === 'scalar'
          ? target.expr.dtype
          : undefined;
    if (have && want && have.dtype !== want) {
      const p = promote(want, 2, have.dtype, have.strength);
      if (!p.ok || p.dtype !== want) {
        const holds =
          target.kind === 'tile'
            ? `holds ${want.name} tiles`
            : `is ${article(want.name)} ${want.name} scalar`;
        const fractions = want.kind === 'int' && have.dtype.kind === 'float';
        const hint = !fractions
          ? undefined
          : target.kind === 'tile'
            ? `make '${name}' a float tile to hold fractions, e.g. zeros(f32, [...])`
            : `declare it with a float value to hold fractions, e.g. let ${name} = 0.0`;
        this.error('TV2012', span, `'${name}' ${holds}; this value is ${have.dtype.name}`, hint);
        return;
      }
    }
    if (target.kind === 'tile') {
      const tile = this.asTile(value, target.tile.type.dtype, span, true);
      if (!tile) return;
      const want = target.tile.type;
      if (tile.type.dtype !== want.dtype) {
        this.error(
          'TV2012',
          span,
          `'${name}' holds ${want.dtype.name} tiles; this value is ${tile.type.dtype.name}`,
          `convert it: (...).to(${want.dtype.name})`,
        );
        return;
      }
      let src = tile;
      if (!sameShape(tile.type.shape, want.shape)) {
        if (!broadcastsTo(tile.type.shape, want.shape)) {
          this.error(
            'TV2012',
            span,
            `'${name}' is ${showShape(want.shape)}; a ${showShape(tile.type.shape)} tile cannot be assigned to it`,
          );
          return;
        }
        const stretched = this.emit(span, 'TV2012', () => this.b.broadcast(tile, want.shape));
        if (!stretched) return;
        src = stretched;
      }
      this.emit(span, 'TV4001', () => this.b.assign(target.tile, src));
      return;
    }
    if (target.kind === 'scalar' && target.expr.kind === 'var') {
      const expr = this.asScalar(value, target.expr.dtype, span);
      if (!expr) return;
      if (expr.dtype !== target.expr.dtype) {
        this.error(
          'TV2012',
          span,
          `'${name}' is ${article(target.expr.dtype.name)} ${target.expr.dtype.name} scalar; this value is ${expr.dtype.name}`,
        );
        return;
      }
      this.b.let(target.expr.name, expr);
      return;
    }
    this.error('TV2011', span, `cannot assign to '${name}': it holds ${describe(target)}`);
  }

  private checkFor(s: ast.ForStmt): void {
    const bounds = [s.start, s.stop, s.step].map((e) => this.loopBound(this.evaluate(e), e.span));
    if (bounds.some((x) => x === undefined)) return;
    let [start, stop, step] = bounds as ScalarExpr[];
    if (step.kind === 'const' && step.value <= 0) {
      this.error(
        'TV2023',
        s.step.span,
        `the loop step is ${step.value}; it must be positive`,
        'count upwards: for (let i = a; i < b; i += s) with s > 0',
      );
      return;
    }
    const written = stop;
    if (s.inclusive) stop = stop.kind === 'const' ? constant(stop.value + 1) : binary('add', stop, 1);
    if (
      start.kind === 'const' &&
      stop.kind === 'const' &&
      written.kind === 'const' &&
      start.value >= stop.value
    ) {
      // Quote the condition as written: for `i <= -1` say "0 <= -1 is false", not "0 to 0".
      this.frame.bag.warning(
        'TV2023',
        s.span,
        `this loop never runs: ${s.variable} starts at ${start.value}, and ${start.value} ${s.inclusive ? '<=' : '<'} ${written.value} is false`,
      );
    }
    const vmName = this.scalarName(s.variable);
    this.depth++;
    try {
      this.b.for(vmName, start, stop, step, (i) => {
        this.inScope(() => {
          this.scopes[this.scopes.length - 1].set(s.variable, {
            value: { kind: 'scalar', expr: i },
            mutable: false,
            span: s.variableSpan,
            role: 'loop',
          });
          this.checkBody(s.body.body);
        });
      });
    } finally {
      this.depth--;
    }
  }

  private loopBound(v: Value, span: ast.Span): ScalarExpr | undefined {
    if (v.kind === 'error') return undefined;
    if (v.kind === 'const' && v.dtype.kind === 'int' && Number.isInteger(v.value)) return constant(v.value);
    if (v.kind === 'scalar' && v.expr.dtype.kind === 'int')
      return v.expr.dtype === i32 ? v.expr : castScalar(v.expr, i32);
    this.error('TV2023', span, `loop bounds must be integer scalars, not ${describe(v)}`);
    return undefined;
  }

  private checkIf(s: ast.IfStmt): void {
    const cond = this.evaluate(s.cond);
    if (cond.kind === 'error') return;
    if (cond.kind === 'const') {
      // A compile-time condition selects code: only the taken branch is checked and emitted.
      const taken = cond.value !== 0 ? s.consequent : s.alternate;
      if (taken) this.inScope(() => this.checkBody(taken.body));
      return;
    }
    if (cond.kind !== 'scalar') {
      this.error(
        'TV2013',
        s.cond.span,
        `an if condition must be a scalar, not ${describe(cond)}`,
        cond.kind === 'tile' ? 'choose per element with where(cond, a, b)' : undefined,
      );
      return;
    }
    if (cond.expr.dtype.kind === 'float') {
      this.error(
        'TV2013',
        s.cond.span,
        `an if condition must be bool or integer, not ${cond.expr.dtype.name}`,
        'compare it: x != 0',
      );
      return;
    }
    this.depth++;
    try {
      this.b.if(
        cond.expr,
        () => this.inScope(() => this.checkBody(s.consequent.body)),
        s.alternate ? () => this.inScope(() => this.checkBody(s.alternate?.body ?? [])) : undefined,
      );
    } finally {
      this.depth--;
    }
  }

  // ---- expressions ----

  evaluate(e: ast.Expr): Value {
    switch (e.kind) {
      case 'number':
        return this.numberLiteral(e);
      case 'bool':
        return { kind: 'const', value: e.value ? 1 : 0, dtype: bool, weak: false };
      case 'ident':
        return this.identifier(e);
      case 'interp':
        return this.interpolation(e);
      case 'member':
        return memberOf(this, this.evaluate(e.object), e);
      case 'index':
        return this.indexExpr(e);
      case 'call':
        return this.call(e);
      case 'array': {
        const items = e.elements.map((x) => this.evaluate(x));
        return { kind: 'array', items, spans: e.elements.map((x) => x.span) } satisfies ArrayValue;
      }
      case 'object': {
        const props = new Map<string, { value: Value; span: ast.Span; keySpan: ast.Span }>();
        for (const p of e.props) {
          if (props.has(p.key)) this.error('TV2016', p.keySpan, `option '${p.key}' is given twice`);
          props.set(p.key, { value: this.evaluate(p.value), span: p.value.span, keySpan: p.keySpan });
        }
        return { kind: 'object', props } satisfies ObjectValue;
      }
      case 'unary':
        return this.unaryOperator(e);
      case 'binary':
        return this.binaryOperator(e.op, this.evaluate(e.left), this.evaluate(e.right), e.span, e.opSpan);
      case 'conditional':
        return this.conditional(e);
      case 'error':
        return ERROR;
    }
  }

  private numberLiteral(e: ast.NumberLit): Value {
    if (!e.suffix)
      return {
        kind: 'const',
        value: e.isFloat ? Math.fround(e.value) : e.value,
        dtype: e.isFloat ? f32 : i32,
        weak: true,
      };
    const dtype = ALL_DTYPES.find((d) => d.name === e.suffix);
    if (!dtype) return this.error('TV1003', e.span, `unknown dtype suffix '${e.suffix}'`);
    return this.suffixedConst(e.value, dtype, e);
  }

  /** A literal with a dtype suffix; `negate` for `-128i8`, which must not be read as -(128i8). */
  private suffixedConst(literal: number, dtype: DType, e: ast.NumberLit, negate = false): Value {
    const v = negate ? -literal : literal;
    if (dtype.kind !== 'float' && !Number.isInteger(v)) {
      return this.error(
        'TV1003',
        e.span,
        `${e.value}${e.suffix}: an integer suffix needs an integer literal`,
      );
    }
    const value = normalize(dtype, v);
    if (dtype.kind === 'int' && value !== v) {
      return this.error('TV2025', e.span, `${v} does not fit in ${dtype.name} (${dtype.min}..${dtype.max})`);
    }
    return { kind: 'const', value, dtype, weak: false };
  }

  private identifier(e: ast.Ident): Value {
    const binding = this.lookup(e.name);
    if (binding) return binding.value;
    const dtype = ALL_DTYPES.find((d) => d.name === e.name);
    if (dtype) return { kind: 'dtype', dtype };
    if (isBuiltinName(e.name)) return { kind: 'builtin', name: e.name };
    const similar = this.similarName(e.name);
    return this.error(
      'TV2001',
      e.span,
      `unknown name '${e.name}'`,
      similar ? `did you mean '${similar}'?` : undefined,
    );
  }

  private similarName(name: string): string | undefined {
    const candidates: string[] = [];
    for (const scope of this.scopes) candidates.push(...scope.keys());
    candidates.push(...ALL_DTYPES.map((d) => d.name), ...builtinNames());
    let best: string | undefined;
    // Short names need close matches, or every typo "means" some dtype.
    let bestDistance = Math.min(3, Math.max(1, Math.floor(name.length / 3)) + 1);
    for (const c of candidates) {
      if (Math.abs(c.length - name.length) >= bestDistance) continue; // cannot be closer
      const d = editDistance(name.toLowerCase(), c.toLowerCase());
      if (d < bestDistance) {
        best = c;
        bestDistance = d;
      }
    }
    return best;
  }

  private interpolation(e: ast.Interp): Value {
    const v = this.frame.values[e.index];
    if (typeof v === 'number')
      return { kind: 'const', value: v, dtype: Number.isInteger(v) ? i32 : f32, weak: true };
    if (typeof v === 'boolean') return { kind: 'const', value: v ? 1 : 0, dtype: bool, weak: false };
    if (isDTypeObject(v)) return { kind: 'dtype', dtype: v };
    if (v instanceof Layout) return { kind: 'layout', layout: v };
    if (v instanceof DeviceFn) return { kind: 'fn', fn: v };
    const what =
      v === null || v === undefined
        ? String(v)
        : Array.isArray(v)
          ? 'an array'
          : typeof v === 'function'
            ? 'a JavaScript function'
            : typeof v === 'object'
              ? 'an object'
              : `a ${typeof v}`;
    return this.error(
      'TV3001',
      e.span,
      `interpolation \${${e.index}} is ${what}; kernels accept numbers, booleans, dtypes, layouts and fn() device functions`,
      typeof v === 'function'
        ? 'wrap device code in fn({...})`...` instead of a JavaScript function'
        : typeof v === 'string'
          ? 'interpolations are values, not code: write the code into the kernel text instead'
          : undefined,
    );
  }

  private indexExpr(e: ast.IndexExpr): Value {
    const obj = this.evaluate(e.object);
    const index = this.evaluate(e.index);
    if (obj.kind === 'error' || index.kind === 'error') return ERROR;
    if (obj.kind !== 'array')
      return this.error(
        'TV2004',
        e.span,
        `only arrays can be indexed here, not ${describe(obj)}`,
        'tiles are indexed by load/store offsets',
      );
    if (index.kind !== 'const' || !Number.isInteger(index.value)) {
      return this.error('TV2007', e.index.span, 'an array index must be a compile-time integer');
    }
    const i = index.value < 0 ? obj.items.length + index.value : index.value;
    if (i < 0 || i >= obj.items.length) {
      return this.error(
        'TV2009',
        e.index.span,
        `index ${index.value} is out of range for an array of ${obj.items.length}`,
      );
    }
    return obj.items[i];
  }

  private call(e: ast.Call): Value {
    const callee = this.evaluate(e.callee);
    if (callee.kind === 'error') {
      for (const a of e.args) this.evaluate(a);
      return ERROR;
    }
    const args = e.args.map((a) => this.evaluate(a));
    const site = { args, spans: e.args.map((a) => a.span), span: e.span, calleeSpan: e.callee.span };
    if (callee.kind === 'builtin') return callBuiltin(this, callee.name, site);
    if (callee.kind === 'method') return callMethod(this, callee, site);
    if (callee.kind === 'fn') return this.inlineFn(callee.fn, site);
    return this.error('TV2002', e.callee.span, `${describe(callee)} is not callable`);
  }

  private unaryOperator(e: ast.UnaryExpr): Value {
    const lit = e.operand;
    if (e.op === '-' && lit.kind === 'number' && lit.suffix) {
      const dtype = ALL_DTYPES.find((d) => d.name === lit.suffix);
      if (dtype) return this.suffixedConst(lit.value, dtype, lit, true);
    }
    const v = this.evaluate(e.operand);
    if (v.kind === 'error') return ERROR;
    switch (e.op) {
      case '+':
        return this.isNumeric(v)
          ? v
          : this.error('TV2004', e.span, `unary + needs a number, not ${describe(v)}`);
      case '-':
        return this.unaryMath('neg', v, e.span, 'unary -');
      case '~':
        return this.unaryMath('not', v, e.span, '~');
      case '!': {
        const isBool =
          (v.kind === 'const' && v.dtype === bool) ||
          (v.kind === 'scalar' && v.expr.dtype === bool) ||
          (v.kind === 'tile' && v.tile.type.dtype === bool);
        if (isBool) return this.unaryMath('not', v, e.span, '!');
        // !x on a number means x == 0; say '!', not '==', when x is not a number.
        if (v.kind === 'shared') return this.sharedMisuse(e.span);
        if (!this.isNumeric(v))
          return this.error('TV2004', e.span, `! needs a bool or a number, not ${describe(v)}`);
        return this.binaryOperator(
          '==',
          v,
          { kind: 'const', value: 0, dtype: i32, weak: true },
          e.span,
          e.span,
        );
      }
    }
  }

  private isNumeric(v: Value): boolean {
    return v.kind === 'const' || v.kind === 'scalar' || v.kind === 'tile';
  }

  /** Applies a unary VM op to a const (folded), a scalar or a tile. */
  unaryMath(
    op:
      | 'neg'
      | 'not'
      | 'abs'
      | 'exp'
      | 'exp2'
      | 'log'
      | 'log2'
      | 'sqrt'
      | 'rsqrt'
      | 'tanh'
      | 'erf'
      | 'sin'
      | 'cos'
      | 'floor'
      | 'ceil'
      | 'round'
      | 'trunc',
    v: Value,
    span: ast.Span,
    spelled: string = op,
  ): Value {
    if (v.kind === 'error') return ERROR;
    const floatOnly = !['neg', 'not', 'abs'].includes(op);
    if (v.kind === 'const' || v.kind === 'scalar') {
      let dtype = v.kind === 'const' ? v.dtype : v.expr.dtype;
      const weak = v.kind === 'const' ? v.weak : true;
      if (floatOnly && dtype.kind !== 'float') {
        if (!weak)
          return this.error(
            'TV2014',
            span,
            `${spelled} needs a float, not ${dtype.name}`,
            `convert it first: .to(f32)`,
          );
        dtype = f32;
      }
      if (op === 'not' && dtype.kind === 'float')
        return this.error('TV2014', span, `~ needs an integer, not ${dtype.name}`);
      if (dtype === bool && op !== 'not')
        return this.error('TV2014', span, `${spelled} is not defined on bool`);
      if (v.kind === 'const') {
        const value = castValue(v.dtype, dtype, v.value);
        return { kind: 'const', value: applyUnary(op, dtype, value), dtype, weak: v.weak };
      }
      const expr = v.expr.dtype === dtype ? v.expr : castScalar(v.expr, dtype);
      return { kind: 'scalar', expr: { kind: 'unary', op, a: expr, dtype } };
    }
    if (v.kind === 'tile') {
      const d = v.tile.type.dtype;
      if (floatOnly && d.kind !== 'float')
        return this.error(
          'TV2014',
          span,
          `${spelled} needs a float tile, not ${d.name}`,
          'convert it first: .to(f32)',
        );
      if (op === 'not' && d.kind === 'float')
        return this.error('TV2014', span, `~ needs an integer tile, not ${d.name}`);
      if (d === bool && op !== 'not')
        return this.error('TV2014', span, `${spelled} is not defined on bool tiles`);
      const out = this.emit(span, 'TV2014', () => this.b.unary(op, v.tile));
      return out ? { kind: 'tile', tile: out } : ERROR;
    }
    if (v.kind === 'shared') return this.sharedMisuse(span);
    return this.error('TV2004', span, `${spelled} needs a number or a tile, not ${describe(v)}`);
  }

  sharedMisuse(span: ast.Span): Value {
    return this.error(
      'TV2022',
      span,
      'a shared tile is memory, not a value',
      'read it into registers first: s.load()',
    );
  }

  binaryOperator(operator: ast.BinaryOperator, a: Value, b: Value, span: ast.Span, opSpan: ast.Span): Value {
    if (a.kind === 'error' || b.kind === 'error') return ERROR;
    const op = OPERATOR_OPS[operator];
    if (a.kind === 'shared' || b.kind === 'shared') return this.sharedMisuse(span);
    if (!this.isNumeric(a) || !this.isNumeric(b)) {
      const bad = this.isNumeric(a) ? b : a;
      return this.error(
        'TV2004',
        opSpan,
        `operator ${operator} needs numbers or tiles, not ${describe(bad)}`,
      );
    }
    return this.binaryMath(op, a, b, span, operator);
  }

  /** A binary VM op on consts (folded), scalars or tiles, with promotion and broadcasting. */
  binaryMath(op: BinaryOp, a: Value, b: Value, span: ast.Span, spelled: string = op): Value {
    if (a.kind === 'error' || b.kind === 'error') return ERROR;
    const ta = typeOf(a);
    const tb = typeOf(b);
    if (!ta || !tb)
      return this.error('TV2004', span, `${spelled} needs numbers or tiles, not ${describe(ta ? b : a)}`);
    const p = promote(ta.dtype, ta.strength, tb.dtype, tb.strength);
    if (!p.ok) {
      return this.error(
        'TV2005',
        span,
        `cannot apply ${spelled} to ${describe(a)} and ${describe(b)}: ${p.why}`,
        'convert one side with .to(dtype)',
      );
    }
    let dtype = p.dtype;
    const intLiterals = a.kind === 'const' && b.kind === 'const' && a.weak && b.weak && dtype === i32;
    if (op === 'pow' && intLiterals && b.value >= 0) {
      const exact = a.value ** b.value;
      if (Number.isInteger(exact) && exact >= i32.min && exact <= i32.max)
        return { kind: 'const', value: exact, dtype: i32, weak: true };
    }
    if (spelled === '>>>' && intLiterals) {
      return { kind: 'const', value: (a.value >>> (b.value & 31)) | 0, dtype: i32, weak: true };
    }
    if (FLOAT_ONLY_BINARY.has(op) && dtype.kind !== 'float') {
      if (ta.weak && tb.weak) dtype = f32;
      else
        return this.error(
          'TV2014',
          span,
          `${spelled} needs float operands, not ${dtype.name}`,
          'convert with .to(f32)',
        );
    }
    // Before the integer check: && and || take bools, so "needs integer operands" would mislead.
    if ((op === 'and' || op === 'or') && (spelled === '&&' || spelled === '||') && dtype !== bool) {
      return this.error(
        'TV2014',
        span,
        `${spelled} needs bool operands, not ${dtype.name}`,
        'compare first, e.g. (x != 0) && (y != 0)',
      );
    }
    if (INT_ONLY_BINARY.has(op) && dtype.kind === 'float') {
      return this.error('TV2014', span, `${spelled} needs integer operands, not ${dtype.name}`);
    }
    if (dtype === bool && !BOOL_BINARY.has(op)) {
      return this.error(
        'TV2014',
        span,
        `${spelled} is not defined on bool`,
        'convert with .to(i32) for arithmetic',
      );
    }
    if (spelled === '>>>' && dtype.kind === 'int' && dtype.signed) {
      return this.error(
        'TV2014',
        span,
        `>>> on signed ${dtype.name} is not supported`,
        'use >> (arithmetic), or convert to an unsigned dtype',
      );
    }
    if (a.kind === 'const' && b.kind === 'const') {
      const x = castValue(a.dtype, dtype, a.value);
      const y = castValue(b.dtype, dtype, b.value);
      const literals = a.weak && b.weak && dtype === i32;
      if (literals && (op === 'add' || op === 'sub' || op === 'mul')) {
        // Literal arithmetic is exact or an error: it must not wrap at 32 bits unnoticed.
        const exact = op === 'add' ? x + y : op === 'sub' ? x - y : x * y;
        if (exact < i32.min || exact > i32.max) {
          return this.error(
            'TV2025',
            span,
            `${x} ${spelled === op ? op : spelled} ${y} = ${exact} overflows i32`,
          );
        }
      }
      const value = applyBinary(op, dtype, x, y);
      return {
        kind: 'const',
        value,
        dtype: COMPARISON_OPS.has(op) ? bool : dtype,
        weak: COMPARISON_OPS.has(op) ? false : a.weak && b.weak,
      };
    }
    if (a.kind !== 'tile' && b.kind !== 'tile') {
      const ea = this.asScalar(a, dtype, span);
      const eb = this.asScalar(b, dtype, span);
      if (!ea || !eb) return ERROR;
      return {
        kind: 'scalar',
        expr: { kind: 'binary', op, a: ea, b: eb, dtype: COMPARISON_OPS.has(op) ? bool : dtype },
      } satisfies ScalarValue;
    }
    const xa = this.asTile(a, dtype, span);
    const xb = this.asTile(b, dtype, span);
    if (!xa || !xb) return ERROR;
    try {
      broadcastShapes(xa.type.shape, xb.type.shape);
    } catch {
      return this.error(
        'TV2006',
        span,
        `cannot apply ${spelled} to ${describe(a)} and ${describe(b)}: shapes ${showShape(xa.type.shape)} and ${showShape(xb.type.shape)} do not broadcast`,
        'make dims equal or 1, e.g. with .unsqueeze(axis) or .repeat(...)',
      );
    }
    const out = this.emit(span, 'TV2006', () => this.b.binary(op, xa, xb));
    return out ? ({ kind: 'tile', tile: out } satisfies TileValue) : ERROR;
  }

  private conditional(e: ast.ConditionalExpr): Value {
    const cond = this.evaluate(e.cond);
    if (cond.kind === 'const')
      return cond.value !== 0 ? this.evaluate(e.whenTrue) : this.evaluate(e.whenFalse);
    const a = this.evaluate(e.whenTrue);
    const b = this.evaluate(e.whenFalse);
    if (cond.kind === 'error' || a.kind === 'error' || b.kind === 'error') return ERROR;
    if (
      cond.kind === 'scalar' &&
      cond.expr.dtype.kind === 'int' &&
      (a.kind === 'tile' || b.kind === 'tile')
    ) {
      // An integer condition means "nonzero", as in if (...): make it bool for where().
      const nonzero = this.binaryMath('ne', cond, weakConst(0), e.cond.span);
      return this.where(nonzero, a, b, e.span, e.cond.span);
    }
    if (cond.kind === 'scalar' && a.kind !== 'tile' && b.kind !== 'tile') {
      const ta = typeOf(a);
      const tb = typeOf(b);
      if (!ta || !tb)
        return this.error('TV2004', e.span, `?: needs numbers or tiles, not ${describe(ta ? b : a)}`);
      const p = promote(ta.dtype, ta.strength, tb.dtype, tb.strength);
      if (!p.ok)
        return this.error(
          'TV2005',
          e.span,
          `the branches of ?: do not mix: ${p.why}`,
          'convert one side with .to(dtype)',
        );
      const c = this.asScalar(cond, bool, e.cond.span);
      const ea = this.asScalar(a, p.dtype, e.whenTrue.span);
      const eb = this.asScalar(b, p.dtype, e.whenFalse.span);
      if (!c || !ea || !eb) return ERROR;
      return { kind: 'scalar', expr: select(c, ea, eb) };
    }
    return this.where(cond, a, b, e.span, e.cond.span);
  }

  /** Elementwise choice; the condition is a bool tile or scalar, the branches promote. */
  where(cond: Value, a: Value, b: Value, span: ast.Span, condSpan: ast.Span): Value {
    if (cond.kind === 'error' || a.kind === 'error' || b.kind === 'error') return ERROR;
    const tc = typeOf(cond);
    if (!tc || tc.dtype !== bool) {
      return this.error(
        'TV2005',
        condSpan,
        `the condition must be bool, not ${describe(cond)}`,
        'compare to make one, e.g. x > 0',
      );
    }
    const ta = typeOf(a);
    const tb = typeOf(b);
    if (!ta || !tb)
      return this.error('TV2004', span, `where needs numbers or tiles, not ${describe(ta ? b : a)}`);
    const p = promote(ta.dtype, ta.strength, tb.dtype, tb.strength);
    if (!p.ok)
      return this.error(
        'TV2005',
        span,
        `the branches do not mix: ${p.why}`,
        'convert one side with .to(dtype)',
      );
    const c = this.asTile(cond, bool, condSpan);
    const xa = this.asTile(a, p.dtype, span);
    const xb = this.asTile(b, p.dtype, span);
    if (!c || !xa || !xb) return ERROR;
    try {
      broadcastShapes(c.type.shape, broadcastShapes(xa.type.shape, xb.type.shape));
    } catch {
      return this.error(
        'TV2006',
        span,
        `where: shapes ${showShape(c.type.shape)}, ${showShape(xa.type.shape)} and ${showShape(xb.type.shape)} do not broadcast`,
      );
    }
    const out = this.emit(span, 'TV2006', () => this.b.where(c, xa, xb));
    return out ? { kind: 'tile', tile: out } : ERROR;
  }

  // ---- conversions ----

  /** A const or scalar as a scalar expression of `dtype` (numbers convert by the cast rules). */
  asScalar(v: Value, dtype: DType, span: ast.Span): ScalarExpr | undefined {
    if (v.kind === 'const') {
      // A number meets an integer dtype: it must be a value of it, not silently wrapped or cut.
      if (
        v.weak &&
        dtype.kind === 'int' &&
        !(Number.isInteger(v.value) && v.value >= dtype.min && v.value <= dtype.max)
      ) {
        const what = Number.isInteger(v.value)
          ? `does not fit in ${dtype.name} (${dtype.min}..${dtype.max})`
          : `is not an integer, but the value is used as ${dtype.name}`;
        this.error('TV2025', span, `${showNumber(v.value, v.dtype)} ${what}`);
        return undefined;
      }
      return constant(castValue(v.dtype, dtype, v.value), dtype);
    }
    if (v.kind === 'scalar') return v.expr.dtype === dtype ? v.expr : castScalar(v.expr, dtype);
    if (v.kind !== 'error') this.error('TV2004', span, `expected a scalar, found ${describe(v)}`);
    return undefined;
  }

  /** A tile, const or scalar as a register tile of `dtype` (consts and scalars become 0-d tiles). */
  asTile(v: Value, dtype: DType, span: ast.Span, keepDtype = false): TileVar | undefined {
    if (v.kind === 'tile') {
      if (v.tile.type.dtype === dtype || keepDtype) return v.tile;
      return this.emit(span, 'TV2005', () => this.b.cast(v.tile, dtype));
    }
    if (v.kind === 'const' || v.kind === 'scalar') {
      const expr = this.asScalar(v, dtype, span);
      return expr ? this.emit(span, 'TV2005', () => this.b.full(dtype, [], expr, 'c')) : undefined;
    }
    if (v.kind === 'shared') this.sharedMisuse(span);
    else if (v.kind !== 'error')
      this.error('TV2004', span, `expected a tile or a number, found ${describe(v)}`);
    return undefined;
  }

  // ---- device functions ----

  private inlineFn(f: DeviceFn, site: { args: Value[]; spans: ast.Span[]; span: ast.Span }): Value {
    const sig = f.signature;
    const invalid = fnSignatureProblem(sig);
    if (invalid)
      return this.error(
        'TV3002',
        site.span,
        invalid,
        "declare it as fn({ name: 'f', params: { x: f32 }, returns: f32 })`...`",
      );
    const params = Object.entries(sig.params);
    if (site.args.length !== params.length) {
      return this.error(
        'TV2003',
        site.span,
        `'${sig.name}' takes ${params.length} argument${params.length === 1 ? '' : 's'} (${params.map(([n, d]) => `${n}: ${d.name}`).join(', ')}), got ${site.args.length}`,
      );
    }
    if (this.fnDepth >= MAX_FN_DEPTH)
      return this.error(
        'TV2002',
        site.span,
        `device functions nest deeper than ${MAX_FN_DEPTH} calls (recursion?)`,
      );
    const bound = new Map<string, Binding>();
    for (const [i, [name, dtype]] of params.entries()) {
      const arg = site.args[i];
      if (arg.kind === 'error') return ERROR;
      const t = typeOf(arg);
      if (!t)
        return this.error(
          'TV2004',
          site.spans[i],
          `'${sig.name}' parameter '${name}' takes ${dtype.name} values, not ${describe(arg)}`,
        );
      if (t.dtype !== dtype && !t.weak) {
        return this.error(
          'TV2005',
          site.spans[i],
          `'${sig.name}' parameter '${name}' is ${dtype.name}, but the argument is ${describe(arg)}`,
          `convert it: .to(${dtype.name})`,
        );
      }
      let value: Value = arg;
      if (arg.kind === 'const')
        value = { kind: 'const', value: castValue(arg.dtype, dtype, arg.value), dtype, weak: false };
      else if (arg.kind === 'scalar')
        value = { kind: 'scalar', expr: this.asScalar(arg, dtype, site.spans[i]) as ScalarExpr };
      else if (arg.kind === 'tile' && arg.tile.type.dtype !== dtype) {
        const cast = this.asTile(arg, dtype, site.spans[i]);
        if (!cast) return ERROR;
        value = { kind: 'tile', tile: cast };
      }
      bound.set(name, { value, mutable: false, span: site.spans[i], role: 'param' });
    }
    const { ast: body, bag } = f.parse();
    if (bag.hasErrors) {
      if (!this.reportedFns.has(f)) {
        this.reportedFns.add(f);
        this.fnBags.push(bag);
      }
      return ERROR;
    }
    const last = body.body.at(-1);
    const fnBag = this.fnBag(f);
    const saved = { frame: this.frame, scopes: this.scopes };
    this.frame = { bag: fnBag, values: f.values };
    this.scopes = [bound];
    this.fnDepth++;
    try {
      if (last?.kind !== 'return' || !last.value) {
        this.error(
          'TV2020',
          last?.span ?? body.span,
          `device function '${sig.name}' must end with return <value>;`,
        );
        return ERROR;
      }
      for (const s of body.body.slice(0, -1)) {
        if (s.kind === 'return') {
          this.error(
            'TV2020',
            s.span,
            'a device function returns once, at its end',
            'compute the result with where(...) and return it last',
          );
          return ERROR;
        }
        this.checkStmt(s);
      }
      const result = this.evaluate(last.value);
      if (result.kind === 'error') return ERROR;
      const t = typeOf(result);
      if (!t)
        return this.error(
          'TV2020',
          last.value.span,
          `'${sig.name}' must return ${sig.returns.name} values, not ${describe(result)}`,
        );
      if (result.kind === 'const')
        return {
          kind: 'const',
          value: castValue(result.dtype, sig.returns, result.value),
          dtype: sig.returns,
          weak: false,
        };
      if (t.dtype !== sig.returns) {
        return this.error(
          'TV2020',
          last.value.span,
          `'${sig.name}' declares returns: ${sig.returns.name}, but this value is ${t.dtype.name}`,
          `convert it: .to(${sig.returns.name})`,
        );
      }
      return result;
    } finally {
      this.fnDepth--;
      this.frame = saved.frame;
      this.scopes = saved.scopes;
    }
  }

  /** Diagnostics inside a fn body go to a bag of that fn's source, collected by the caller. */
  readonly fnBags: DiagnosticBag[] = [];
  private readonly reportedFns = new Set<DeviceFn>();
  private readonly fnBagsByFn = new Map<DeviceFn, DiagnosticBag>();
  private fnBag(f: DeviceFn): DiagnosticBag {
    let bag = this.fnBagsByFn.get(f);
    if (!bag) {
      bag = new DiagnosticBag(f.source, f.signature.name);
      this.fnBagsByFn.set(f, bag);
      this.fnBags.push(bag);
    }
    return bag;
  }
}

/** What is wrong with a device function's signature (JavaScript callers can pass anything). */
function fnSignatureProblem(sig: unknown): string | undefined {
  if (!sig || typeof sig !== 'object') return 'a device function needs a signature object';
  const { name, params, returns } = sig as Partial<Record<'name' | 'params' | 'returns', unknown>>;
  if (typeof name !== 'string' || name === '') return 'a device function needs a name';
  const fn = `device function '${name}'`;
  if (!params || typeof params !== 'object')
    return `${fn}: params must be an object of dtypes, like { x: f32 }`;
  for (const [p, d] of Object.entries(params)) {
    if (!isDTypeObject(d)) return `${fn}: param '${p}' must be a dtype such as f32, not ${describeJs(d)}`;
  }
  if (!isDTypeObject(returns))
    return `${fn}: returns must be a dtype such as f32, not ${describeJs(returns)}`;
  return undefined;
}

/** A JavaScript value where a dtype belongs, for a message: "the string 'f32'", "undefined". */
function describeJs(x: unknown): string {
  if (typeof x === 'string') return `the string '${x}'`;
  if (typeof x === 'number' || typeof x === 'boolean' || x == null) return String(x);
  return typeof x === 'object' ? 'an object' : `a ${typeof x}`;
}

/** The dtype of a numeric value, and whether it adapts to the other operand. */
export function typeOf(v: Value): { dtype: DType; weak: boolean; strength: Strength } | undefined {
  if (v.kind === 'const') return { dtype: v.dtype, weak: v.weak, strength: v.weak ? 0 : 2 };
  if (v.kind === 'scalar') return { dtype: v.expr.dtype, weak: true, strength: 1 };
  if (v.kind === 'tile') return { dtype: v.tile.type.dtype, weak: false, strength: 2 };
  return undefined;
}

export function weakConst(value: number): ConstValue {
  return { kind: 'const', value, dtype: Number.isInteger(value) ? i32 : f32, weak: true };
}

export function isDTypeObject(x: unknown): x is DType {
  return ALL_DTYPES.includes(x as DType);
}

/** Edits (insert, delete, substitute, swap two adjacent characters) turning a into b. */
function editDistance(a: string, b: string): number {
  let before = Array.from({ length: b.length + 1 }, () => 0);
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      // A transposition ('tiel' for 'tile') is one typo, not two.
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        row[j] = Math.min(row[j], before[j - 2] + 1);
    }
    before = prev;
    prev = row;
  }
  return prev[b.length];
}
