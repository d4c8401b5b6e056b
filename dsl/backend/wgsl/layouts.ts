// Where the elements of a register tile live in the generated WGSL: a placement, its compile-time
// view (which thread holds which element in which private slot) and the WGSL index arithmetic.
//
// A placement is either a Layout (dsl/layout.ts, spanning exactly the block's T threads) or the
// cyclic fallback for shapes no reasonable Layout fits (element e in thread e % T at slot e / T; a
// tile of 200 elements over 128 threads, say). A tile of one element is always replicated: every
// thread holds it in a plain variable.
//
// Code for a Layout: element (thread, slot) has row-major flat index
//   el = sum over modes m of digit_m * coef_m,   digit_m = (axis / stride_m) % size_m
// where axis is tid (thread modes) or the slot (local modes) and coef_m is the mode's weight in the
// row-major index. The thread part is one `let` per layout at the top of main.
import { numel, stridesOf } from '../../ir/shapes.js';
import type { Layout } from '../../layout.js';

export type Placement = { readonly kind: 'cyclic' } | { readonly kind: 'layout'; readonly layout: Layout };

export const CYCLIC: Placement = { kind: 'cyclic' };

// Layout.toString searches for the shortest chain of primitives: once per layout is enough.
const names = new WeakMap<Layout, string>();

export function placementName(p: Placement): string {
  if (p.kind === 'cyclic') return 'cyclic';
  let name = names.get(p.layout);
  if (name === undefined) {
    name = p.layout.toString();
    names.set(p.layout, name);
  }
  return name;
}

/** The compile-time view of a placed tile: which flat element each (thread, slot) holds. */
export interface Holder {
  readonly n: number;
  readonly slots: number;
  /** The row-major flat index held at (thread, slot), or -1 where that slot is unused. */
  flat(thread: number, slot: number): number;
  /** The slot in which `thread` holds element `flat`, or undefined. */
  slotOf(thread: number, flat: number): number | undefined;
}

export function holder(shape: readonly number[], p: Placement, threads: number): Holder {
  const n = numel(shape);
  if (n === 1) return { n, slots: 1, flat: () => 0, slotOf: () => 0 };
  if (p.kind === 'cyclic') {
    return {
      n,
      slots: Math.ceil(n / threads),
      flat: (t, l) => (l * threads + t < n ? l * threads + t : -1),
      slotOf: (t, f) => (f % threads === t ? Math.floor(f / threads) : undefined),
    };
  }
  const layout = p.layout;
  const strides = stridesOf(shape);
  // Per mode: its axis, stride on that axis, size, dim and weight inside its dim (plain arithmetic:
  // the analyses below call these in tight loops).
  const modes = layout.modes.map((m, i) => {
    let inner = 1;
    for (let j = i + 1; j < layout.modes.length; j++)
      if (layout.modes[j].dim === m.dim) inner *= layout.modes[j].size;
    return { dim: m.dim, size: m.size, inner, onThread: !layout.localModes.includes(i), stride: 1 };
  });
  const strideOn = (entries: readonly number[]): void => {
    let stride = 1;
    for (let i = entries.length - 1; i >= 0; i--) {
      const e = entries[i];
      if (e >= 0) modes[e].stride = stride;
      stride *= e < 0 ? -e : modes[e].size;
    }
  };
  strideOn(layout.threadModes);
  strideOn(layout.localModes);
  const L = layout.localSize;
  const flatCache = new Int32Array(threads * L).fill(-1);
  for (let t = 0; t < threads; t++)
    for (let l = 0; l < L; l++) {
      let f = 0;
      for (const m of modes) {
        const digit = Math.floor((m.onThread ? t : l) / m.stride) % m.size;
        f += digit * m.inner * strides[m.dim];
      }
      flatCache[t * L + l] = f;
    }
  return {
    n,
    slots: L,
    flat: (t, l) => flatCache[t * L + l],
    slotOf: (t, f) => {
      let local = 0;
      for (const m of modes) {
        const digit = Math.floor((Math.floor(f / strides[m.dim]) % shape[m.dim]) / m.inner) % m.size;
        if (!m.onThread) local += digit * m.stride;
        else if (Math.floor(t / m.stride) % m.size !== digit) return undefined;
      }
      return local;
    },
  };
}

/**
 * For every slot l of `dst`: the slots of `src` that hold, in the same thread, the elements
 * `need(flat)` names for the element at l, the same slots in every thread that uses l. Undefined
 * when some thread lacks one of them (the data must move between threads).
 */
export function localSlots(
  dst: Holder,
  src: Holder,
  threads: number,
  need: (flat: number) => readonly number[],
): number[][] | undefined {
  const table: (number[] | undefined)[] = new Array(dst.slots).fill(undefined);
  for (let t = 0; t < threads; t++) {
    for (let l = 0; l < dst.slots; l++) {
      const e = dst.flat(t, l);
      if (e < 0) continue;
      const wanted = need(e);
      const row = table[l];
      if (row === undefined) {
        const found: number[] = [];
        for (const f of wanted) {
          const s = src.slotOf(t, f);
          if (s === undefined) return undefined;
          found.push(s);
        }
        table[l] = found;
      } else {
        for (let k = 0; k < wanted.length; k++) if (src.slotOf(t, wanted[k]) !== row[k]) return undefined;
      }
    }
  }
  return table.map((r) => r ?? []);
}

/** Same element in the same (thread, slot) everywhere: the tiles can be assigned as whole arrays. */
export function sameHolding(a: Holder, b: Holder, threads: number): boolean {
  if (a.n !== b.n || a.slots !== b.slots) return false;
  for (let t = 0; t < threads; t++)
    for (let l = 0; l < a.slots; l++) if (a.flat(t, l) !== b.flat(t, l)) return false;
  return true;
}

/** The WGSL index arithmetic of a Layout placement. */
export interface LayoutCode {
  /** u32 expression of the flat-index part that depends on tid only ('0u' when none). */
  readonly threadPart: string;
  /** u32 expression of the flat-index part of slot variable `slot`. */
  localPart(slot: string): string;
  /** bool expression: this thread is the first replica of its elements (undefined: no replication). */
  readonly primary: string | undefined;
}

function digit(x: string, stride: number, size: number, total: number): string {
  if (stride === 1 && size === total) return x;
  if (stride === 1) return `(${x} % ${size}u)`;
  if (stride * size === total) return `(${x} / ${stride}u)`;
  return `((${x} / ${stride}u) % ${size}u)`;
}

function sum(terms: readonly string[]): string {
  if (terms.length === 0) return '0u';
  return terms.length === 1 ? terms[0] : `(${terms.join(' + ')})`;
}

export function layoutCode(layout: Layout): LayoutCode {
  const shape = layout.shape;
  const rowStrides = stridesOf(shape);
  // Each mode's weight in the flat index: the sizes of the later modes of its dim, times the dim's stride.
  const coef = layout.modes.map((m, i) => {
    let inner = 1;
    for (let j = i + 1; j < layout.modes.length; j++)
      if (layout.modes[j].dim === m.dim) inner *= layout.modes[j].size;
    return inner * rowStrides[m.dim];
  });
  const axisTerms = (entries: readonly number[], x: string, total: number, withReplicas: boolean) => {
    const terms: string[] = [];
    const replicas: string[] = [];
    let stride = 1;
    for (let i = entries.length - 1; i >= 0; i--) {
      const e = entries[i];
      const size = e < 0 ? -e : layout.modes[e].size;
      const d = digit(x, stride, size, total);
      if (e < 0) {
        if (withReplicas) replicas.push(`${d} == 0u`);
      } else terms.unshift(coef[e] === 1 ? d : `${d} * ${coef[e]}u`);
      stride *= size;
    }
    return { terms, replicas };
  };
  const thread = axisTerms(layout.threadModes, 'tid', layout.numThreads, true);
  return {
    threadPart: sum(thread.terms),
    localPart: (slot) => sum(axisTerms(layout.localModes, slot, layout.localSize, false).terms),
    primary: thread.replicas.length === 0 ? undefined : thread.replicas.join(' && '),
  };
}

/**
 * A thread-independent slot map as a u32 expression of `slot`: the identity, a constant, an affine
 * map, or undefined (the caller then emits a table).
 */
export function slotMapExpr(map: readonly number[], slot: string): string | undefined {
  if (map.length === 0) return '0u';
  if (map.every((s, l) => s === l)) return slot;
  if (map.every((s) => s === map[0])) return `${map[0]}u`;
  if (map.length > 1) {
    const a = map[1] - map[0];
    const b = map[0];
    if (a > 0 && map.every((s, l) => s === a * l + b)) {
      const scaled = a === 1 ? slot : `${slot} * ${a}u`;
      return b === 0 ? scaled : `${scaled} + ${b}u`;
    }
  }
  // (slot / q) * a + b: a broadcast that drops the fastest local digits.
  for (let q = 2; q <= map.length; q++) {
    if (map.length % q !== 0) continue;
    const b = map[0];
    const a = map.length > q ? map[q] - map[0] : 1;
    if (a > 0 && map.every((s, l) => s === Math.floor(l / q) * a + b)) {
      const div = `(${slot} / ${q}u)`;
      const scaled = a === 1 ? div : `${div} * ${a}u`;
      return b === 0 ? scaled : `${scaled} + ${b}u`;
    }
  }
  return undefined;
}
