// Register tiles in the generated WGSL: where their elements live (a placement, layouts.ts) and the
// building blocks of every tile op (per-element loops, index arithmetic, staging through the
// workgroup scratch array).
//
// Each thread holds its fragment of a tile in `var name: array<REG, slots>` (a plain `var` for one
// slot). A tile of one element (0-d, [1], [1, 1], ...) is replicated: every thread holds it, so
// broadcasting it costs nothing. Other tiles follow their placement: a Layout chosen by the user or
// by layout inference (layout-inference.ts), or the cyclic fallback (element e in thread e % T, slot
// e / T).
import type { DType } from '../../dtype.js';
import type { TileVar } from '../../ir/program.js';
import { numel, stridesOf } from '../../ir/shapes.js';
import { type Reg, reg } from './expr.js';
import { CYCLIC, type LayoutCode, type Placement } from './layouts.js';
import type { Writer } from './writer.js';

/** Where a register tile's elements live. */
export interface TileLayout {
  readonly n: number;
  /** One element, held by every thread. */
  readonly replicated: boolean;
  /** Private slots per thread. */
  readonly slots: number;
  readonly placement: Placement;
}

export interface TileInfo extends TileLayout {
  readonly v: TileVar | undefined;
  readonly name: string;
  readonly dtype: DType;
  readonly reg: Reg;
  readonly shape: readonly number[];
}

export function tileLayout(
  shape: readonly number[],
  threads: number,
  placement: Placement = CYCLIC,
): TileLayout {
  const n = numel(shape);
  if (n === 1) return { n, replicated: true, slots: 1, placement };
  if (placement.kind === 'layout')
    return { n, replicated: false, slots: placement.layout.localSize, placement };
  return { n, replicated: false, slots: Math.ceil(n / threads), placement };
}

export function makeTile(
  v: TileVar | undefined,
  name: string,
  dtype: DType,
  shape: readonly number[],
  threads: number,
  placement: Placement = CYCLIC,
): TileInfo {
  return { v, name, dtype, reg: reg(dtype), shape, ...tileLayout(shape, threads, placement) };
}

/** The private declaration of a register tile: an array, or a plain variable for one slot. */
export function declareTile(t: TileInfo): string {
  return t.slots === 1 ? `var ${t.name}: ${t.reg};` : `var ${t.name}: array<${t.reg}, ${t.slots}>;`;
}

/** The element of `t` at private slot `slot` of this thread. */
export function at(t: TileInfo, slot: string): string {
  return t.slots === 1 ? t.name : `${t.name}[${slot}]`;
}

/** The index arithmetic of a Layout placement, with its thread part hoisted (Gen.layoutCode). */
export type LayoutCodeOf = (t: TileLayout) => LayoutCode;

/**
 * Runs `body(slot, el)` for every element this thread holds: `el` is the element's row-major flat
 * index (a u32 expression), `slot` its private slot. An element several threads hold is computed by
 * each of them, or only by its first holder with `oneThread` (stores to memory shared by the block).
 */
export function eachElement(
  w: Writer,
  t: TileLayout,
  threads: number,
  body: (slot: string, el: string) => void,
  oneThread = false,
  code?: LayoutCodeOf,
): void {
  if (t.replicated) {
    if (oneThread) w.block('if tid == 0u', () => body('0u', '0u'));
    else {
      // A block keeps the body's locals (acc, base, ...) out of main's scope.
      const mark = w.mark();
      body('0u', '0u');
      const lines = w.since(mark);
      if (lines.some((l) => /^\s*(let|var) /.test(l))) {
        w.insertAt(mark, '{');
        w.indentSince(mark + 1);
        w.line('}');
      }
    }
    return;
  }
  // `let el` only where the body uses it; a block around the body only where it declares something.
  const withEl = (el: string, slot: string, head: string | undefined): void => {
    if (head !== undefined) w.line(`${head} {`);
    const mark = w.mark();
    body(slot, 'el');
    const lines = w.since(mark);
    const usesEl = lines.some((l) => /\bel\b/.test(l));
    if (usesEl) w.insertAt(mark, `let el = ${el};`);
    if (head !== undefined) {
      w.indentSince(mark);
      w.line('}');
    } else if (usesEl || lines.some((l) => /^\s*(let|var) /.test(l))) {
      w.insertAt(mark, '{');
      w.indentSince(mark + 1);
      w.line('}');
    }
  };
  if (t.placement.kind === 'layout') {
    if (!code) throw new Error('internal: a layout placement needs its index code');
    const c = code(t);
    const guard = oneThread ? c.primary : undefined;
    const inner = (): void => {
      if (t.slots === 1) withEl(c.threadPart, '0u', undefined);
      else
        w.block(`for (var slot = 0u; slot < ${t.slots}u; slot++)`, () => {
          const local = c.localPart('slot');
          withEl(c.threadPart === '0u' ? local : `${c.threadPart} + ${local}`, 'slot', undefined);
        });
    };
    if (guard) w.block(`if ${guard}`, inner);
    else inner();
    return;
  }
  if (t.slots === 1) {
    // One element per thread at most: element tid.
    withEl('tid', '0u', t.n === threads ? undefined : `if tid < ${t.n}u`);
    return;
  }
  w.block(`for (var slot = 0u; slot < ${t.slots}u; slot++)`, () => {
    if (t.n % threads === 0) withEl(`slot * ${threads}u + tid`, 'slot', undefined);
    else {
      w.line(`let el = slot * ${threads}u + tid;`);
      w.block(`if el < ${t.n}u`, () => body('slot', 'el'));
    }
  });
}

/**
 * The coordinate along each axis of the element with flat index `el` (u32) in a row-major tile of
 * `shape`, each divided by `div[axis]` (which divides the dim; 1 by default).
 */
export function coords(el: string, shape: readonly number[], div?: readonly number[]): string[] {
  const n = numel(shape);
  const strides = stridesOf(shape);
  return shape.map((dim, d) => {
    const q = div?.[d] ?? 1;
    if (el === '0u' || dim / q === 1) return '0u';
    const step = strides[d] * q;
    let x = step === 1 ? el : `(${el} / ${step}u)`;
    if (strides[d] * dim < n) x = `(${x} % ${dim / q}u)`;
    return x;
  });
}

/** `sum(expr * coef)` as u32 WGSL, skipping zero terms; '0u' when empty. */
export function linear(terms: readonly (readonly [string, number])[]): string {
  const parts = terms
    .filter(([x, c]) => c !== 0 && x !== '0u')
    .map(([x, c]) => (c === 1 ? x : `${x} * ${c}u`));
  if (parts.length === 0) return '0u';
  return parts.length === 1 ? parts[0] : `(${parts.join(' + ')})`;
}

/** `x` (of register type r) as the u32 the scratch array holds. */
export function toBits(r: Reg, x: string): string {
  switch (r) {
    case 'u32':
      return x;
    case 'bool':
      return `select(0u, 1u, ${x})`;
    default:
      return `bitcast<u32>(${x})`;
  }
}

/** A scratch word back as a value of register type r. */
export function fromBits(r: Reg, word: string): string {
  switch (r) {
    case 'u32':
      return word;
    case 'bool':
      return `(${word} != 0u)`;
    default:
      return `bitcast<${r}>(${word})`;
  }
}
