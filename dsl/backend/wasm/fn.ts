// Building wasm functions with binaryen: locals, loops and lazily added helper functions.
//
// Binaryen expressions form a tree (a node has one parent), so a value used more than once lives in
// a local. Op builders therefore take operands as `Val` thunks, each call a fresh `local.get` (or a
// constant); whatever needs an intermediate twice is a helper function, which binaryen's inliner
// folds back in.
import binaryen from 'binaryen';

export type Ref = binaryen.ExpressionRef;
export type Type = binaryen.Type;
/** An operand: every call yields a fresh expression for the same (pure, cheap) value. */
export type Val = () => Ref;

/** Register types of tile elements: floats in f32, integers and bool in i32. */
export type Reg = 'i32' | 'f32';

/** A function under construction: its params, the locals it allocates, unique labels. */
export class Fn {
  private readonly vars: Type[] = [];
  private labels = 0;

  constructor(
    readonly m: binaryen.Module,
    readonly params: readonly Type[],
  ) {}

  /** A fresh local of `type`; its index. */
  local(type: Type): number {
    this.vars.push(type);
    return this.params.length + this.vars.length - 1;
  }

  localType(index: number): Type {
    return index < this.params.length ? this.params[index] : this.vars[index - this.params.length];
  }

  get(index: number): Ref {
    return this.m.local.get(index, this.localType(index));
  }

  /** A thunk reading local `index`. */
  val(index: number): Val {
    return () => this.get(index);
  }

  set(index: number, value: Ref): Ref {
    return this.m.local.set(index, value);
  }

  /** Stores `value` in a fresh local: the statement that sets it, and a reader. */
  save(value: Ref, type: Type): [Ref, Val] {
    const i = this.local(type);
    return [this.set(i, value), this.val(i)];
  }

  /** `value` as an expression whose statements run first (a block with a result). */
  seq(stmts: readonly Ref[], value: Ref, type: Type): Ref {
    return stmts.length === 0 ? value : this.m.block(null, [...stmts, value], type);
  }

  label(base: string): string {
    return `${base}${this.labels++}`;
  }

  /** `local += k` (nothing for k = 0). */
  bump(index: number, k: number): Ref[] {
    if (k === 0) return [];
    return [this.set(index, this.m.i32.add(this.get(index), this.m.i32.const(k)))];
  }

  /**
   * Runs `body` for i = 0 .. n - 1 (n a compile-time count >= 0). `i` reads the counter (a constant
   * when n is 1); `after` runs at the end of every iteration (pointer increments).
   */
  repeat(n: number, body: (i: Val) => Ref[], after: () => Ref[] = () => []): Ref[] {
    const m = this.m;
    if (n <= 0) return [];
    if (n === 1) return [...body(() => m.i32.const(0)), ...after()];
    const i = this.local(binaryen.i32);
    const loop = this.label('L');
    return [
      this.set(i, m.i32.const(0)),
      m.loop(
        loop,
        m.block(null, [
          ...body(this.val(i)),
          ...after(),
          this.set(i, m.i32.add(this.get(i), m.i32.const(1))),
          m.br(loop, m.i32.lt_s(this.get(i), m.i32.const(n))),
        ]),
      ),
    ];
  }

  /** `while (cond) { body }`, cond re-evaluated before every iteration. */
  while(cond: () => Ref, body: Ref[]): Ref {
    const m = this.m;
    const out = this.label('W');
    const loop = this.label('L');
    return m.block(out, [m.loop(loop, m.block(null, [m.br(out, m.i32.eqz(cond())), ...body, m.br(loop)]))]);
  }

  /** Adds the function to the module. */
  finish(name: string, result: Type, body: readonly Ref[]): void {
    const m = this.m;
    const block = body.length === 1 ? body[0] : m.block(null, [...body], result);
    m.addFunction(name, binaryen.createType([...this.params]), result, this.vars, block);
  }
}

/** The module and the helper functions added to it so far (each once, on first use). */
export class Module {
  readonly m = new binaryen.Module();
  private readonly helpers = new Set<string>();
  private readonly hot = new Set<string>();

  /**
   * The helper function `name`, built by `build` the first time it is asked for. Helpers may use
   * other helpers while building. A `hot` helper is one that per-element scalar code calls (an f16
   * decode in a load loop): it is inlined even above binaryen's default size limit (see index.ts).
   */
  helper(name: string, params: readonly Type[], result: Type, build: (f: Fn) => Ref[], hot = false): string {
    if (!this.helpers.has(name)) {
      this.helpers.add(name);
      if (hot) this.hot.add(name);
      const f = new Fn(this.m, params);
      f.finish(name, result, build(f));
    }
    return name;
  }

  /** `helper`, marked hot. */
  hotHelper(name: string, params: readonly Type[], result: Type, build: (f: Fn) => Ref[]): string {
    return this.helper(name, params, result, build, true);
  }

  /** The helpers added so far, split by whether they are hot. */
  helperNames(): { hot: string[]; cold: string[] } {
    const all = [...this.helpers];
    return { hot: all.filter((n) => this.hot.has(n)), cold: all.filter((n) => !this.hot.has(n)) };
  }

  /** A call of helper `name` (see `helper`) with the given arguments. */
  call(name: string, args: readonly Ref[], result: Type): Ref {
    return this.m.call(name, [...args], result);
  }
}
