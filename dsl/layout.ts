/**
 * Register-tile layouts, after the Tilus VM.
 *
 * A layout says which thread holds which element of a register tile: a map
 * (thread, local index) -> logical index that reaches every logical element at least once.
 *
 * Representation (Tilus's "modes"): each tile dimension is factored into modes, most significant
 * first. Every mode is placed on exactly one axis: the thread axis or the local axis. The thread
 * axis may also hold replication entries: threads that hold the same elements. Both axes are
 * mixed-radix numbers over their entries (first entry most significant). Layouts are kept in a
 * canonical form (no unit modes, maximal merges), so two layouts with the same map have the same
 * mode lists and `equals` / `divide` are exact structural operations.
 */

/** One factor of a tile dimension. */
export interface LayoutMode {
  readonly dim: number;
  readonly size: number;
}

/** A (thread, local index) pair that holds an element. */
export interface LayoutOwner {
  readonly thread: number;
  readonly local: number;
}

type Axis = 'thread' | 'local';

// Only this module may call the Layout constructor: it trusts its input to be canonical.
const internal: unique symbol = Symbol('Layout.internal');

const fmt = (xs: readonly number[]): string => `[${xs.join(', ')}]`;

function checkCount(fn: string, name: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new RangeError(
      `${fn}: ${name} must be an integer >= ${min}, got ${String(value)}; ` +
        `pass a whole number of elements or threads (use 1 for an unused axis)`,
    );
  }
}

function checkDims(fn: string, dims: readonly number[]): void {
  dims.forEach((d, i) => {
    checkCount(fn, `dims[${i}]`, d, 1);
  });
}

// `hint` names the bound for the message; a function so that hot paths build no strings.
function checkIndex(fn: string, name: string, value: number, bound: number, hint: () => string): void {
  if (!Number.isInteger(value) || value < 0 || value >= bound) {
    throw new RangeError(
      `${fn}: ${name} ${String(value)} is out of range [0, ${bound}); pass an integer with 0 <= ${name} < ${hint()}`,
    );
  }
}

function product(xs: readonly number[]): number {
  let p = 1;
  for (const x of xs) p *= x;
  return p;
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

export class Layout {
  /** Logical tile shape. */
  readonly shape: readonly number[];
  readonly numThreads: number;
  /** Elements (register slots) per thread. */
  readonly localSize: number;
  /** How many (thread, local) pairs hold each element; the same for every element. */
  readonly replication: number;
  /** Factors of the shape, sorted by dim; within a dim the most significant factor comes first. */
  readonly modes: readonly LayoutMode[];
  /** Thread axis, most significant first: a mode index, or -n for n replicated threads. */
  readonly threadModes: readonly number[];
  /** Local axis, most significant first: mode indices. */
  readonly localModes: readonly number[];

  // Per mode: which axis holds it and its stride on that axis (precomputed for map/owners).
  private readonly axisOf: readonly Axis[];
  private readonly strideOf: readonly number[];
  // Replication entries of the thread axis as (stride, count) pairs.
  private readonly replicas: readonly { stride: number; size: number }[];

  /** Internal: use the primitives, products, or Layout.fromModes. */
  constructor(
    token: typeof internal,
    shape: readonly number[],
    modes: readonly LayoutMode[],
    threadModes: readonly number[],
    localModes: readonly number[],
  ) {
    if (token !== internal)
      throw new TypeError('Layout: build layouts with local/spatial/... or Layout.fromModes');
    this.shape = Object.freeze([...shape]);
    this.modes = Object.freeze(modes.map((m) => Object.freeze({ dim: m.dim, size: m.size })));
    this.threadModes = Object.freeze([...threadModes]);
    this.localModes = Object.freeze([...localModes]);
    const axisOf: Axis[] = new Array(modes.length);
    const strideOf: number[] = new Array(modes.length);
    const replicas: { stride: number; size: number }[] = [];
    let stride = 1;
    for (let i = threadModes.length - 1; i >= 0; i--) {
      const e = threadModes[i];
      const size = e < 0 ? -e : modes[e].size;
      if (e < 0) replicas.push({ stride, size });
      else {
        axisOf[e] = 'thread';
        strideOf[e] = stride;
      }
      stride *= size;
    }
    this.numThreads = stride;
    stride = 1;
    for (let i = localModes.length - 1; i >= 0; i--) {
      const e = localModes[i];
      axisOf[e] = 'local';
      strideOf[e] = stride;
      stride *= modes[e].size;
    }
    this.localSize = stride;
    this.replication = product(replicas.map((r) => r.size));
    this.axisOf = axisOf;
    this.strideOf = strideOf;
    this.replicas = replicas;
    if (!Number.isSafeInteger(this.numThreads * this.localSize)) {
      throw new RangeError(
        `Layout: ${this.numThreads} threads x ${this.localSize} locals exceeds 2^53; use a smaller tile`,
      );
    }
  }

  /**
   * Builds a layout from explicit mode lists (the representation described on the fields) and
   * canonicalizes it. Modes must be sorted by dim, multiply to the shape per dim, and each must
   * appear exactly once on the thread or local axis.
   */
  static fromModes(
    shape: readonly number[],
    modes: readonly LayoutMode[],
    threadModes: readonly number[],
    localModes: readonly number[],
  ): Layout {
    const fn = 'Layout.fromModes';
    shape.forEach((s, i) => {
      checkCount(fn, `shape[${i}]`, s, 1);
    });
    const perDim = shape.map(() => 1);
    modes.forEach((m, i) => {
      checkIndex(fn, `modes[${i}].dim`, m.dim, shape.length, () => 'shape.length');
      checkCount(fn, `modes[${i}].size`, m.size, 1);
      if (i > 0 && modes[i - 1].dim > m.dim) {
        throw new RangeError(
          `${fn}: modes must be sorted by dim; modes[${i}] has dim ${m.dim} after dim ${modes[i - 1].dim}`,
        );
      }
      perDim[m.dim] *= m.size;
    });
    perDim.forEach((p, d) => {
      if (p !== shape[d]) {
        throw new RangeError(
          `${fn}: modes of dim ${d} multiply to ${p} but shape[${d}] is ${shape[d]}; make the factors multiply to the extent`,
        );
      }
    });
    const seen = modes.map(() => 0);
    for (const e of threadModes) {
      if (e < 0) checkCount(fn, 'replication entry -n: n', -e, 1);
      else {
        checkIndex(fn, 'threadModes entry', e, modes.length, () => 'modes.length (or -n to replicate)');
        seen[e]++;
      }
    }
    for (const e of localModes) {
      checkIndex(fn, 'localModes entry', e, modes.length, () => 'modes.length');
      seen[e]++;
    }
    seen.forEach((n, i) => {
      if (n !== 1) {
        throw new RangeError(
          `${fn}: mode ${i} is placed ${n} times; place each mode on exactly one axis, once`,
        );
      }
    });
    return canonical(shape, modes, threadModes, localModes);
  }

  get rank(): number {
    return this.shape.length;
  }

  /** Number of logical elements (without replication). */
  get size(): number {
    return product(this.shape);
  }

  /** The logical index held by `thread` in register slot `local`. */
  map(thread: number, local: number): number[] {
    checkIndex(
      'Layout.map',
      'thread',
      thread,
      this.numThreads,
      () => `numThreads (${this.numThreads}) of ${this}`,
    );
    checkIndex(
      'Layout.map',
      'local',
      local,
      this.localSize,
      () => `localSize (${this.localSize}) of ${this}`,
    );
    const out = this.shape.map(() => 0);
    this.modes.forEach((m, i) => {
      const x = this.axisOf[i] === 'thread' ? thread : local;
      out[m.dim] = out[m.dim] * m.size + (Math.floor(x / this.strideOf[i]) % m.size);
    });
    return out;
  }

  /** Every (thread, local) pair holding `logical`, by ascending thread; length == replication. */
  owners(logical: readonly number[]): LayoutOwner[] {
    const digits = this.digitsOf('Layout.owners', logical);
    let thread = 0;
    let local = 0;
    this.modes.forEach((_, i) => {
      if (this.axisOf[i] === 'thread') thread += digits[i] * this.strideOf[i];
      else local += digits[i] * this.strideOf[i];
    });
    let threads = [thread];
    for (const r of this.replicas) {
      const next: number[] = [];
      for (const t of threads) for (let k = 0; k < r.size; k++) next.push(t + k * r.stride);
      threads = next;
    }
    threads.sort((a, b) => a - b);
    return threads.map((t) => ({ thread: t, local }));
  }

  /** The register slot in which `thread` holds `logical`, or undefined if it does not hold it. */
  localIndexOf(thread: number, logical: readonly number[]): number | undefined {
    checkIndex(
      'Layout.localIndexOf',
      'thread',
      thread,
      this.numThreads,
      () => `numThreads (${this.numThreads}) of ${this}`,
    );
    const digits = this.digitsOf('Layout.localIndexOf', logical);
    let local = 0;
    for (let i = 0; i < this.modes.length; i++) {
      if (this.axisOf[i] === 'local') local += digits[i] * this.strideOf[i];
      else if (Math.floor(thread / this.strideOf[i]) % this.modes[i].size !== digits[i]) return undefined;
    }
    return local;
  }

  // Splits a logical index into one digit per mode (validating it on the way).
  private digitsOf(fn: string, logical: readonly number[]): number[] {
    if (logical.length !== this.rank) {
      throw new RangeError(
        `${fn}: logical ${fmt(logical)} has ${logical.length} coordinates but the layout has rank ${this.rank}; ` +
          `pass one index per dimension of ${fmt(this.shape)}`,
      );
    }
    logical.forEach((x, d) => {
      checkIndex(
        fn,
        `logical[${d}]`,
        x,
        this.shape[d],
        () => `shape[${d}] (${this.shape[d]}) of ${fmt(this.shape)}`,
      );
    });
    const rest = [...logical];
    const digits: number[] = new Array(this.modes.length);
    for (let i = this.modes.length - 1; i >= 0; i--) {
      const m = this.modes[i];
      digits[i] = rest[m.dim] % m.size;
      rest[m.dim] = Math.floor(rest[m.dim] / m.size);
    }
    return digits;
  }

  /**
   * Composition `this * inner`: every element of this layout becomes an inner tile.
   * shape = this.shape .* inner.shape (ranks equalized by prepending 1s);
   * logical = outer * inner.shape + inner; thread = outerThread * inner.numThreads + innerThread;
   * local = outerLocal * inner.localSize + innerLocal.
   */
  product(inner: Layout): Layout {
    const rank = Math.max(this.rank, inner.rank);
    const a = padRank(this, rank);
    const b = padRank(inner, rank);
    const modes: LayoutMode[] = [];
    const aId: number[] = [];
    const bId: number[] = [];
    for (let d = 0; d < rank; d++) {
      a.modes.forEach((m, i) => {
        if (m.dim === d) aId[i] = modes.push(m) - 1;
      });
      b.modes.forEach((m, i) => {
        if (m.dim === d) bId[i] = modes.push(m) - 1;
      });
    }
    const shape = a.shape.map((s, d) => s * b.shape[d]);
    const thread = [
      ...a.threadModes.map((e) => (e < 0 ? e : aId[e])),
      ...b.threadModes.map((e) => (e < 0 ? e : bId[e])),
    ];
    const local = [...a.localModes.map((e) => aId[e]), ...b.localModes.map((e) => bId[e])];
    return canonical(shape, modes, thread, local);
  }

  local(...dims: number[]): Layout {
    return this.product(local(...dims));
  }

  spatial(...dims: number[]): Layout {
    return this.product(spatial(...dims));
  }

  columnLocal(...dims: number[]): Layout {
    return this.product(columnLocal(...dims));
  }

  columnSpatial(...dims: number[]): Layout {
    return this.product(columnSpatial(...dims));
  }

  /** Every thread of this layout becomes n threads holding the same elements. */
  replicate(n: number): Layout {
    checkCount('Layout.replicate', 'n', n, 1);
    return this.product(replicated(n, this.rank));
  }

  /**
   * The layout Q with Q.product(inner) equal to this, or undefined when there is none.
   * Q has this layout's rank, so `inner` may not have a higher rank.
   */
  divide(inner: Layout): Layout | undefined {
    if (inner.rank > this.rank) return undefined;
    const b = padRank(inner, this.rank);
    if (this.shape.some((s, d) => s % b.shape[d] !== 0)) return undefined;
    if (this.numThreads % b.numThreads !== 0 || this.localSize % b.localSize !== 0) return undefined;

    // 1. Match each dim's trailing modes to inner's modes; the first inner mode of a dim may sit
    //    in the low part of a merged mode (the product merged it with the outer's last mode).
    const innerToOuter: number[] = new Array(b.modes.length);
    const splitLow: number[] = this.modes.map(() => 1); // low factor that belongs to inner
    const ownedByInner: boolean[] = this.modes.map(() => false);
    for (let d = 0; d < this.rank; d++) {
      const am = modesOfDim(this, d);
      const bm = modesOfDim(b, d);
      if (bm.length === 0) continue;
      if (am.length < bm.length) return undefined;
      const off = am.length - bm.length;
      for (let j = 0; j < bm.length; j++) {
        const ai = am[off + j];
        const asz = this.modes[ai].size;
        const bsz = b.modes[bm[j]].size;
        innerToOuter[bm[j]] = ai;
        if (asz === bsz) ownedByInner[ai] = true;
        else if (j === 0 && asz % bsz === 0) splitLow[ai] = bsz;
        else return undefined;
      }
    }

    // 2. Each axis of this layout must end with inner's axis (first entry possibly split).
    const splitUsed = this.modes.map(() => false);
    const qThread = matchAxis(
      this.threadModes,
      b.threadModes,
      innerToOuter,
      splitLow,
      ownedByInner,
      splitUsed,
    );
    const qLocal = matchAxis(this.localModes, b.localModes, innerToOuter, splitLow, ownedByInner, splitUsed);
    if (qThread === undefined || qLocal === undefined) return undefined;
    if (splitLow.some((s, i) => s > 1 && !splitUsed[i])) return undefined;

    // 3. The remaining (high) parts form the quotient.
    const qModes: LayoutMode[] = [];
    const qId: number[] = this.modes.map(() => -1);
    this.modes.forEach((m, i) => {
      if (ownedByInner[i]) return;
      qId[i] = qModes.push({ dim: m.dim, size: m.size / splitLow[i] }) - 1;
    });
    const shape = this.shape.map((s, d) => s / b.shape[d]);
    const remap = (e: number): number => (e < 0 ? e : qId[e]);
    const q = canonical(shape, qModes, qThread.map(remap), qLocal.map(remap));
    // The construction above follows the canonical form; checking the product keeps it honest.
    return q.product(inner).equals(this) ? q : undefined;
  }

  /** Same shape, thread count, local size and map (exact: layouts are canonical). */
  equals(other: Layout): boolean {
    const same = (x: readonly number[], y: readonly number[]): boolean =>
      x.length === y.length && x.every((v, i) => v === y[i]);
    return (
      same(this.shape, other.shape) &&
      same(this.threadModes, other.threadModes) &&
      same(this.localModes, other.localModes) &&
      this.modes.length === other.modes.length &&
      this.modes.every((m, i) => m.dim === other.modes[i].dim && m.size === other.modes[i].size)
    );
  }

  /** A product of primitives that rebuilds this layout, e.g. "spatial(4, 8).local(2, 1)". */
  toString(): string {
    return describe(this);
  }

  /**
   * An ASCII grid of `thread:local` per element (replicated threads joined by '/'); ranks above 2
   * are shown with the leading dims flattened into rows.
   */
  visualize(): string {
    const cols = this.rank === 0 ? 1 : this.shape[this.rank - 1];
    const rows = this.size / cols;
    const cells: string[][] = [];
    for (let r = 0; r < rows; r++) {
      const row: string[] = [];
      for (let c = 0; c < cols; c++) {
        const idx: number[] = new Array(this.rank);
        let flat = r * cols + c;
        for (let d = this.rank - 1; d >= 0; d--) {
          idx[d] = flat % this.shape[d];
          flat = Math.floor(flat / this.shape[d]);
        }
        const own = this.owners(idx);
        row.push(`${own.map((o) => o.thread).join('/')}:${own[0].local}`);
      }
      cells.push(row);
    }
    const width = Math.max(...cells.flat().map((s) => s.length));
    return [this.toString(), ...cells.map((row) => row.map((s) => s.padStart(width)).join(' '))].join('\n');
  }
}

function modesOfDim(l: Layout, d: number): number[] {
  const out: number[] = [];
  l.modes.forEach((m, i) => {
    if (m.dim === d) out.push(i);
  });
  return out;
}

// Prepends unit dims; unit dims carry no modes, so only the mode dims shift.
function padRank(l: Layout, rank: number): Layout {
  const k = rank - l.rank;
  if (k === 0) return l;
  return canonical(
    [...new Array<number>(k).fill(1), ...l.shape],
    l.modes.map((m) => ({ dim: m.dim + k, size: m.size })),
    l.threadModes,
    l.localModes,
  );
}

// Strips inner's axis off the end of outer's axis; returns outer's remaining prefix, or undefined.
function matchAxis(
  axis: readonly number[],
  innerAxis: readonly number[],
  innerToOuter: readonly number[],
  splitLow: readonly number[],
  ownedByInner: readonly boolean[],
  splitUsed: boolean[],
): number[] | undefined {
  const off = axis.length - innerAxis.length;
  if (off < 0) return undefined;
  const prefix = axis.slice(0, off);
  for (let j = 0; j < innerAxis.length; j++) {
    const e = axis[off + j];
    const f = innerAxis[j];
    if (f < 0) {
      // Replication: the first entry may be merged with the outer's trailing replication.
      if (e >= 0) return undefined;
      if (e === f) continue;
      if (j !== 0 || e % f !== 0) return undefined;
      prefix.push(-(e / f));
      continue;
    }
    if (e < 0 || innerToOuter[f] !== e) return undefined;
    if (splitLow[e] > 1) {
      if (j !== 0) return undefined;
      splitUsed[e] = true;
      prefix.push(e); // the high part stays on the quotient's axis
    } else if (!ownedByInner[e]) return undefined;
  }
  return prefix;
}

// Canonical form: drop unit modes and unit replication, merge adjacent replication, and merge
// runs of modes that are consecutive both in their dim and on their axis. Any two mode lists with
// the same map end up identical, which makes equals/divide structural.
function canonical(
  shape: readonly number[],
  modes: readonly LayoutMode[],
  threadModes: readonly number[],
  localModes: readonly number[],
): Layout {
  // 1. unit modes
  const keepId: number[] = [];
  const kept: LayoutMode[] = [];
  modes.forEach((m, i) => {
    keepId[i] = m.size > 1 ? kept.push(m) - 1 : -1;
  });
  let thread = threadModes
    .filter((e) => (e < 0 ? e !== -1 : keepId[e] >= 0))
    .map((e) => (e < 0 ? e : keepId[e]));
  const local = localModes.filter((e) => keepId[e] >= 0).map((e) => keepId[e]);

  // 2. adjacent replication entries
  const merged: number[] = [];
  for (const e of thread) {
    const last = merged.length - 1;
    if (e < 0 && last >= 0 && merged[last] < 0) merged[last] = -(merged[last] * e);
    else merged.push(e);
  }
  thread = merged;

  // 3. runs of modes that are neighbours in their dim and on their axis
  const where: { axis: number[]; pos: number }[] = [];
  thread.forEach((e, pos) => {
    if (e >= 0) where[e] = { axis: thread, pos };
  });
  local.forEach((e, pos) => {
    where[e] = { axis: local, pos };
  });
  const newModes: LayoutMode[] = [];
  const newId: number[] = [];
  const absorbed: boolean[] = [];
  for (let i = 0; i < kept.length; ) {
    let j = i;
    let size = kept[i].size;
    while (
      j + 1 < kept.length &&
      kept[j + 1].dim === kept[i].dim &&
      where[j + 1].axis === where[j].axis &&
      where[j + 1].pos === where[j].pos + 1
    ) {
      j++;
      size *= kept[j].size;
      absorbed[j] = true;
    }
    const id = newModes.push({ dim: kept[i].dim, size }) - 1;
    for (let k = i; k <= j; k++) newId[k] = id;
    i = j + 1;
  }
  const rewrite = (axis: number[]): number[] =>
    axis.filter((e) => e < 0 || !absorbed[e]).map((e) => (e < 0 ? e : newId[e]));
  return new Layout(internal, shape, newModes, rewrite(thread), rewrite(local));
}

// Writes the layout as a chain of primitives. A chain exists when the modes can be ordered
// consistently with their dims and both axes (true for everything built from primitives,
// products and quotients); otherwise falls back to the explicit mode lists.
function describe(l: Layout): string {
  const rank = l.rank;
  const nModes = l.modes.length;
  // Nodes: modes 0..nModes-1, then one node per replication entry (by thread position).
  const nodeOfThread = l.threadModes.map((e, pos) => (e < 0 ? nModes + pos : e));
  const nNodes = nModes + l.threadModes.length;
  const preds: number[][] = Array.from({ length: nNodes }, () => []);
  const axisNext: number[] = new Array(nNodes).fill(-1);
  const isThread: boolean[] = new Array(nNodes).fill(false);
  const isReplica = (n: number): boolean => n >= nModes;
  for (let i = 1; i < nModes; i++) if (l.modes[i].dim === l.modes[i - 1].dim) preds[i].push(i - 1);
  for (let p = 0; p < nodeOfThread.length; p++) {
    isThread[nodeOfThread[p]] = true;
    if (p > 0) {
      preds[nodeOfThread[p]].push(nodeOfThread[p - 1]);
      axisNext[nodeOfThread[p - 1]] = nodeOfThread[p];
    }
  }
  for (let p = 1; p < l.localModes.length; p++) {
    preds[l.localModes[p]].push(l.localModes[p - 1]);
    axisNext[l.localModes[p - 1]] = l.localModes[p];
  }
  // Slots of thread positions that hold modes are not nodes: mark them done up front.
  const done: boolean[] = Array.from(
    { length: nNodes },
    (_, n) => n >= nModes && l.threadModes[n - nModes] >= 0,
  );
  const ready = (n: number, extra: readonly number[]): boolean =>
    !done[n] && preds[n].every((p) => done[p] || extra.includes(p));

  // Grows a primitive from `start`: follow its axis while dims stay strictly monotone.
  const grow = (start: number): number[] => {
    const group = [start];
    if (isReplica(start)) return group;
    let dir = 0;
    for (let n = axisNext[start]; n >= 0 && !isReplica(n) && ready(n, group); n = axisNext[n]) {
      const step = Math.sign(l.modes[n].dim - l.modes[group[group.length - 1]].dim);
      if (step === 0 || (dir !== 0 && step !== dir)) break;
      dir = step;
      group.push(n);
    }
    return group;
  };

  // Fewest primitives wins: search which primitive comes next, memoized on the set emitted.
  const kindRank = (n: number): number => (isReplica(n) ? 0 : isThread[n] ? 2 : 1);
  const memo = new Map<string, number[][] | null>();
  const plan = (left: number): number[][] | null => {
    if (left === 0) return [];
    const key = done.map((d) => (d ? 1 : 0)).join('');
    const hit = memo.get(key);
    if (hit !== undefined) return hit;
    const options: number[][] = [];
    for (let n = 0; n < nNodes; n++) {
      if (!ready(n, [])) continue;
      const g = grow(n);
      for (let len = g.length; len > 0; len--) options.push(g.slice(0, len));
    }
    // Ties go to the first option: longer primitives, then spatial before local before replication.
    options.sort((x, y) => y.length - x.length || kindRank(y[0]) - kindRank(x[0]));
    let best: number[][] | null = null;
    for (const g of options) {
      for (const n of g) done[n] = true;
      const rest = plan(left - g.length);
      for (const n of g) done[n] = false;
      if (rest !== null && (best === null || rest.length + 1 < best.length)) best = [g, ...rest];
    }
    memo.set(key, best);
    return best;
  };
  const groups = plan(done.filter((d) => !d).length);
  if (groups === null) {
    const modes = l.modes.map((m) => `{ dim: ${m.dim}, size: ${m.size} }`).join(', ');
    return `Layout.fromModes(${fmt(l.shape)}, [${modes}], ${fmt(l.threadModes)}, ${fmt(l.localModes)})`;
  }
  const parts: string[] = [];
  for (const best of groups) {
    const first = parts.length === 0;
    if (isReplica(best[0])) {
      const n = -l.threadModes[best[0] - nModes];
      parts.push(first ? `replicated(${n}, ${rank})` : `.replicate(${n})`);
      continue;
    }
    const dims: number[] = new Array(rank).fill(1);
    for (const n of best) dims[l.modes[n].dim] = l.modes[n].size;
    const column = best.length > 1 && l.modes[best[1]].dim < l.modes[best[0]].dim;
    const base = isThread[best[0]] ? 'spatial' : 'local';
    const name = column ? `column${base[0].toUpperCase()}${base.slice(1)}` : base;
    parts.push(`${first ? '' : '.'}${name}(${dims.join(', ')})`);
  }
  return parts.length === 0 ? `local(${l.shape.join(', ')})` : parts.join('');
}

function primitive(fn: string, dims: readonly number[], axis: Axis, columnMajor: boolean): Layout {
  checkDims(fn, dims);
  const modes = dims.map((size, dim) => ({ dim, size }));
  const order = dims.map((_, i) => i);
  if (columnMajor) order.reverse();
  return Layout.fromModes(dims, modes, axis === 'thread' ? order : [], axis === 'local' ? order : []);
}

/** One thread holds the whole tile; local index is row-major (last dim fastest). */
export function local(...dims: number[]): Layout {
  return primitive('local', dims, 'local', false);
}

/** One element per thread; thread index is row-major (last dim fastest). */
export function spatial(...dims: number[]): Layout {
  return primitive('spatial', dims, 'thread', false);
}

/** One thread holds the whole tile; local index is column-major (first dim fastest). */
export function columnLocal(...dims: number[]): Layout {
  return primitive('columnLocal', dims, 'local', true);
}

/** One element per thread; thread index is column-major (first dim fastest). */
export function columnSpatial(...dims: number[]): Layout {
  return primitive('columnSpatial', dims, 'thread', true);
}

/** A tile of shape [1, ..., 1] (rank `rank`) held by n threads: replication n. */
export function replicated(n: number, rank = 1): Layout {
  checkCount('replicated', 'n', n, 1);
  checkCount('replicated', 'rank', rank, 0);
  return Layout.fromModes(new Array<number>(rank).fill(1), [], [-n], []);
}

/**
 * A sensible layout for a tile when the program gave none: threads go to the innermost dims
 * first (adjacent threads hold adjacent elements, which coalesces memory access), the rest of
 * each dim stays local, and threads left over replicate the whole tile.
 */
export function defaultLayout(shape: readonly number[], numThreads: number): Layout {
  shape.forEach((s, i) => {
    checkCount('defaultLayout', `shape[${i}]`, s, 1);
  });
  checkCount('defaultLayout', 'numThreads', numThreads, 1);
  const threads = shape.map(() => 1);
  let left = numThreads;
  for (let d = shape.length - 1; d >= 0 && left > 1; d--) {
    threads[d] = gcd(shape[d], left);
    left /= threads[d];
  }
  const locals = shape.map((s, d) => s / threads[d]);
  return replicated(left, shape.length)
    .local(...locals)
    .spatial(...threads);
}
