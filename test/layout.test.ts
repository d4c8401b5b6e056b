import { describe, expect, it } from 'vitest';
import {
  columnLocal,
  columnSpatial,
  defaultLayout,
  Layout,
  type LayoutOwner,
  local,
  replicated,
  spatial,
} from '../dsl/layout.js';
import { rng as seeded } from './helpers/random.js';

type Rng = () => number;
const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)];

const PRIMITIVES = { local, spatial, columnLocal, columnSpatial } as const;
type PrimitiveName = keyof typeof PRIMITIVES;

// A primitive factor, kept as data so tests can rebuild sub-products.
interface Factor {
  kind: PrimitiveName | 'replicated';
  dims: number[];
}

function build(factors: readonly Factor[], rank: number): Layout {
  let l = local(...new Array<number>(rank).fill(1));
  for (const f of factors) {
    l = l.product(f.kind === 'replicated' ? replicated(f.dims[0], rank) : PRIMITIVES[f.kind](...f.dims));
  }
  return l;
}

// Random factors with at most `budget` (thread, local) pairs in their product.
function randomFactors(rng: Rng, rank: number, count: number, budget = 1024): Factor[] {
  const out: Factor[] = [];
  let cost = 1;
  for (let i = 0; i < count; i++) {
    let f: Factor;
    if (rng() < 0.15) f = { kind: 'replicated', dims: [pick(rng, [2, 3])] };
    else {
      // Sometimes a lower rank, which product pads with leading 1s.
      const r = rank > 1 && rng() < 0.2 ? rank - 1 : rank;
      const dims = Array.from({ length: r }, () => pick(rng, [1, 1, 2, 2, 3, 4]));
      f = { kind: pick(rng, ['local', 'spatial', 'columnLocal', 'columnSpatial'] as const), dims };
    }
    const c = f.dims.reduce((p, d) => p * d, 1);
    if (cost * c > budget) continue;
    cost *= c;
    out.push(f);
  }
  return out;
}

function randomLayout(rng: Rng, budget = 1024): Layout {
  const rank = pick(rng, [1, 2, 2, 3]);
  return build(randomFactors(rng, rank, 1 + Math.floor(rng() * 4), budget), rank);
}

const key = (idx: readonly number[]): string => idx.join(',');

// Explicit-table oracle: logical index -> every (thread, local) that holds it, by the forward map.
function table(l: Layout): Map<string, LayoutOwner[]> {
  const t = new Map<string, LayoutOwner[]>();
  for (let thread = 0; thread < l.numThreads; thread++) {
    for (let loc = 0; loc < l.localSize; loc++) {
      const k = key(l.map(thread, loc));
      const list = t.get(k) ?? [];
      list.push({ thread, local: loc });
      t.set(k, list);
    }
  }
  return t;
}

function allIndices(shape: readonly number[]): number[][] {
  let out: number[][] = [[]];
  for (const s of shape) out = out.flatMap((p) => Array.from({ length: s }, (_, i) => [...p, i]));
  return out;
}

function sameMap(a: Layout, b: Layout): boolean {
  if (key(a.shape) !== key(b.shape) || a.numThreads !== b.numThreads || a.localSize !== b.localSize)
    return false;
  for (let t = 0; t < a.numThreads; t++) {
    for (let l = 0; l < a.localSize; l++) if (key(a.map(t, l)) !== key(b.map(t, l))) return false;
  }
  return true;
}

// Re-evaluates a toString() result through the public API.
function parse(src: string): Layout {
  const re = /(\.?)(\w+)\(([^)]*)\)/y;
  let l: Layout | undefined;
  while (re.lastIndex < src.length) {
    const m = re.exec(src);
    if (m === null) throw new Error(`cannot parse ${src} at ${re.lastIndex}`);
    const args = m[3].trim() === '' ? [] : m[3].split(',').map(Number);
    if (m[1] === '') {
      expect(l).toBeUndefined();
      l = m[2] === 'replicated' ? replicated(args[0], args[1]) : PRIMITIVES[m[2] as PrimitiveName](...args);
    } else {
      if (l === undefined) throw new Error(`method before primitive in ${src}`);
      l = m[2] === 'replicate' ? l.replicate(args[0]) : l.product(PRIMITIVES[m[2] as PrimitiveName](...args));
    }
  }
  if (l === undefined) throw new Error(`empty layout string ${src}`);
  return l;
}

// Brute-force quotient: Q is forced by Q(tq, lq) = A(tq*Tb, lq*Lb) / B.shape; check it reproduces A.
function divisibleByTable(a: Layout, b: Layout): boolean {
  if (b.rank > a.rank) return false;
  const bs = [...new Array<number>(a.rank - b.rank).fill(1), ...b.shape];
  if (a.shape.some((s, d) => s % bs[d] !== 0)) return false;
  if (a.numThreads % b.numThreads !== 0 || a.localSize % b.localSize !== 0) return false;
  const pad = (x: number[]): number[] => [...new Array<number>(a.rank - b.rank).fill(0), ...x];
  for (let t = 0; t < a.numThreads; t++) {
    for (let l = 0; l < a.localSize; l++) {
      const q = a.map(t - (t % b.numThreads), l - (l % b.localSize)).map((x, d) => Math.floor(x / bs[d]));
      const inner = pad(b.map(t % b.numThreads, l % b.localSize));
      const expected = q.map((x, d) => x * bs[d] + inner[d]);
      if (key(expected) !== key(a.map(t, l))) return false;
    }
  }
  return true;
}

describe('primitives', () => {
  it('local is one thread holding the tile in row-major order', () => {
    const l = local(2, 3);
    expect([l.shape, l.numThreads, l.localSize, l.replication]).toEqual([[2, 3], 1, 6, 1]);
    expect([0, 1, 2, 3, 5].map((i) => l.map(0, i))).toEqual([
      [0, 0],
      [0, 1],
      [0, 2],
      [1, 0],
      [1, 2],
    ]);
  });

  it('columnLocal orders locals with the first dim fastest', () => {
    const l = columnLocal(2, 3);
    expect([l.numThreads, l.localSize]).toEqual([1, 6]);
    expect([0, 1, 2, 3, 5].map((i) => l.map(0, i))).toEqual([
      [0, 0],
      [1, 0],
      [0, 1],
      [1, 1],
      [1, 2],
    ]);
    expect(l.equals(local(1, 3).local(2, 1))).toBe(true);
  });

  it('spatial is one element per thread in row-major thread order', () => {
    const l = spatial(2, 3);
    expect([l.numThreads, l.localSize, l.replication]).toEqual([6, 1, 1]);
    expect([0, 1, 3, 5].map((t) => l.map(t, 0))).toEqual([
      [0, 0],
      [0, 1],
      [1, 0],
      [1, 2],
    ]);
  });

  it('columnSpatial orders threads with the first dim fastest', () => {
    const l = columnSpatial(2, 3);
    expect([0, 1, 2, 5].map((t) => l.map(t, 0))).toEqual([
      [0, 0],
      [1, 0],
      [0, 1],
      [1, 2],
    ]);
    expect(l.owners([1, 1])).toEqual([{ thread: 3, local: 0 }]);
    expect(l.equals(spatial(1, 3).spatial(2, 1))).toBe(true);
    expect(l.equals(spatial(2, 3))).toBe(false);
  });

  it('spatial(2, 2).local(1, 2): thread 1 holds [0, 2] and [0, 3]', () => {
    const l = spatial(2, 2).local(1, 2);
    expect([l.shape, l.numThreads, l.localSize]).toEqual([[2, 4], 4, 2]);
    expect([l.map(1, 0), l.map(1, 1)]).toEqual([
      [0, 2],
      [0, 3],
    ]);
    expect(l.owners([1, 1])).toEqual([{ thread: 2, local: 1 }]);
    expect(l.localIndexOf(1, [0, 3])).toBe(1);
    expect(l.localIndexOf(0, [0, 3])).toBeUndefined();
    expect(l.visualize()).toBe(
      ['spatial(2, 2).local(1, 2)', '0:0 0:1 1:0 1:1', '2:0 2:1 3:0 3:1'].join('\n'),
    );
  });

  it('local(1, 2).spatial(2, 2) interleaves threads instead', () => {
    const l = local(1, 2).spatial(2, 2);
    expect(l.visualize()).toBe(
      ['local(1, 2).spatial(2, 2)', '0:0 1:0 0:1 1:1', '2:0 3:0 2:1 3:1'].join('\n'),
    );
  });

  it('spatial(4, 8).local(2, 1) gives each of 32 threads a 2x1 column', () => {
    const l = spatial(4, 8).local(2, 1);
    expect([l.shape, l.numThreads, l.localSize]).toEqual([[8, 8], 32, 2]);
    expect([l.map(9, 0), l.map(9, 1)]).toEqual([
      [2, 1],
      [3, 1],
    ]);
    expect(l.toString()).toBe('spatial(4, 8).local(2, 1)');
  });

  it('replicated(n) puts the same element in n threads', () => {
    const r = replicated(4);
    expect([r.shape, r.numThreads, r.localSize, r.replication]).toEqual([[1], 4, 1, 4]);
    expect(r.owners([0]).map((o) => o.thread)).toEqual([0, 1, 2, 3]);
    expect(replicated(3, 2).shape).toEqual([1, 1]);
    expect(replicated(3, 0).shape).toEqual([]);
  });

  it('where replication sits in the thread index matters', () => {
    // Replication outermost: threads t and t + 2 hold the same element.
    expect(
      replicated(2)
        .spatial(2)
        .owners([1])
        .map((o) => o.thread),
    ).toEqual([1, 3]);
    // Replication innermost: neighbouring threads hold the same element.
    const inner = spatial(2).replicate(2);
    expect(inner.owners([1]).map((o) => o.thread)).toEqual([2, 3]);
    expect(inner.visualize()).toBe('spatial(2).replicate(2)\n0/1:0 2/3:0');
    expect(inner.replication).toBe(2);
    expect(inner.localIndexOf(1, [1])).toBeUndefined();
    expect(inner.localIndexOf(3, [1])).toBe(0);
  });

  it('the rank-0 local() is the identity of product', () => {
    const a = spatial(4, 2).local(2, 3).replicate(2);
    expect(local().product(a).equals(a)).toBe(true);
    expect(a.product(local()).equals(a)).toBe(true);
    expect(a.product(local(1, 1)).equals(a)).toBe(true);
    expect(local().map(0, 0)).toEqual([]);
  });

  it('product pads the lower rank with leading 1s', () => {
    const l = spatial(2, 2).local(3);
    expect(l.shape).toEqual([2, 6]);
    expect(l.equals(spatial(2, 2).local(1, 3))).toBe(true);
    expect(local(3).spatial(2, 2).shape).toEqual([2, 6]);
  });

  it('merges factors that describe the same map', () => {
    expect(spatial(2).spatial(4).equals(spatial(8))).toBe(true);
    expect(local(2, 1).local(2, 3).equals(local(4, 3))).toBe(true);
    expect(local(1, 3).local(2, 1).equals(local(2, 3))).toBe(false); // local order differs
    expect(local(2, 1).local(2, 1).equals(local(4, 1))).toBe(true);
    expect(spatial(2, 1).spatial(1, 4).equals(spatial(2, 4))).toBe(true);
    expect(spatial(2).replicate(2).replicate(3).equals(spatial(2).replicate(6))).toBe(true);
    expect(spatial(1, 1).local(1, 1).equals(local(1, 1))).toBe(true);
    expect(spatial(8).toString()).toBe('spatial(8)');
    expect(spatial(2).spatial(2).spatial(2).toString()).toBe('spatial(8)');
  });

  it('toString names each primitive', () => {
    expect(local(2, 3).toString()).toBe('local(2, 3)');
    expect(columnLocal(2, 3).toString()).toBe('columnLocal(2, 3)');
    expect(columnSpatial(2, 3, 4).toString()).toBe('columnSpatial(2, 3, 4)');
    expect(local(2).replicate(3).toString()).toBe('local(2).replicate(3)');
    expect(replicated(2).spatial(4).toString()).toBe('replicated(2, 1).spatial(4)');
    expect(replicated(5, 2).toString()).toBe('replicated(5, 2)');
    expect(local(1, 1).toString()).toBe('local(1, 1)');
    expect(local().toString()).toBe('local()');
    expect(spatial(4, 8).local(2, 2).spatial(2, 1).toString()).toBe(
      'spatial(4, 8).local(2, 2).spatial(2, 1)',
    );
  });

  it('fromModes builds any mode placement, canonicalized', () => {
    const modes = [
      { dim: 0, size: 2 },
      { dim: 0, size: 2 },
      { dim: 1, size: 2 },
      { dim: 1, size: 2 },
    ];
    // Mode order constraints form a cycle here, so no chain of primitives exists.
    const l = Layout.fromModes([4, 4], modes, [1, 2], [3, 0]);
    expect(l.toString()).toBe(
      'Layout.fromModes([4, 4], [{ dim: 0, size: 2 }, { dim: 0, size: 2 }, { dim: 1, size: 2 }, { dim: 1, size: 2 }], [1, 2], [3, 0])',
    );
    expect(allIndices(l.shape).every((i) => l.owners(i).length === 1)).toBe(true);
    // The same map as spatial(2).spatial(4) written with split modes.
    const split = Layout.fromModes(
      [8],
      [
        { dim: 0, size: 2 },
        { dim: 0, size: 2 },
        { dim: 0, size: 2 },
      ],
      [0, 1, -1, 2],
      [],
    );
    expect(split.equals(spatial(8))).toBe(true);
    expect(split.modes).toEqual([{ dim: 0, size: 8 }]);
  });
});

describe('validation', () => {
  it('primitives reject non-positive and non-integer dims', () => {
    expect(() => local(2, 0)).toThrow(RangeError);
    expect(() => local(2, 0)).toThrow(/local: dims\[1\] must be an integer >= 1, got 0/);
    expect(() => spatial(1.5)).toThrow(/spatial: dims\[0\] .* got 1.5/);
    expect(() => columnLocal(-2)).toThrow(/columnLocal: dims\[0\]/);
    expect(() => columnSpatial(Number.NaN)).toThrow(/columnSpatial: dims\[0\]/);
    expect(() => spatial(4).local(0)).toThrow(/local: dims\[0\]/);
    expect(() => replicated(0)).toThrow(/replicated: n must be an integer >= 1/);
    expect(() => replicated(2, -1)).toThrow(/replicated: rank must be an integer >= 0/);
    expect(() => spatial(2).replicate(2.5)).toThrow(/Layout.replicate: n must be an integer >= 1, got 2.5/);
  });

  it('map, owners and localIndexOf reject indices out of range', () => {
    const l = spatial(4, 8).local(2, 1);
    expect(() => l.map(32, 0)).toThrow(/Layout.map: thread 32 is out of range \[0, 32\).*spatial\(4, 8\)/);
    expect(() => l.map(0, 2)).toThrow(/Layout.map: local 2 is out of range \[0, 2\)/);
    expect(() => l.map(-1, 0)).toThrow(RangeError);
    expect(() => l.map(0.5, 0)).toThrow(RangeError);
    expect(() => l.owners([1])).toThrow(
      /Layout.owners: logical \[1\] has 1 coordinates but the layout has rank 2/,
    );
    expect(() => l.owners([8, 0])).toThrow(/logical\[0\] 8 is out of range \[0, 8\)/);
    expect(() => l.localIndexOf(40, [0, 0])).toThrow(/Layout.localIndexOf: thread 40/);
    expect(() => l.localIndexOf(0, [0, -1])).toThrow(/logical\[1\]/);
  });

  it('fromModes rejects inconsistent mode lists', () => {
    const m = [{ dim: 0, size: 4 }];
    expect(() => Layout.fromModes([8], m, [0], [])).toThrow(
      /modes of dim 0 multiply to 4 but shape\[0\] is 8/,
    );
    expect(() => Layout.fromModes([4], m, [0], [0])).toThrow(/mode 0 is placed 2 times/);
    expect(() => Layout.fromModes([4], m, [], [])).toThrow(/mode 0 is placed 0 times/);
    expect(() => Layout.fromModes([4], m, [1], [])).toThrow(/threadModes entry 1 is out of range/);
    expect(() => Layout.fromModes([4], [{ dim: 1, size: 4 }], [0], [])).toThrow(/modes\[0\].dim/);
    expect(() =>
      Layout.fromModes(
        [2, 2],
        [
          { dim: 1, size: 2 },
          { dim: 0, size: 2 },
        ],
        [0, 1],
        [],
      ),
    ).toThrow(/sorted by dim/);
  });

  it('the constructor is internal', () => {
    const Ctor = Layout as unknown as new (...args: unknown[]) => Layout;
    expect(() => new Ctor(Symbol('x'), [1], [], [], [])).toThrow(TypeError);
  });
});

describe('properties over random layouts', () => {
  const layouts: Layout[] = [];
  const rng = seeded(0x7e11);
  for (let i = 0; i < 300; i++) layouts.push(randomLayout(rng));

  it('every logical element is owned exactly `replication` times', () => {
    for (const l of layouts) {
      const t = table(l);
      const size = l.shape.reduce((p, s) => p * s, 1);
      expect(l.size).toBe(size);
      expect(l.numThreads * l.localSize).toBe(size * l.replication);
      expect(t.size).toBe(size);
      for (const idx of allIndices(l.shape)) expect(t.get(key(idx))?.length).toBe(l.replication);
    }
  });

  it('map and owners are mutually inverse', () => {
    for (const l of layouts) {
      const t = table(l);
      for (const idx of allIndices(l.shape)) {
        const own = l.owners(idx);
        expect(own).toEqual(t.get(key(idx)));
        for (const o of own) expect(l.map(o.thread, o.local)).toEqual(idx);
      }
      let roundTrips = 0;
      for (let th = 0; th < l.numThreads; th++) {
        for (let lo = 0; lo < l.localSize; lo++) {
          if (l.owners(l.map(th, lo)).some((o) => o.thread === th && o.local === lo)) roundTrips++;
        }
      }
      expect(roundTrips).toBe(l.numThreads * l.localSize);
    }
  });

  it('localIndexOf agrees with owners', () => {
    for (const l of layouts) {
      // One assertion per layout: expect() per probe dominates the run time otherwise.
      const got: (number | undefined)[] = [];
      const want: (number | undefined)[] = [];
      for (const idx of allIndices(l.shape)) {
        const own = new Map(l.owners(idx).map((o) => [o.thread, o.local]));
        for (let th = 0; th < l.numThreads; th++) {
          got.push(l.localIndexOf(th, idx));
          want.push(own.get(th));
        }
      }
      expect(got).toEqual(want);
    }
  });

  it('product follows its definition', () => {
    for (let i = 0; i + 1 < layouts.length; i += 2) {
      const a = layouts[i];
      const b = layouts[i + 1];
      if (a.numThreads * a.localSize * b.numThreads * b.localSize > 8192) continue;
      const p = a.product(b);
      const rank = Math.max(a.rank, b.rank);
      const pad = (x: readonly number[]): number[] => [...new Array<number>(rank - x.length).fill(0), ...x];
      const bs = pad(b.shape).map((s, d) => (d < rank - b.rank ? 1 : s));
      expect(p.shape).toEqual(pad(a.shape).map((s, d) => (d < rank - a.rank ? 1 : s) * bs[d]));
      expect([p.numThreads, p.localSize, p.replication]).toEqual([
        a.numThreads * b.numThreads,
        a.localSize * b.localSize,
        a.replication * b.replication,
      ]);
      const got: string[] = [];
      const want: string[] = [];
      for (let t = 0; t < p.numThreads; t++) {
        for (let l = 0; l < p.localSize; l++) {
          const outer = pad(a.map(Math.floor(t / b.numThreads), Math.floor(l / b.localSize)));
          const inner = pad(b.map(t % b.numThreads, l % b.localSize));
          got.push(key(p.map(t, l)));
          want.push(key(outer.map((x, d) => x * bs[d] + inner[d])));
        }
      }
      expect(got).toEqual(want);
    }
  });

  it('composition is associative', () => {
    const r = seeded(0xa550c);
    for (let i = 0; i < 300; i++) {
      const [a, b, c] = [randomLayout(r, 16), randomLayout(r, 16), randomLayout(r, 16)];
      const left = a.product(b).product(c);
      const right = a.product(b.product(c));
      expect(left.equals(right)).toBe(true);
      if (i < 60) expect(sameMap(left, right)).toBe(true);
    }
  });

  it('equals is exactly "same map"', () => {
    for (let i = 0; i + 1 < layouts.length; i++) {
      const a = layouts[i];
      const b = layouts[i + 1];
      expect(a.equals(b)).toBe(sameMap(a, b));
      expect(a.equals(a)).toBe(true);
    }
    // Equal maps reached through different constructions.
    const r = seeded(0xe9);
    for (let i = 0; i < 200; i++) {
      const rank = pick(r, [1, 2, 3]);
      const fs = randomFactors(r, rank, 4, 512);
      const split = Math.floor(r() * (fs.length + 1));
      const grouped = build(fs.slice(0, split), rank).product(build(fs.slice(split), rank));
      const flat = build(fs, rank);
      expect(sameMap(grouped, flat)).toBe(true);
      expect(grouped.equals(flat)).toBe(true);
    }
  });

  it('canonical form is unique: every placement of small modes', () => {
    // All ways to place factors of a [4, 2] tile (with optional replication) on the two axes.
    const permutations = (xs: number[]): number[][] =>
      xs.length <= 1
        ? [xs]
        : xs.flatMap((x, i) => permutations(xs.filter((_, j) => j !== i)).map((p) => [x, ...p]));
    const all: Layout[] = [];
    const splittings = [
      [
        { dim: 0, size: 4 },
        { dim: 1, size: 2 },
      ],
      [
        { dim: 0, size: 2 },
        { dim: 0, size: 2 },
        { dim: 1, size: 2 },
      ],
      [
        { dim: 0, size: 1 },
        { dim: 0, size: 4 },
        { dim: 1, size: 2 },
      ],
    ];
    for (const modes of splittings) {
      for (let mask = 0; mask < 1 << modes.length; mask++) {
        const onThreads = modes.map((_, i) => i).filter((i) => mask & (1 << i));
        const onLocals = modes.map((_, i) => i).filter((i) => !(mask & (1 << i)));
        for (const th of permutations(onThreads)) {
          for (const lo of permutations(onLocals)) {
            for (let rep = -1; rep <= th.length; rep++) {
              const thread = rep < 0 ? th : [...th.slice(0, rep), -2, ...th.slice(rep)];
              all.push(Layout.fromModes([4, 2], modes, thread, lo));
            }
          }
        }
      }
    }
    const signature = (l: Layout): string => {
      const cells: string[] = [`${l.numThreads}x${l.localSize}`];
      for (let t = 0; t < l.numThreads; t++)
        for (let x = 0; x < l.localSize; x++) cells.push(key(l.map(t, x)));
      return cells.join(' ');
    };
    const canon = (l: Layout): string => JSON.stringify([l.modes, l.threadModes, l.localModes]);
    const bySignature = new Map<string, string>();
    const byCanon = new Map<string, string>();
    for (const l of all) {
      const sig = signature(l);
      const c = canon(l);
      expect(bySignature.get(sig) ?? c).toBe(c); // same map => same canonical form
      expect(byCanon.get(c) ?? sig).toBe(sig); // same canonical form => same map
      bySignature.set(sig, c);
      byCanon.set(c, sig);
      if (!l.toString().startsWith('Layout.fromModes')) expect(parse(l.toString()).equals(l)).toBe(true);
    }
    expect(all.length).toBeGreaterThan(150);
    expect(bySignature.size).toBeGreaterThan(50);
  });

  it('toString rebuilds the same layout', () => {
    for (const l of layouts) {
      const s = l.toString();
      expect(s).not.toMatch(/fromModes/);
      expect(parse(s).equals(l)).toBe(true);
    }
  });

  it('division inverts product', () => {
    const r = seeded(0xd1f);
    let split = 0;
    for (let i = 0; i < 400; i++) {
      const rank = pick(r, [1, 2, 3]);
      const a = build(randomFactors(r, rank, 3, 64), rank);
      const b = build(randomFactors(r, pick(r, [1, rank]), 3, 64), rank);
      const p = a.product(b);
      const q = p.divide(b);
      expect(q?.equals(a)).toBe(true);
      expect(q?.product(b).equals(p)).toBe(true);
      if (p.modes.length < a.modes.length + b.modes.length) split++;
    }
    expect(split).toBeGreaterThan(50); // many cases needed a merged mode split apart again
  });

  it('divide finds a quotient exactly when one exists', () => {
    const r = seeded(0x51ce);
    let divisible = 0;
    let refused = 0;
    for (let i = 0; i < 600; i++) {
      const rank = pick(r, [1, 2, 3]);
      const fs = randomFactors(r, rank, 5, 512);
      const a = build(fs, rank);
      // Divisors: a run of a's own factors (often divisible) or an unrelated layout.
      const from = Math.floor(r() * (fs.length + 1));
      const to = r() < 0.6 ? fs.length : from + Math.floor(r() * (fs.length - from + 1));
      const b = r() < 0.7 ? build(fs.slice(from, to), rank) : build(randomFactors(r, rank, 2, 32), rank);
      const q = a.divide(b);
      const expected = divisibleByTable(a, b);
      expect(q !== undefined).toBe(expected);
      if (q !== undefined) {
        expect(q.product(b).equals(a)).toBe(true);
        expect(q.rank).toBe(a.rank);
        divisible++;
      } else refused++;
    }
    expect(divisible).toBeGreaterThan(100);
    expect(refused).toBeGreaterThan(100);
  });
});

describe('divide examples', () => {
  it('splits a merged mode', () => {
    expect(spatial(8).divide(spatial(2))?.toString()).toBe('spatial(4)');
    expect(local(6).divide(local(3))?.equals(local(2))).toBe(true);
    expect(replicated(4).divide(replicated(2))?.equals(replicated(2))).toBe(true);
    expect(spatial(4, 8).local(2, 2).divide(local(2, 2))?.toString()).toBe('spatial(4, 8)');
    expect(spatial(4, 8).local(2, 2).divide(spatial(1, 4).local(2, 2))?.toString()).toBe('spatial(4, 2)');
    expect(spatial(4, 8).divide(spatial(8))?.toString()).toBe('spatial(4, 1)');
  });

  it('returns undefined when no quotient exists', () => {
    expect(spatial(4).divide(local(2))).toBeUndefined(); // no locals to take
    expect(local(4).divide(spatial(2))).toBeUndefined();
    expect(spatial(6).divide(spatial(4))).toBeUndefined(); // extent not divisible
    expect(spatial(4).divide(spatial(1, 4))).toBeUndefined(); // divisor has higher rank
    expect(spatial(2).local(2).divide(spatial(2))).toBeUndefined(); // spatial part is not innermost
    expect(spatial(2, 3).divide(columnSpatial(2, 3))).toBeUndefined(); // thread order differs
    expect(spatial(2).replicate(2).divide(spatial(2))).toBeUndefined();
    expect(local(2, 2).divide(local(2, 1))).toBeUndefined(); // the inner local is not the fastest
    // spatial(2, 2).spatial(2, 4) numbers threads differently from spatial(4, 8).
    expect(spatial(4, 8).local(2, 2).divide(spatial(2, 4).local(2, 2))).toBeUndefined();
  });

  it('dividing by itself or by the identity', () => {
    const a = spatial(4, 8).local(2, 2).replicate(2);
    expect(a.divide(a)?.equals(local(1, 1))).toBe(true);
    expect(a.divide(local())?.equals(a)).toBe(true);
  });
});

describe('defaultLayout', () => {
  it('covers every shape with exactly the requested threads', () => {
    const shapes = [[1], [7], [32], [3, 5], [4, 4], [16, 64], [2, 3, 4], [1, 1, 1], [128], [6, 10], [64, 64]];
    for (const shape of shapes) {
      for (const n of [1, 2, 3, 4, 8, 32, 64, 128, 256]) {
        const l = defaultLayout(shape, n);
        expect(l.shape).toEqual(shape);
        expect(l.numThreads).toBe(n);
        const size = shape.reduce((p, s) => p * s, 1);
        expect(l.numThreads * l.localSize).toBe(size * l.replication);
        if (l.numThreads * l.localSize <= 4096) {
          const t = table(l);
          for (const idx of allIndices(shape)) expect(t.get(key(idx))?.length).toBe(l.replication);
        } else {
          for (const idx of allIndices(shape)) expect(l.owners(idx)).toHaveLength(l.replication);
        }
      }
    }
  });

  it('spreads the innermost dim over threads first', () => {
    expect(defaultLayout([64, 64], 128).toString()).toBe('local(32, 1).spatial(2, 64)');
    expect(defaultLayout([16, 16], 32).toString()).toBe('local(8, 1).spatial(2, 16)');
    expect(defaultLayout([8], 8).equals(spatial(8))).toBe(true);
    expect(defaultLayout([4, 4], 1).equals(local(4, 4))).toBe(true);
    // Adjacent threads hold adjacent elements; each thread's locals stride over rows.
    const l = defaultLayout([64, 64], 128);
    expect([l.map(0, 0), l.map(1, 0), l.map(64, 0), l.map(0, 1)]).toEqual([
      [0, 0],
      [0, 1],
      [1, 0],
      [2, 0],
    ]);
  });

  it('replicates when the tile has fewer elements than threads', () => {
    const l = defaultLayout([2], 32);
    expect([l.numThreads, l.localSize, l.replication]).toEqual([32, 1, 16]);
    expect(l.equals(replicated(16).spatial(2))).toBe(true);
    expect(defaultLayout([], 4).equals(replicated(4, 0))).toBe(true);
    expect(defaultLayout([3, 5], 4).replication).toBe(4);
  });

  it('validates its arguments', () => {
    expect(() => defaultLayout([4, 0], 4)).toThrow(
      /defaultLayout: shape\[1\] must be an integer >= 1, got 0/,
    );
    expect(() => defaultLayout([4], 0)).toThrow(/defaultLayout: numThreads must be an integer >= 1/);
    expect(() => defaultLayout([4], 2.5)).toThrow(RangeError);
  });
});
