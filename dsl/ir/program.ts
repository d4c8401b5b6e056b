// The VM IR: a thread-block program over typed tiles. A block runs the body once; register tiles
// are whole values distributed over the block's threads by a layout, which changes performance and
// never results. Statements are imperative: each writes its `dst` tile variable whole.
import type { DType } from '../dtype.js';
import type { Layout } from '../layout.js';
import type { BinaryOp, ReduceOp, UnaryOp } from './ops.js';
import type { ScalarExpr } from './scalar.js';

export type MemorySpace = 'register' | 'shared';

export interface TileType {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly space: MemorySpace;
  /** Register tiles only; inferred by a backend when absent. */
  readonly layout?: Layout;
}

/** A named, mutable tile variable. Identity is the object; `id` makes printed names unique. */
export interface TileVar {
  readonly id: number;
  readonly name: string;
  readonly type: TileType;
}

export type Access = 'read' | 'write' | 'readwrite';

/** A global tensor param: dtype and symbolic shape (each dim an expression over shape symbols). */
export interface GlobalParam {
  readonly kind: 'global';
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly ScalarExpr[];
  readonly access: Access;
}

/** A scalar param, passed by value at launch. */
export interface ScalarParam {
  readonly kind: 'scalar';
  readonly name: string;
  readonly dtype: DType;
}

export type Param = GlobalParam | ScalarParam;

export interface LoadGlobal {
  readonly op: 'load_global';
  readonly dst: TileVar;
  readonly param: string;
  /** One per tensor dim. The tile covers the trailing dims; leading dims are fixed at their offset. */
  readonly offsets: readonly ScalarExpr[];
  /** Value of out-of-range (or masked-off) elements; 0 when absent. */
  readonly other?: number;
  /** bool tile of dst's shape: false lanes read `other`. */
  readonly mask?: TileVar;
}

export interface StoreGlobal {
  readonly op: 'store_global';
  readonly param: string;
  readonly offsets: readonly ScalarExpr[];
  readonly src: TileVar;
  /** bool tile of src's shape: false lanes are not written. Out-of-range lanes never are. */
  readonly mask?: TileVar;
}

export interface AllocShared {
  readonly op: 'alloc_shared';
  readonly dst: TileVar;
}
/** Read a region of a shared tile at `offsets` (one per shared dim) into a register tile. */
export interface LoadShared {
  readonly op: 'load_shared';
  readonly dst: TileVar;
  readonly src: TileVar;
  readonly offsets: readonly ScalarExpr[];
}
/** Write a register tile into a shared tile at `offsets`. */
export interface StoreShared {
  readonly op: 'store_shared';
  readonly dst: TileVar;
  readonly src: TileVar;
  readonly offsets: readonly ScalarExpr[];
}
export interface Sync {
  readonly op: 'sync';
}

/** Every element set to a scalar value (converted to dst's dtype by the cast rules). */
export interface Full {
  readonly op: 'full';
  readonly dst: TileVar;
  readonly value: ScalarExpr;
}
/** A rank-1 tile holding start, start+1, ... (converted to dst's dtype). */
export interface Arange {
  readonly op: 'arange';
  readonly dst: TileVar;
  readonly start: ScalarExpr;
}
export interface Cast {
  readonly op: 'cast';
  readonly dst: TileVar;
  readonly src: TileVar;
}
/** Bit reinterpretation: each row's bit string (little-endian, as in storage) re-split. */
export interface View {
  readonly op: 'view';
  readonly dst: TileVar;
  readonly src: TileVar;
}
export interface Unary {
  readonly op: 'unary';
  readonly fn: UnaryOp;
  readonly dst: TileVar;
  readonly src: TileVar;
}
/** Elementwise with broadcasting (shapes right-aligned, size-1 dims stretch). */
export interface Binary {
  readonly op: 'binary';
  readonly fn: BinaryOp;
  readonly dst: TileVar;
  readonly a: TileVar;
  readonly b: TileVar;
}
export interface Select {
  readonly op: 'select';
  readonly dst: TileVar;
  readonly cond: TileVar;
  readonly a: TileVar;
  readonly b: TileVar;
}
/** Same elements in row-major order, new shape (covers squeeze). */
export interface Reshape {
  readonly op: 'reshape';
  readonly dst: TileVar;
  readonly src: TileVar;
}
/** Insert a size-1 axis at `axis`. */
export interface Unsqueeze {
  readonly op: 'unsqueeze';
  readonly dst: TileVar;
  readonly src: TileVar;
  readonly axis: number;
}
/** Repeat each element `repeats[d]` times along axis d (repeat-interleave on every axis). */
export interface Repeat {
  readonly op: 'repeat';
  readonly dst: TileVar;
  readonly src: TileVar;
  readonly repeats: readonly number[];
}
/** Stretch size-1 dims (and add leading dims) to dst's shape. */
export interface Broadcast {
  readonly op: 'broadcast';
  readonly dst: TileVar;
  readonly src: TileVar;
}
export interface Transpose {
  readonly op: 'transpose';
  readonly dst: TileVar;
  readonly src: TileVar;
  /** dst axis i is src axis perm[i]. */
  readonly perm: readonly number[];
}
/** Reduce along `axis`, accumulating in dst's dtype in increasing index order. */
export interface Reduce {
  readonly op: 'reduce';
  readonly fn: ReduceOp;
  readonly dst: TileVar;
  readonly src: TileVar;
  readonly axis: number;
  readonly keepdim: boolean;
}
/** dst = a @ b + c: a [M,K], b [K,N], c and dst [M,N]; products and sums in c's dtype, k increasing. */
export interface Dot {
  readonly op: 'dot';
  readonly dst: TileVar;
  readonly a: TileVar;
  readonly b: TileVar;
  readonly c: TileVar;
}
/** dst = src (same type): assignment to a mutable tile variable. */
export interface Copy {
  readonly op: 'copy';
  readonly dst: TileVar;
  readonly src: TileVar;
}
/** Same values in another register layout; inserted by the compiler, a no-op for the interpreter. */
export interface ConvertLayout {
  readonly op: 'convert_layout';
  readonly dst: TileVar;
  readonly src: TileVar;
}
/** Define or overwrite a scalar variable. */
export interface LetScalar {
  readonly op: 'let_scalar';
  readonly name: string;
  readonly value: ScalarExpr;
}
/** for (var = start; var < stop; var += step), step > 0; var is an i32 scalar inside the body. */
export interface For {
  readonly op: 'for';
  readonly var: string;
  readonly start: ScalarExpr;
  readonly stop: ScalarExpr;
  readonly step: ScalarExpr;
  readonly body: readonly Stmt[];
}
export interface If {
  readonly op: 'if';
  readonly cond: ScalarExpr;
  readonly thenBody: readonly Stmt[];
  readonly elseBody: readonly Stmt[];
}

export type Stmt =
  | LoadGlobal
  | StoreGlobal
  | AllocShared
  | LoadShared
  | StoreShared
  | Sync
  | Full
  | Arange
  | Cast
  | View
  | Unary
  | Binary
  | Select
  | Reshape
  | Unsqueeze
  | Repeat
  | Broadcast
  | Transpose
  | Reduce
  | Dot
  | Copy
  | ConvertLayout
  | LetScalar
  | For
  | If;

export type StmtOp = Stmt['op'];

export interface Program {
  readonly name: string;
  readonly params: readonly Param[];
  /** Compile-time constants, already substituted into the body; kept for printing and caching. */
  readonly consts: Readonly<Record<string, number>>;
  /** Number of blocks along x, y, z (1 to 3 expressions over shape symbols and scalar params). */
  readonly grid: readonly ScalarExpr[];
  /** Threads per block. */
  readonly threads: number;
  readonly body: readonly Stmt[];
}
