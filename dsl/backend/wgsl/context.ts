// The state of one compilation: names, the helper functions used, the declarations hoisted to the
// top of `main`, register and shared tiles, and the scratch array every cross-thread op stages
// through.
import type { DType } from '../../dtype.js';
import type { GlobalParam, Program, Stmt, TileVar } from '../../ir/program.js';
import type { ScalarExpr } from '../../ir/scalar.js';
import { numel } from '../../ir/shapes.js';
import { i32Expr, type Reg, reg, type ScalarScope, scalarExpr } from './expr.js';
import { inferLayouts } from './layout-inference.js';
import {
  CYCLIC,
  type Holder,
  holder,
  type LayoutCode,
  layoutCode,
  localSlots,
  type Placement,
  placementName,
  sameHolding,
  slotMapExpr,
} from './layouts.js';
import { Namer } from './names.js';
import type { SubgroupReduce } from './subgroups.js';
import {
  at,
  declareTile,
  eachElement,
  fromBits,
  makeTile,
  type TileInfo,
  type TileLayout,
  toBits,
} from './tiles.js';
import { Helpers, Writer } from './writer.js';

/** Bytes of workgroup memory a shader may use (WebGPU's default maxComputeWorkgroupStorageSize). */
export const WORKGROUP_STORAGE_LIMIT = 16384;

/** A global tensor param as the shader binds it. */
export interface GlobalInfo {
  readonly p: GlobalParam;
  /** The storage buffer's WGSL name. */
  readonly name: string;
  readonly binding: number;
  /** Sub-32-bit elements written here: an array of atomics, so threads can update parts of one word. */
  readonly atomic: boolean;
  /** Names of its helper functions: flat index, load and store of one element. */
  readonly fns: { readonly index: string; readonly load: string; readonly store: string };
}

/** A field of the uniform struct. */
export interface UniformField {
  /** The name the runtime knows (symbol, scalar param, or grid_x ...). */
  readonly name: string;
  /** The struct member's WGSL name. */
  readonly field: string;
  readonly source: 'symbol' | 'scalar' | 'grid';
  readonly type: 'i32' | 'u32' | 'f32';
}

export interface SharedInfo {
  readonly v: TileVar;
  readonly name: string;
  readonly reg: Reg;
  readonly shape: readonly number[];
}

/** Reads element `flat` (a u32 expression) of a tile made readable by every thread. */
export interface Source {
  read(flat: string): string;
}

export class Gen {
  readonly helpers = new Helpers();
  readonly namer = new Namer();
  readonly threads: number;
  /** The body of main, after the hoisted declarations. */
  readonly w = new Writer(1);
  /** Declarations at the top of main. */
  readonly decls: string[] = [];
  readonly globals = new Map<string, GlobalInfo>();
  readonly uniforms: UniformField[] = [];
  readonly shared = new Map<TileVar, SharedInfo>();
  /** Words of the scratch array the largest staging needs, and the tiles it stages. */
  scratchWords = 0;
  scratchFor: readonly TileInfo[] = [];
  /** Params whose loads and stores need a storageBarrier after them (see the constructor). */
  private readonly barrierAfter = new Set<string>();
  /** The scalar variables of main: `name:dtype` -> WGSL name. */
  private readonly scalars = new Map<string, string>();
  private readonly tiles = new Map<TileVar, TileInfo>();
  /** Placements of the register tiles (user layouts and layout inference). */
  readonly placements: ReadonlyMap<TileVar, Placement>;
  /** Hoisted index code per layout (keyed by its modes). */
  private readonly layoutCodes = new Map<string, LayoutCode>();
  /** Layout conversions through workgroup memory (inserted where two uses disagree). */
  readonly stats = { conversions: 0 };

  readonly mainScope: ScalarScope = {
    variable: (name, dtype) => {
      const id = this.scalars.get(`${name}:${dtype.name}`);
      if (id === undefined)
        throw new Error(`internal: scalar '${name}' (${dtype.name}) has no WGSL variable`);
      return id;
    },
    blockIdx: (axis) => ['block_x', 'block_y', 'block_z'][axis],
  };

  /** For code outside main (helper functions): symbols read the uniform struct directly. */
  readonly uniformScope: ScalarScope = {
    variable: (name) => {
      const u = this.uniforms.find((f) => f.name === name && f.source === 'symbol');
      if (!u) throw new Error(`internal: '${name}' is not a shape symbol`);
      return `params.${u.field}`;
    },
    blockIdx: () => {
      throw new Error('internal: blockIdx outside main');
    },
  };

  /** Subgroup operations were emitted: the module enables them and numbers the subgroups in main. */
  subgroupsUsed = false;

  constructor(
    readonly program: Program,
    /** Device features the module may use ('subgroups'). */
    readonly features: ReadonlySet<string> = new Set(),
    /** Which reductions take the subgroup path when 'subgroups' is available (subgroups.ts). */
    readonly subgroupReduce: SubgroupReduce = 'auto',
  ) {
    this.threads = program.threads;
    this.placements = inferLayouts(program);
    // Accesses of a tensor the block stores to must be ordered as the VM orders them: a store before
    // another thread's later load or store of the same elements, and a load before another thread's
    // later store (another access anywhere in the program, or the same one in the next iteration).
    const accesses = new Map<string, { count: number; stored: boolean; inLoop: boolean }>();
    const visit = (body: readonly Stmt[], loop: boolean): void => {
      for (const s of body) {
        if (s.op === 'load_global' || s.op === 'store_global') {
          const a = accesses.get(s.param) ?? { count: 0, stored: false, inLoop: false };
          accesses.set(s.param, {
            count: a.count + 1,
            stored: a.stored || s.op === 'store_global',
            inLoop: a.inLoop || loop,
          });
        }
        if (s.op === 'for') visit(s.body, true);
        if (s.op === 'if') {
          visit(s.thenBody, loop);
          visit(s.elseBody, loop);
        }
      }
    };
    visit(program.body, false);
    for (const [param, a] of accesses)
      if (a.stored && (a.count > 1 || a.inLoop)) this.barrierAfter.add(param);
  }

  /** Whether a load or store of `param` needs a storageBarrier after it. */
  accessNeedsBarrier(param: string): boolean {
    return this.barrierAfter.has(param);
  }

  /** Declares the scalar `name` of `dtype` in main (hoisted), initialized from `init` when given. */
  declareScalar(name: string, dtype: DType, mutable: boolean, init?: string): string {
    const key = `${name}:${dtype.name}`;
    const existing = this.scalars.get(key);
    if (existing !== undefined) return existing;
    const id = this.namer.take(name);
    this.scalars.set(key, id);
    const type = reg(dtype);
    if (mutable) this.decls.push(init ? `var ${id}: ${type} = ${init};` : `var ${id}: ${type};`);
    else this.decls.push(`let ${id}: ${type} = ${init};`);
    return id;
  }

  hasScalar(name: string, dtype: DType): boolean {
    return this.scalars.has(`${name}:${dtype.name}`);
  }

  /** The register tile of an IR tile variable (declared in main on first use). */
  tile(v: TileVar): TileInfo {
    let t = this.tiles.get(v);
    if (!t) {
      const placement = this.placements.get(v) ?? CYCLIC;
      const name = this.namer.take(`${v.name}_${v.id}`);
      t = makeTile(v, name, v.type.dtype, v.type.shape, this.threads, placement);
      this.tiles.set(v, t);
      this.decls.push(`${declareTile(t)}${t.replicated ? '' : ` // ${placementName(placement)}`}`);
    }
    return t;
  }

  /** A fresh register tile for an intermediate value (declared in main). */
  temp(base: string, dtype: DType, shape: readonly number[], placement: Placement = CYCLIC): TileInfo {
    const t = makeTile(undefined, this.namer.take(base), dtype, shape, this.threads, placement);
    this.decls.push(`${declareTile(t)}${t.replicated ? '' : ` // ${placementName(placement)}`}`);
    return t;
  }

  /** The index code of a Layout placement; its thread part and replica test are hoisted lets. */
  readonly layoutCode = (t: TileLayout): LayoutCode => {
    if (t.placement.kind !== 'layout') throw new Error('internal: layoutCode of a cyclic tile');
    const l = t.placement.layout;
    const key = `${l.shape.join(',')}|${l.modes.map((m) => `${m.dim}:${m.size}`).join(',')}|${l.threadModes.join(',')}|${l.localModes.join(',')}`;
    let c = this.layoutCodes.get(key);
    if (!c) {
      const raw = layoutCode(l);
      const id = this.layoutCodes.size;
      let threadPart = raw.threadPart;
      if (threadPart !== '0u' && threadPart !== 'tid') {
        threadPart = this.namer.take(`lt${id}`);
        this.decls.push(
          `let ${threadPart} = ${raw.threadPart}; // ${placementName(t.placement)}: tid's part of el`,
        );
      }
      let primary = raw.primary;
      if (primary !== undefined) {
        primary = this.namer.take(`lt${id}_first`);
        this.decls.push(`let ${primary} = ${raw.primary}; // first holder of its elements`);
      }
      c = { threadPart, localPart: raw.localPart, primary };
      this.layoutCodes.set(key, c);
    }
    return c;
  };

  sharedTile(v: TileVar): SharedInfo {
    let s = this.shared.get(v);
    if (!s) {
      s = { v, name: this.namer.take(`${v.name}_${v.id}`), reg: reg(v.type.dtype), shape: v.type.shape };
      this.shared.set(v, s);
    }
    return s;
  }

  /** A scalar expression of main, in its dtype's register type. */
  scalar(e: ScalarExpr): string {
    return scalarExpr(this.helpers, e, this.mainScope);
  }

  /** A scalar expression of main converted to i32 (offsets, loop bounds). */
  i32(e: ScalarExpr): string {
    return i32Expr(this.helpers, e, this.mainScope);
  }

  /** A shape-symbol expression (a tensor dim) for code outside main. */
  uniformScalar(e: ScalarExpr): string {
    return i32Expr(this.helpers, e, this.uniformScope);
  }

  each(t: TileInfo, body: (slot: string, el: string) => void, oneThread = false): void {
    eachElement(this.w, t, this.threads, body, oneThread, this.layoutCode);
  }

  /**
   * Makes every element of the given tiles readable by every thread: each thread writes the
   * elements it holds to the scratch array (consecutive regions, as register bits, or as storage
   * patterns with `pattern`), then the block waits. Replicated tiles need no staging. Call
   * `unstage` after the reads, before the scratch array is written again.
   */
  stage(tiles: readonly TileInfo[], pattern?: (t: TileInfo, x: string) => string): Source[] {
    let base = 0;
    let staged = false;
    const sources = tiles.map((t): Source => {
      if (t.replicated) {
        const value = pattern ? pattern(t, t.name) : t.name;
        return { read: () => value };
      }
      const offset = base;
      base += t.n;
      staged = true;
      const index = (i: string) => (offset === 0 ? i : `${offset}u + ${i}`);
      // One writer per element: replicas hold the same value.
      this.each(
        t,
        (slot, el) => {
          const x = at(t, slot);
          this.w.line(`scratch[${index(el)}] = ${pattern ? pattern(t, x) : toBits(t.reg, x)};`);
        },
        true,
      );
      return {
        read: (flat) => (pattern ? `scratch[${index(flat)}]` : fromBits(t.reg, `scratch[${index(flat)}]`)),
      };
    });
    if (base > this.scratchWords) {
      this.scratchWords = base;
      this.scratchFor = tiles.filter((t) => !t.replicated);
    }
    if (staged) {
      this.w.line('workgroupBarrier();');
      this.stagings++;
    }
    this.pendingUnstage = staged;
    return sources;
  }

  private pendingUnstage = false;

  /** After the reads of a staging: wait before the scratch array can be written again. */
  unstage(): void {
    if (this.pendingUnstage) this.w.line('workgroupBarrier();');
    this.pendingUnstage = false;
  }

  private readonly holders = new Map<TileLayout & { readonly shape: readonly number[] }, Holder>();
  private readonly slotTables = new Map<string, string>();

  /** The compile-time view of a tile's placement (which thread holds which element where). */
  holderOf(t: TileInfo): Holder {
    let h = this.holders.get(t);
    if (!h) {
      h = holder(t.shape, t.placement, this.threads);
      this.holders.set(t, h);
    }
    return h;
  }

  /** Whether `a` and `b` hold the same element in the same (thread, slot) everywhere. */
  sameHolding(a: TileInfo, b: TileInfo): boolean {
    if (a.placement === b.placement && a.n === b.n) return true;
    if (
      a.placement.kind === 'layout' &&
      b.placement.kind === 'layout' &&
      a.placement.layout.equals(b.placement.layout)
    )
      return true;
    return sameHolding(this.holderOf(a), this.holderOf(b), this.threads);
  }

  /**
   * For each slot of `dst`: the slot of `src` that holds, in the same thread, element `index(flat)`
   * of `src` for dst's element `flat`; undefined when that element lives in another thread.
   */
  slotMap(dst: TileInfo, src: TileInfo, index: (flat: number) => number): number[] | undefined {
    if (src.replicated) return new Array<number>(dst.slots).fill(0);
    const table = localSlots(this.holderOf(dst), this.holderOf(src), this.threads, (f) => [index(f)]);
    return table?.map((r) => r[0] ?? 0);
  }

  /** A slot map as a u32 expression of `slot`: arithmetic where it has a simple form, else a table. */
  slotExpr(map: readonly number[]): (slot: string) => string {
    const simple = slotMapExpr(map, 'slot');
    if (simple !== undefined) return (slot) => slotMapExpr(map, slot)!;
    const key = map.join(',');
    let name = this.slotTables.get(key);
    if (!name) {
      name = this.namer.take(`slot_map${this.slotTables.size}`);
      this.slotTables.set(key, name);
      const type = `array<u32, ${map.length}>`;
      this.helpers.use({
        name,
        code: `// slot of an operand per slot of the result (a thread-local layout change)
var<private> ${name}: ${type} = ${type}(${map.map((x) => `${x}u`).join(', ')});`,
      });
    }
    const table = name;
    return (slot) => `${table}[${slot}]`;
  }

  /**
   * A fresh tile with placement `target` holding `src`'s values, moved through the scratch array
   * where they live in other threads (counted as a layout conversion); `index` maps a result
   * element to the src element it takes (broadcasts), the identity by default.
   */
  convert(
    src: TileInfo,
    target: { readonly shape: readonly number[]; readonly placement: Placement },
    index?: (el: string) => string,
  ): TileInfo {
    const t = this.temp(`${src.name}_cv`, src.dtype, target.shape, target.placement);
    if (src.replicated) {
      this.each(t, (slot) => this.w.line(`${at(t, slot)} = ${src.name};`));
      return t;
    }
    this.stats.conversions++;
    this.w.comment(
      `layout conversion through workgroup memory: ${placementName(src.placement)} -> ${placementName(t.placement)}`,
    );
    const [read] = this.stage([src]);
    this.each(t, (slot, el) => this.w.line(`${at(t, slot)} = ${read.read(index ? index(el) : el)};`));
    this.unstage();
    this.stagings--; // counted as the conversion
    return t;
  }

  /**
   * `v` as a tile variable whose register tile holds each element where `like` does: `v` itself,
   * or a converted copy under a fresh variable (for emitters that index both at one slot).
   */
  matching(v: TileVar, like: TileInfo): TileVar {
    const t = this.tile(v);
    if (t.replicated || (t.n === like.n && this.sameHolding(t, like))) return v;
    const c = this.convert(t, like);
    const fresh: TileVar = { id: -1 - this.tiles.size, name: c.name, type: { ...v.type, layout: undefined } };
    this.tiles.set(fresh, c);
    return fresh;
  }

  /** Stagings of the scratch array that are part of an op (not layout conversions). */
  stagings = 0;

  /** Bytes of workgroup memory: shared tiles and the scratch array, 4 bytes per element. */
  workgroupBytes(): number {
    let words = this.scratchWords;
    for (const s of this.shared.values()) words += numel(s.shape);
    return words * 4;
  }
}

export type { TileInfo };
