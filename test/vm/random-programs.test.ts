// Guards the random program generator (test/helpers/random-programs.ts) that the backend differential
// tests rely on: every seed builds a valid program, the interpreter runs it, results are
// deterministic, written float outputs are finite and never f32-subnormal (the generator's value
// analysis promises this), and the seeds together cover the features the generator claims.
import { describe, expect, it } from 'vitest';
import { interpret } from '../../dsl/interp/interpret.js';
import { printProgram } from '../../dsl/ir/print.js';
import { validateProgram } from '../../dsl/ir/validate.js';
import { Tensor } from '../../dsl/tensor.js';
import { randomProgram } from '../helpers/random-programs.js';

const SEEDS = 320;

function cloneArgs(args: Record<string, Tensor | number>): Record<string, Tensor | number> {
  return Object.fromEntries(Object.entries(args).map(([k, v]) => [k, v instanceof Tensor ? v.clone() : v]));
}

/** Sets every element of `t` to `pattern`. */
function fillPattern(t: Tensor, pattern: number): void {
  for (let i = 0; i < t.size; i++) t.setPattern(i, pattern);
}

describe('random VM programs', () => {
  const tagCounts = new Map<string, number>();

  for (let seed = 0; seed < SEEDS; seed++) {
    it(`seed ${seed}`, () => {
      const gen = randomProgram(seed);
      const text = printProgram(gen.program);
      const where = `seed ${seed}:\n${text}`;
      for (const t of gen.tags) tagCounts.set(t, (tagCounts.get(t) ?? 0) + 1);
      expect(() => validateProgram(gen.program), where).not.toThrow();
      expect(printProgram(randomProgram(seed).program), `${where}\ngeneration is not deterministic`).toBe(
        text,
      );
      expect(gen.outputs.length, where).toBeGreaterThan(0);

      const args = gen.makeArgs(seed);
      for (const p of gen.program.params) {
        if (p.kind !== 'global' || p.access !== 'read') continue;
        const t = args[p.name] as Tensor;
        expect(
          t.toArray().some((v) => v !== 0),
          `${where}\ninput ${p.name} is all zeros`,
        ).toBe(true);
        if (t.dtype.kind === 'float' && !gen.tags.includes('specials')) {
          expect(t.toArray().every(Number.isFinite), `${where}\ninput ${p.name} is not finite`).toBe(true);
        }
      }

      // Run twice on identical arguments: identical results.
      const again = cloneArgs(args);
      try {
        interpret(gen.program, args);
        interpret(gen.program, again);
      } catch (e) {
        throw new Error(`${where}\ninterpret failed: ${(e as Error).message}`);
      }
      for (const o of gen.outputs) {
        const a = args[o] as Tensor;
        const b = again[o] as Tensor;
        expect([...a.patterns()], `${where}\noutput ${o} differs between two runs`).toEqual([
          ...b.patterns(),
        ]);
      }

      // Written elements (the same under two different initial fills) must be floats with no f32
      // subnormals, and finite unless the program is in specials mode (NaN and Inf inputs).
      const specials = gen.tags.includes('specials');
      const first = gen.makeArgs(seed);
      const second = cloneArgs(first);
      for (const p of gen.program.params) {
        if (p.kind !== 'global' || p.access !== 'write') continue;
        fillPattern(first[p.name] as Tensor, 0);
        fillPattern(second[p.name] as Tensor, 1);
      }
      interpret(gen.program, first);
      interpret(gen.program, second);
      for (const o of gen.outputs) {
        const a = first[o] as Tensor;
        const b = second[o] as Tensor;
        const pa = a.patterns();
        const pb = b.patterns();
        for (let i = 0; i < a.size; i++) {
          if (pa[i] !== pb[i] || a.dtype.kind !== 'float') continue;
          const v = a.get(i);
          const ok =
            (Number.isFinite(v) || specials) && (!Number.isFinite(v) || v === 0 || Math.abs(v) >= 2 ** -126);
          if (!ok) throw new Error(`${where}\noutput ${o}[${i}] = ${v}: not finite, or an f32 subnormal`);
        }
        expect(gen.tolerance[o] ?? 0, where).toBeGreaterThanOrEqual(0);
      }
    });
  }

  it('covers every feature the generator claims', () => {
    const required = [
      'kind:map1d',
      'kind:map2d',
      'kind:rows',
      'kind:loop1d',
      'kind:loop2d',
      'kind:matmul',
      'threads:32',
      'threads:64',
      'threads:128',
      'out:subbyte',
      'out:bool',
      'out:f16',
      'out:bf16',
      'out:f32',
      'out:f4e2m1',
      'out:f8e4m3',
      'out:f8e5m2',
      'in:u1',
      'in:i3',
      'in:u7',
      'in:f6e3m2',
      'in:bool',
      'cast:float->int',
      'cast:int->float',
      'cast:float->float',
      'cast:int->int',
      'cast:bool->float',
      'binary:int:shl',
      'binary:int:shr',
      'binary:int:div',
      'binary:int:mod',
      'binary:int:cdiv',
      'binary:int:xor',
      'binary:float:add',
      'binary:float:mul',
      'binary:float:div',
      'binary:float:mod',
      'unary:float:exp',
      'unary:float:exp2',
      'unary:float:log',
      'unary:float:log2',
      'unary:float:tanh',
      'unary:float:erf',
      'unary:float:sqrt',
      'unary:float:rsqrt',
      'unary:float:sin',
      'unary:float:cos',
      'unary:float:floor',
      'unary:float:round',
      'unary:int:not',
      'select',
      'reduce:sum',
      'reduce:max',
      'reduce:min',
      'reduce:widen',
      'unsqueeze',
      'repeat',
      'broadcast',
      'transpose',
      'reshape',
      'arange',
      'dot:float',
      'dot:int',
      'shared',
      'shared:window',
      'shared:subbyte',
      'sync',
      'view',
      'view:subbyte',
      'if',
      'if-else',
      'if:store',
      'loop',
      'load:mask',
      'load:other',
      'load:rank0',
      'load:shifted',
      'store:mask',
      'mask:data',
      'mask:index',
      'readwrite',
      'input:colvec',
      'input:rowvec',
      'input:transposed',
      'input:group',
      'out:per-block',
      'grid:flat',
      'scalar-full',
      'scalar-full:blockIdx',
      'scalar-param:f32',
      'specials',
      'out:special',
    ];
    const missing = required.filter((t) => !tagCounts.has(t));
    expect(missing).toEqual([]);
  });
});
