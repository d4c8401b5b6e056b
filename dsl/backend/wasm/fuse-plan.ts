// Finding fusable runs: a contiguous sequence of statements of one body computing elementwise values
// (unary, binary, cast, select, copy, full), global loads whose tile is read only by the run, and the
// broadcasts and reshapes between them, all over one iteration shape S (every value broadcasts to S,
// shapes right-aligned). Values read only inside the run never reach scratch; the others are stored
// at the end of each position (docs/wasm-backend.md, Fusion).
import type { DType } from '../../dtype.js';
import type { LoadGlobal, Program, Reduce, Stmt, TileVar } from '../../ir/program.js';
import { broadcastsTo, numel } from '../../ir/shapes.js';
import { forEachStmt } from '../../ir/walk.js';

/** A value read from memory: a scratch buffer (a tile variable's) or a global tile loaded in place. */
export interface Leaf {
  /** The variable whose buffer holds the elements (for a global leaf: the load's dst, used on the slow path). */
  readonly v: TileVar;
  /** The load, when the elements are read from the global tensor directly. */
  readonly load?: LoadGlobal;
  /** Row-major shape the elements are read as (broadcast to S). */
  readonly shape: readonly number[];
  readonly dtype: DType;
}

export type Src =
  | { readonly kind: 'node'; readonly node: number }
  | { readonly kind: 'leaf'; readonly leaf: number };

export interface Node {
  readonly s: Stmt;
  /** 'id' passes its one argument through (copy, and broadcasts of in-run values). */
  readonly kind: 'unary' | 'binary' | 'cast' | 'select' | 'id' | 'full';
  readonly args: readonly Src[];
  readonly dst: TileVar;
}

export interface Run {
  /** Statements covered: body[start, end). */
  readonly start: number;
  readonly end: number;
  readonly shape: readonly number[];
  readonly nodes: readonly Node[];
  readonly leaves: readonly Leaf[];
  /** Loads whose tiles are also read after the run: emitted before it, then read as buffer leaves. */
  readonly preLoads: readonly LoadGlobal[];
  /** Variables to store at each position, with the node holding their final value. */
  readonly stores: readonly { readonly v: TileVar; readonly node: number }[];
  /**
   * Lane-wise sums ending the run: `node.reshape(..., L / 4, 4).sum(-2)` into v (shape S with its
   * last dim 4), each a v128 per row accumulated chunk by chunk in index order (as the interpreter
   * sums).
   */
  readonly reductions: readonly { readonly v: TileVar; readonly node: number }[];
}

/** Uses and definitions of every tile variable in a program. */
export interface Counts {
  readonly uses: Map<TileVar, number>;
  readonly defs: Map<TileVar, number>;
}

export function reads(s: Stmt): TileVar[] {
  switch (s.op) {
    case 'load_global':
      return s.mask ? [s.mask] : [];
    case 'store_global':
      return s.mask ? [s.src, s.mask] : [s.src];
    case 'load_shared':
    case 'store_shared':
    case 'cast':
    case 'view':
    case 'unary':
    case 'reshape':
    case 'unsqueeze':
    case 'convert_layout':
    case 'copy':
    case 'broadcast':
    case 'repeat':
    case 'transpose':
    case 'reduce':
      return [s.src];
    case 'binary':
      return [s.a, s.b];
    case 'select':
      return [s.cond, s.a, s.b];
    case 'dot':
      return [s.a, s.b, s.c];
    default:
      return [];
  }
}

function written(s: Stmt): TileVar | undefined {
  return 'dst' in s && s.op !== 'store_shared' ? s.dst : undefined;
}

export function countVars(program: Program): Counts {
  const uses = new Map<TileVar, number>();
  const defs = new Map<TileVar, number>();
  forEachStmt(program.body, (s) => {
    for (const v of reads(s)) uses.set(v, (uses.get(v) ?? 0) + 1);
    const d = written(s);
    if (d) defs.set(d, (defs.get(d) ?? 0) + 1);
  });
  return { uses, defs };
}

const VIEWS = new Set(['reshape', 'unsqueeze', 'convert_layout', 'broadcast', 'repeat']);

/** Whether statement s may belong to a run at all. */
function candidate(s: Stmt): boolean {
  switch (s.op) {
    case 'unary':
    case 'binary':
    case 'cast':
    case 'select':
    case 'copy':
    case 'full':
      return true;
    case 'load_global':
      return s.mask === undefined;
    case 'repeat':
      // Only repeats that stretch size-1 dims (a broadcast).
      return s.repeats.every((r, d) => r === 1 || s.src.type.shape[d] === 1);
    case 'reduce':
      return s.fn === 'sum';
    default:
      return VIEWS.has(s.op);
  }
}

function squeezed(shape: readonly number[]): number[] {
  return shape.filter((n) => n !== 1);
}

function sameList(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * The run starting at body[start], or undefined when fusing there gains nothing (fewer than two
 * statements, or a statement that cannot join).
 */
export function planRun(body: readonly Stmt[], start: number, counts: Counts): Run | undefined {
  let end = start;
  while (end < body.length && candidate(body[end])) end++;
  // Shrink until every statement fits (internal-ness depends on the extent).
  while (end - start >= 2) {
    const r = tryRun(body, start, end, counts);
    if (typeof r !== 'number') return r;
    end = r;
  }
  return undefined;
}

/** The run over body[start, end), or the index where it must stop instead. */
function tryRun(body: readonly Stmt[], start: number, end: number, counts: Counts): Run | number {
  // Reads inside the extent after each statement, per variable.
  const internal = (v: TileVar, at: number): boolean => {
    if ((counts.defs.get(v) ?? 0) !== 1) return false;
    let n = 0;
    for (let j = at + 1; j < end; j++) for (const r of reads(body[j])) if (r === v) n++;
    return n === (counts.uses.get(v) ?? 0);
  };
  const nodes: Node[] = [];
  const leaves: Leaf[] = [];
  const preLoads: LoadGlobal[] = [];
  const reductions: { v: TileVar; node: number }[] = [];
  const env = new Map<TileVar, Src>();
  const bufferLeaf = new Map<TileVar, number>();
  const shapeOf = (src: Src): readonly number[] =>
    src.kind === 'leaf' ? leaves[src.leaf].shape : nodes[src.node].dst.type.shape;
  const read = (v: TileVar): Src => {
    const bound = env.get(v);
    if (bound) return bound;
    let i = bufferLeaf.get(v);
    if (i === undefined) {
      i = leaves.push({ v, shape: v.type.shape, dtype: v.type.dtype }) - 1;
      bufferLeaf.set(v, i);
    }
    return { kind: 'leaf', leaf: i };
  };
  const node = (s: Stmt, kind: Node['kind'], args: Src[], dst: TileVar) => {
    env.set(dst, { kind: 'node', node: nodes.push({ s, kind, args, dst }) - 1 });
  };
  for (let j = start; j < end; j++) {
    const s = body[j];
    if (reductions.length > 0 && !laneSum(body, j, end)) return j;
    switch (s.op) {
      case 'unary':
      case 'cast':
        node(s, s.op, [read(s.src)], s.dst);
        break;
      case 'copy':
        node(s, 'id', [read(s.src)], s.dst);
        break;
      case 'binary':
        node(s, 'binary', [read(s.a), read(s.b)], s.dst);
        break;
      case 'select':
        node(s, 'select', [read(s.cond), read(s.a), read(s.b)], s.dst);
        break;
      case 'full':
        node(s, 'full', [], s.dst);
        break;
      case 'load_global': {
        if (internal(s.dst, j)) {
          env.set(s.dst, {
            kind: 'leaf',
            leaf: leaves.push({ v: s.dst, load: s, shape: s.dst.type.shape, dtype: s.dst.type.dtype }) - 1,
          });
        } else if ((counts.defs.get(s.dst) ?? 0) === 1 && !bufferLeaf.has(s.dst)) {
          // Loaded before the nest: only if no earlier statement of the run reads the old tile.
          preLoads.push(s);
        } else {
          return j;
        }
        break;
      }
      case 'reduce':
        // Only as the second half of a lane-wise sum (below).
        return j;
      default: {
        if (!('src' in s) || !('dst' in s)) return j;
        const src = read(s.src);
        const sum = laneSum(body, j, end);
        if (sum && internal(s.dst, j)) {
          // Sums end the run (their values exist only after its last position); a leaf is summed
          // through a pass-through node of its own.
          const node =
            src.kind === 'node' ? src.node : nodes.push({ s, kind: 'id', args: [src], dst: s.src }) - 1;
          reductions.push({ v: sum.dst, node });
          j++;
          continue;
        }
        const from = shapeOf(src);
        const to = s.dst.type.shape;
        if (broadcastsTo(from, to)) {
          // Right-aligned stretch: the same value at every position of S.
          if (src.kind === 'node' || !internal(s.dst, j)) node(s, 'id', [src], s.dst);
          else env.set(s.dst, src);
          break;
        }
        // A reinterpretation (same elements, row-major): only of a leaf read nowhere else.
        if (src.kind !== 'leaf' || !internal(s.dst, j) || numel(from) !== numel(to)) return j;
        const leaf = leaves[src.leaf];
        if (leaf.load && !sameList(squeezed(to), squeezed(leaf.load.dst.type.shape))) return j;
        env.set(s.dst, { kind: 'leaf', leaf: leaves.push({ ...leaf, shape: to }) - 1 });
      }
    }
  }
  // The iteration shape: the largest value shape; every other shape must broadcast to it.
  let shape: readonly number[] = [];
  const larger = (a: readonly number[]) =>
    numel(a) > numel(shape) || (numel(a) === numel(shape) && a.length > shape.length);
  for (const n of nodes) if (larger(n.dst.type.shape)) shape = n.dst.type.shape;
  for (const l of leaves) if (larger(l.shape)) shape = l.shape;
  for (let k = 0; k < nodes.length; k++) {
    if (!broadcastsTo(nodes[k].dst.type.shape, shape))
      return start + body.slice(start, end).indexOf(nodes[k].s);
  }
  for (const l of leaves) if (!broadcastsTo(l.shape, shape)) return start + 1;
  // Stores: the final value of every variable defined here and read (or defined) elsewhere.
  const stores: { v: TileVar; node: number }[] = [];
  for (const [v, src] of env) {
    if (src.kind !== 'node') continue;
    const at = body.lastIndexOf(
      body
        .slice(start, end)
        .filter((s) => written(s) === v)
        .pop()!,
    );
    if (internal(v, at)) continue;
    if (numel(v.type.shape) !== numel(shape)) return at;
    stores.push({ v, node: src.node });
  }
  for (const red of reductions) {
    // Each row of the summed value (which may be broadcast along S's leading dims) has its 4 lanes.
    const from = nodes[red.node].dst.type.shape;
    const want = [...from.slice(0, -1), 4];
    if (from.at(-1) !== shape.at(-1) || !sameList(red.v.type.shape, want)) return end - 2;
  }
  return { start, end, shape, nodes, leaves, preLoads, stores, reductions };
}

/**
 * The f32 sum at body[j + 1] when body[j] is `t.reshape(..., L / 4, 4)` of a tile [..., L] and the
 * sum runs over the L / 4 axis into [..., 4] (lanes summed chunk by chunk): its reduce statement.
 */
function laneSum(body: readonly Stmt[], j: number, end: number): Reduce | undefined {
  const s = body[j];
  const r = body[j + 1];
  if (s.op !== 'reshape' || j + 1 >= end || r?.op !== 'reduce' || r.fn !== 'sum' || r.src !== s.dst)
    return undefined;
  const from = s.src.type.shape;
  const to = s.dst.type.shape;
  const n = from.length;
  if (n === 0 || to.length !== n + 1 || r.axis !== n - 1 || r.keepdim) return undefined;
  if (!sameList(to, [...from.slice(0, -1), from[n - 1] / 4, 4])) return undefined;
  const f32 = (d: DType) => d.kind === 'float' && d.bits === 32;
  return f32(s.src.type.dtype) && f32(r.dst.type.dtype) ? r : undefined;
}
