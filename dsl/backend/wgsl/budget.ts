// Workgroup memory the program's shared tiles take, for paths that add scratch (dot4.ts, vec4.ts)
// and fall back when their extra scratch would not fit WebGPU's guaranteed 16384 bytes.
import type { Program, Stmt } from '../../ir/program.js';
import { numel } from '../../ir/shapes.js';

/** Words (4 bytes per element) of every shared tile the program allocates, wherever allocated. */
export function sharedWords(program: Program): number {
  let words = 0;
  const seen = new Set<unknown>();
  const visit = (body: readonly Stmt[]): void => {
    for (const s of body) {
      if (s.op === 'alloc_shared' && !seen.has(s.dst)) {
        seen.add(s.dst);
        words += numel(s.dst.type.shape);
      }
      if (s.op === 'for') visit(s.body);
      if (s.op === 'if') {
        visit(s.thenBody);
        visit(s.elseBody);
      }
    }
  };
  visit(program.body);
  return words;
}
