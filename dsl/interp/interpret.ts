// The reference interpreter: runs a VM program over its whole grid, block after block, on host
// Tensors. It is the oracle every backend is tested against, so it favours the obvious over the
// fast: every op works lane by lane with the exact semantics of elementwise.ts.
import { castValue, type DType, decode, encode, roundToDType } from '../dtype.js';
import { bindArgs } from '../ir/bind.js';
import { VmError } from '../ir/errors.js';
import type { GlobalParam, Program, Stmt, TileVar } from '../ir/program.js';
import type { ScalarExpr } from '../ir/scalar.js';
import { stridesOf } from '../ir/shapes.js';
import { validateProgram } from '../ir/validate.js';
import { packBits, unpackBits } from '../packing.js';
import { Tensor } from '../tensor.js';
import { applyBinary, applyUnary, normalize } from './elementwise.js';
import { broadcastIndex, sizeOf, type TileValue, unflatten } from './tile.js';

export type InterpretArgs = Readonly<Record<string, Tensor | number>>;

interface Frame {
  readonly block: readonly [number, number, number];
  readonly scalars: Map<string, number>;
  readonly tiles: Map<TileVar, TileValue>;
  readonly tensors: ReadonlyMap<string, Tensor>;
  readonly params: ReadonlyMap<string, GlobalParam>;
}

/**
 * Runs `program` on every block of its grid. Tensors of write params are updated in place; blocks
 * run in row-major order of (z, y, x), but a correct program must not depend on that order.
 */
export function interpret(program: Program, args: InterpretArgs): void {
  validateProgram(program);
  const binding = bindArgs(program.name, program.params, args, (x): x is Tensor => x instanceof Tensor);
  const scalars = new Map(binding.scalars);
  const tensors = new Map<string, Tensor>();
  const params = new Map<string, GlobalParam>();
  for (const p of program.params) {
    if (p.kind === 'global') {
      tensors.set(p.name, args[p.name] as Tensor);
      params.set(p.name, p);
    } else {
      scalars.set(p.name, roundToDType(p.dtype, args[p.name] as number));
    }
  }
  const gridFrame: Frame = { block: [0, 0, 0], scalars, tiles: new Map(), tensors, params };
  const grid = [0, 1, 2].map((axis) => {
    const e = program.grid[axis];
    if (!e) return 1;
    const n = evalScalar(e, gridFrame);
    if (!Number.isInteger(n) || n < 0)
      throw new VmError(`grid dim ${axis} evaluated to ${n}; it must be a non-negative integer`);
    return n;
  });
  for (let z = 0; z < grid[2]; z++) {
    for (let y = 0; y < grid[1]; y++) {
      for (let x = 0; x < grid[0]; x++) {
        const frame: Frame = {
          block: [x, y, z],
          scalars: new Map(scalars),
          tiles: new Map(),
          tensors,
          params,
        };
        runBody(program.body, frame);
      }
    }
  }
}

export function evalScalar(e: ScalarExpr, f: Frame): number {
  switch (e.kind) {
    case 'const':
      return normalize(e.dtype, e.value);
    case 'var': {
      const v = f.scalars.get(e.name);
      if (v === undefined) throw new VmError(`scalar '${e.name}' has no value here`);
      return v;
    }
    case 'blockIdx':
      return f.block[e.axis];
    case 'unary':
      return applyUnary(e.op, e.dtype, evalScalar(e.a, f));
    case 'binary':
      return applyBinary(e.op, e.a.dtype, evalScalar(e.a, f), evalScalar(e.b, f));
    case 'select':
      return evalScalar(e.cond, f) !== 0 ? evalScalar(e.a, f) : evalScalar(e.b, f);
    case 'cast':
      return castValue(e.a.dtype, e.dtype, evalScalar(e.a, f));
  }
}

function runBody(body: readonly Stmt[], f: Frame): void {
  for (const s of body) runStmt(s, f);
}

function get(f: Frame, v: TileVar): TileValue {
  const t = f.tiles.get(v);
  if (!t) throw new VmError(`%${v.name}.${v.id} has no value here (read before it was written)`);
  return t;
}

function put(f: Frame, v: TileVar, data: Float64Array): void {
  f.tiles.set(v, { shape: v.type.shape, data });
}

/** Maps each tile element to its flat tensor index, or -1 where it falls outside the tensor. */
function globalIndices(
  f: Frame,
  param: string,
  offsets: readonly ScalarExpr[],
  tileShape: readonly number[],
): Float64Array {
  const tensor = f.tensors.get(param)!;
  const rank = tensor.shape.length;
  const lead = rank - tileShape.length;
  const base = offsets.map((o) => evalScalar(o, f));
  const strides = stridesOf(tensor.shape);
  const n = sizeOf(tileShape);
  const out = new Float64Array(n);
  for (let flat = 0; flat < n; flat++) {
    const idx = unflatten(flat, tileShape);
    let addr = 0;
    for (let d = 0; d < rank; d++) {
      const i = base[d] + (d >= lead ? idx[d - lead] : 0);
      if (i < 0 || i >= tensor.shape[d]) {
        addr = -1;
        break;
      }
      addr += i * strides[d];
    }
    out[flat] = addr;
  }
  return out;
}

function regionIndices(
  f: Frame,
  shared: TileVar,
  offsets: readonly ScalarExpr[],
  regShape: readonly number[],
): Int32Array {
  const shape = shared.type.shape;
  const base = offsets.map((o) => evalScalar(o, f));
  const strides = stridesOf(shape);
  const n = sizeOf(regShape);
  const out = new Int32Array(n);
  for (let flat = 0; flat < n; flat++) {
    const idx = unflatten(flat, regShape);
    let addr = 0;
    for (let d = 0; d < shape.length; d++) {
      const i = base[d] + idx[d];
      if (i < 0 || i >= shape[d]) {
        throw new VmError(
          `shared tile %${shared.name}.${shared.id} ${JSON.stringify(shape)} accessed at [${base.join(', ')}] with a ${JSON.stringify(regShape)} tile: index ${i} is out of range on dim ${d}`,
        );
      }
      addr += i * strides[d];
    }
    out[flat] = addr;
  }
  return out;
}

/** Uninitialized shared memory reads as poison, so a missing store_shared shows up in results. */
function poison(d: DType): number {
  if (d.kind === 'float') return d.rule === 'finite' ? d.maxFinite : Number.NaN;
  if (d.kind === 'bool') return 1;
  return d.min === 0 ? d.max : d.min;
}

function runStmt(s: Stmt, f: Frame): void {
  switch (s.op) {
    case 'load_global': {
      const tensor = f.tensors.get(s.param)!;
      const addrs = globalIndices(f, s.param, s.offsets, s.dst.type.shape);
      const mask = s.mask ? get(f, s.mask).data : undefined;
      const d = s.dst.type.dtype;
      const other = normalize(d, s.other ?? 0);
      const out = new Float64Array(addrs.length);
      for (let i = 0; i < addrs.length; i++) {
        out[i] = addrs[i] < 0 || (mask && mask[i] === 0) ? other : tensor.get(addrs[i]);
      }
      put(f, s.dst, out);
      return;
    }
    case 'store_global': {
      const tensor = f.tensors.get(s.param)!;
      const src = get(f, s.src).data;
      const addrs = globalIndices(f, s.param, s.offsets, s.src.type.shape);
      const mask = s.mask ? get(f, s.mask).data : undefined;
      for (let i = 0; i < addrs.length; i++) {
        if (addrs[i] >= 0 && !(mask && mask[i] === 0)) tensor.set(addrs[i], src[i]);
      }
      return;
    }
    case 'alloc_shared':
      put(f, s.dst, new Float64Array(sizeOf(s.dst.type.shape)).fill(poison(s.dst.type.dtype)));
      return;
    case 'load_shared': {
      const src = get(f, s.src).data;
      const addrs = regionIndices(f, s.src, s.offsets, s.dst.type.shape);
      put(
        f,
        s.dst,
        Float64Array.from(addrs, (a) => src[a]),
      );
      return;
    }
    case 'store_shared': {
      const dst = get(f, s.dst).data;
      const src = get(f, s.src).data;
      const addrs = regionIndices(f, s.dst, s.offsets, s.src.type.shape);
      for (let i = 0; i < addrs.length; i++) dst[addrs[i]] = src[i];
      return;
    }
    case 'sync':
      return; // a block is one logical thread of tile ops: nothing to wait for
    case 'full': {
      const v = castValue(s.value.dtype, s.dst.type.dtype, evalScalar(s.value, f));
      put(f, s.dst, new Float64Array(sizeOf(s.dst.type.shape)).fill(v));
      return;
    }
    case 'arange': {
      const start = evalScalar(s.start, f);
      const d = s.dst.type.dtype;
      put(
        f,
        s.dst,
        Float64Array.from({ length: s.dst.type.shape[0] }, (_, i) =>
          castValue(s.start.dtype, d, normalize(s.start.dtype, start + i)),
        ),
      );
      return;
    }
    case 'cast': {
      const from = s.src.type.dtype;
      const to = s.dst.type.dtype;
      put(
        f,
        s.dst,
        get(f, s.src).data.map((v) => castValue(from, to, v)),
      );
      return;
    }
    case 'view': {
      put(f, s.dst, viewData(get(f, s.src).data, s.src.type.dtype, s.dst.type.dtype, s.dst.type.shape));
      return;
    }
    case 'unary': {
      const d = s.src.type.dtype;
      put(
        f,
        s.dst,
        get(f, s.src).data.map((v) => applyUnary(s.fn, d, v)),
      );
      return;
    }
    case 'binary': {
      const shape = s.dst.type.shape;
      const a = get(f, s.a).data;
      const b = get(f, s.b).data;
      const ia = broadcastIndex(s.a.type.shape, shape);
      const ib = broadcastIndex(s.b.type.shape, shape);
      const d = s.a.type.dtype;
      put(
        f,
        s.dst,
        Float64Array.from(ia, (_, i) => applyBinary(s.fn, d, a[ia[i]], b[ib[i]])),
      );
      return;
    }
    case 'select': {
      const shape = s.dst.type.shape;
      const c = get(f, s.cond).data;
      const a = get(f, s.a).data;
      const b = get(f, s.b).data;
      const ic = broadcastIndex(s.cond.type.shape, shape);
      const ia = broadcastIndex(s.a.type.shape, shape);
      const ib = broadcastIndex(s.b.type.shape, shape);
      put(
        f,
        s.dst,
        Float64Array.from(ic, (_, i) => (c[ic[i]] !== 0 ? a[ia[i]] : b[ib[i]])),
      );
      return;
    }
    case 'reshape':
    case 'unsqueeze':
    case 'copy':
    case 'convert_layout':
      put(f, s.dst, get(f, s.src).data.slice());
      return;
    case 'broadcast': {
      const src = get(f, s.src).data;
      put(
        f,
        s.dst,
        Float64Array.from(broadcastIndex(s.src.type.shape, s.dst.type.shape), (a) => src[a]),
      );
      return;
    }
    case 'repeat': {
      const srcStrides = stridesOf(s.src.type.shape);
      put(
        f,
        s.dst,
        gather(
          get(f, s.src).data,
          s.dst.type.shape,
          (idx, d) => Math.floor(idx[d] / s.repeats[d]) * srcStrides[d],
        ),
      );
      return;
    }
    case 'transpose': {
      const srcStrides = stridesOf(s.src.type.shape);
      put(
        f,
        s.dst,
        gather(get(f, s.src).data, s.dst.type.shape, (idx, d) => idx[d] * srcStrides[s.perm[d]]),
      );
      return;
    }
    case 'reduce':
      put(f, s.dst, reduceData(s.fn, get(f, s.src), s.src.type.dtype, s.dst.type.dtype, s.axis));
      return;
    case 'dot': {
      const [m, k] = s.a.type.shape;
      const n = s.b.type.shape[1];
      const a = get(f, s.a).data;
      const b = get(f, s.b).data;
      const out = get(f, s.c).data.slice();
      const from = s.a.type.dtype;
      const acc = s.c.type.dtype;
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          let sum = out[i * n + j];
          for (let kk = 0; kk < k; kk++) {
            const prod = applyBinary(
              'mul',
              acc,
              castValue(from, acc, a[i * k + kk]),
              castValue(from, acc, b[kk * n + j]),
            );
            sum = applyBinary('add', acc, sum, prod);
          }
          out[i * n + j] = sum;
        }
      }
      put(f, s.dst, out);
      return;
    }
    case 'let_scalar':
      f.scalars.set(s.name, evalScalar(s.value, f));
      return;
    case 'for': {
      const start = evalScalar(s.start, f);
      const stop = evalScalar(s.stop, f);
      const step = evalScalar(s.step, f);
      if (step <= 0) throw new VmError(`for ${s.var}: step evaluated to ${step}; it must be positive`);
      for (let i = start; i < stop; i += step) {
        f.scalars.set(s.var, i);
        runBody(s.body, f);
      }
      f.scalars.delete(s.var);
      return;
    }
    case 'if':
      runBody(evalScalar(s.cond, f) !== 0 ? s.thenBody : s.elseBody, f);
      return;
  }
}

/**
 * A tile of shape dstShape whose element at multi-index idx is src[sum over d of offset(idx, d)]:
 * repeat and transpose, each with its own per-dimension source offset.
 */
function gather(
  src: Float64Array,
  dstShape: readonly number[],
  offset: (idx: readonly number[], d: number) => number,
): Float64Array {
  const n = sizeOf(dstShape);
  const out = new Float64Array(n);
  for (let flat = 0; flat < n; flat++) {
    const idx = unflatten(flat, dstShape);
    let a = 0;
    for (let d = 0; d < idx.length; d++) a += offset(idx, d);
    out[flat] = src[a];
  }
  return out;
}

/** Accumulates along `axis` in increasing index order, in dtype `to`. */
function reduceData(
  fn: 'sum' | 'max' | 'min',
  src: TileValue,
  from: DType,
  to: DType,
  axis: number,
): Float64Array {
  const shape = src.shape;
  const outer = sizeOf(shape.slice(0, axis));
  const len = shape[axis];
  const inner = sizeOf(shape.slice(axis + 1));
  const out = new Float64Array(outer * inner);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      let acc = fn === 'sum' ? 0 : castValue(from, to, src.data[o * len * inner + i]);
      for (let r = fn === 'sum' ? 0 : 1; r < len; r++) {
        const v = castValue(from, to, src.data[(o * len + r) * inner + i]);
        acc = applyBinary(fn === 'sum' ? 'add' : fn, to, acc, v);
      }
      out[o * inner + i] = acc;
    }
  }
  return out;
}

/** Re-splits each row's little-endian bit string (the storage order) into elements of `to`. */
function viewData(data: Float64Array, from: DType, to: DType, dstShape: readonly number[]): Float64Array {
  const rowOut = dstShape.length === 0 ? 1 : dstShape[dstShape.length - 1];
  const rows = sizeOf(dstShape) / rowOut;
  const rowIn = data.length / rows;
  const out = new Float64Array(sizeOf(dstShape));
  for (let r = 0; r < rows; r++) {
    const patterns = Array.from(data.subarray(r * rowIn, (r + 1) * rowIn), (v) => encode(from, v));
    const bits = unpackBits(packBits(patterns, from.bits), to.bits, rowOut);
    for (let i = 0; i < rowOut; i++) out[r * rowOut + i] = decode(to, bits[i]);
  }
  return out;
}
