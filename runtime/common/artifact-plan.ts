// Reading the parts of an artifact every device reads the same way: the header (format, version,
// hash), params as the binder knows them (dtypes resolved, dims parsed), the grid expressions, and
// the names a launch provides. A malformed artifact fails naming the kernel and the field.
import { dtypeByName } from '../../dsl/dtype.js';
import type { bindArgs } from '../../dsl/ir/bind.js';
import type { ScalarExpr } from '../../dsl/ir/scalar.js';
import { parseShapeExpr } from '../../dsl/ir/shape-expr.js';
import type { ArtifactParam } from '../artifact.js';

/** The binder's Param (dsl/ir/program.ts), named without importing the IR. */
export type Param = Parameters<typeof bindArgs>[1][number];

/** Throws an Error naming the artifact's kernel and `why`. */
export type Fail = (why: string) => never;

interface ArtifactHeader {
  readonly kernel: string;
  readonly format: string;
  readonly version: number;
  readonly hash: string;
}

/**
 * Checks the header against `format` version 1; returns the kernel's name ('?' when it has none)
 * and how to fail naming it.
 */
export function readHeader(
  artifact: ArtifactHeader,
  format: string,
  hashUse: string,
): { name: string; fail: Fail } {
  const name = typeof artifact?.kernel === 'string' ? artifact.kernel : '?';
  const fail: Fail = (why) => {
    throw new Error(`artifact of kernel '${name}': ${why}`);
  };
  if (artifact?.format !== format || artifact.version !== 1) {
    fail(
      `not a ${format} version 1 artifact (format ${String(artifact?.format)}, version ` +
        `${String(artifact?.version)}); rebuild it with this tilevm`,
    );
  }
  if (typeof artifact.hash !== 'string' || artifact.hash === '') fail(`it has no hash (${hashUse})`);
  return { name, fail };
}

/** Parses a dim or grid expression, failing with `what` and the parser's message. */
export function parseExpr(fail: Fail, what: string, text: string): ScalarExpr {
  try {
    return parseShapeExpr(text);
  } catch (e) {
    return fail(`${what}: ${(e as Error).message}`);
  }
}

/** The binder's Param for an artifact param. */
export function readParam(fail: Fail, p: ArtifactParam): Param {
  const dtype = dtypeByName(p.dtype) ?? fail(`param '${p.name}' has unknown dtype '${p.dtype}'`);
  if (p.kind === 'scalar') return { kind: 'scalar', name: p.name, dtype };
  const shape = p.shape.map((d, i) => parseExpr(fail, `param '${p.name}' dim ${i}`, d));
  return { kind: 'global', name: p.name, dtype, shape, access: p.access };
}

/** The grid expressions (1 to 3 of them). */
export function readGrid(fail: Fail, grid: readonly string[]): ScalarExpr[] {
  if (grid.length < 1 || grid.length > 3) fail(`grid has ${grid.length} dims; it must have 1 to 3`);
  return grid.map((g, i) => parseExpr(fail, `grid dim ${i}`, g));
}

/** The shape symbols and scalar params a launch binds, by name. */
export function launchNames(params: readonly Param[]): { symbols: Set<string>; scalars: Set<string> } {
  const symbols = new Set<string>();
  for (const p of params) {
    if (p.kind === 'global') for (const d of p.shape) if (d.kind === 'var') symbols.add(d.name);
  }
  const scalars = new Set(params.filter((p) => p.kind === 'scalar').map((p) => p.name));
  return { symbols, scalars };
}
