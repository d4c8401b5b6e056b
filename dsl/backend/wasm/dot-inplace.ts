// Float `dot` whose b operand is a global load used by nothing else:
//
//   B = load_global(x)   (f32, no mask, read-only tensor, written once and read only by the dot)
//   d = dot(a, B, c)     (float accumulator; b's rows a multiple of 4 wide)
//
// with no scalar assignment, loop or branch between the load and the dot. The load emits nothing
// (emitBody asks `skippedByInPlaceDot`); at the dot, when the whole tile lies inside its tensor
// (checked at run time, as memory.ts's whole-tile load does), the dot reads b's rows where they lie,
// walking a byte pointer by the tensor's row stride, instead of copying the tile into scratch first;
// otherwise (edge tiles) the load runs as usual and the dot reads the copy. Either way every output
// element sees the same products and sums in the same order (dot.ts), so results are bit for bit
// the interpreter's.
import { f32 } from '../../dtype.js';
import type { Dot, LoadGlobal, Program, Stmt, TileVar } from '../../ir/program.js';
import type { Gen } from './context.js';
import { countVars } from './fuse-plan.js';

interface Plan {
  readonly skip: Set<Stmt>;
  readonly loads: Map<Dot, LoadGlobal>;
}

const plans = new WeakMap<Program, Plan>();

function planOf(program: Program): Plan {
  let plan = plans.get(program);
  if (plan) return plan;
  plan = { skip: new Set(), loads: new Map() };
  const counts = countVars(program);
  const once = (v: TileVar) => counts.uses.get(v) === 1 && counts.defs.get(v) === 1;
  const visit = (body: readonly Stmt[]) => {
    body.forEach((s, i) => {
      if (s.op === 'for') visit(s.body);
      if (s.op === 'if') {
        visit(s.thenBody);
        visit(s.elseBody);
      }
      if (s.op !== 'dot') return;
      const load = match(program, body, i, s, once);
      if (!load) return;
      plan!.loads.set(s, load);
      plan!.skip.add(load);
    });
  };
  visit(program.body);
  plans.set(program, plan);
  return plan;
}

function match(
  program: Program,
  body: readonly Stmt[],
  dotAt: number,
  d: Dot,
  once: (v: TileVar) => boolean,
): LoadGlobal | undefined {
  const acc = d.c.type.dtype;
  const bt = d.b.type;
  if (acc !== f32 || bt.dtype !== f32 || bt.shape.length !== 2) return undefined;
  const N = bt.shape[1];
  if (N < 4 || N % 4 !== 0 || !once(d.b)) return undefined;
  let at = -1;
  for (let i = dotAt - 1; i >= 0; i--) {
    const s = body[i];
    const op = s.op;
    // Nothing between the load and the dot may change what the load's offsets evaluate to.
    if (op === 'let_scalar' || op === 'for' || op === 'if') return undefined;
    if ('dst' in s && s.dst === d.b) {
      at = i;
      break;
    }
  }
  const load = at < 0 ? undefined : body[at];
  if (load?.op !== 'load_global' || load.mask) return undefined;
  const param = program.params.find((p) => p.name === load.param);
  if (param?.kind !== 'global' || param.shape.length < 2 || param.access !== 'read') return undefined;
  return load;
}

/** Whether statement s is a load that a float dot reads in place (it emits nothing itself). */
export function skippedByInPlaceDot(g: Gen, s: Stmt): boolean {
  return g.inPlaceDot && planOf(g.program).skip.has(s);
}

/** The index of the first statement of body at or after `from` that is skipped (body.length if none). */
export function nextInPlaceSkip(g: Gen, body: readonly Stmt[], from: number): number {
  const skip = planOf(g.program).skip;
  if (!g.inPlaceDot || skip.size === 0) return body.length;
  let i = from;
  while (i < body.length && !skip.has(body[i])) i++;
  return i;
}

/** How many dots of a program read b in place (for tests). */
export function inPlaceDotCount(program: Program): number {
  return planOf(program).loads.size;
}

/** The global load dot s reads in place, if any. */
export function inPlaceLoad(g: Gen, s: Dot): LoadGlobal | undefined {
  return g.inPlaceDot ? planOf(g.program).loads.get(s) : undefined;
}
