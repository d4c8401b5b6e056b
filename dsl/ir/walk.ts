// Traversal of a program body, for the passes that look at every statement wherever it is nested.
import type { Stmt } from './program.js';

/** Calls `visit` on every statement of `body` in order, each before the loop or branch bodies it holds. */
export function forEachStmt(body: readonly Stmt[], visit: (s: Stmt) => void): void {
  for (const s of body) {
    visit(s);
    if (s.op === 'for') forEachStmt(s.body, visit);
    if (s.op === 'if') {
      forEachStmt(s.thenBody, visit);
      forEachStmt(s.elseBody, visit);
    }
  }
}
