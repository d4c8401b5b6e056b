// Which declarations are tilevm's own: the tag of a kernel template must resolve (through import
// aliases and re-exports) to tilevm's `kernel` or `fn`, not to a local function of the same name.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Node, type Symbol as TsSymbol } from 'ts-morph';

/** The tilevm package folder this plugin belongs to (holds package.json with name 'tilevm'). */
export const TILEVM_ROOT: string = findPackageRoot(dirname(fileURLToPath(import.meta.url)));

function findPackageRoot(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        if ((JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'tilevm') return dir;
      } catch {
        // not a readable manifest: keep looking upward
      }
    }
    if (dirname(dir) === dir) return join(start, '..', '..');
  }
}

const normalize = (p: string): string => p.replaceAll('\\', '/');

/** Whether a file is part of tilevm (this checkout, or an installed copy in node_modules). */
export function isTilevmFile(path: string): boolean {
  const p = normalize(path);
  const root = normalize(TILEVM_ROOT);
  return (
    p.startsWith(`${root}/dsl/`) ||
    p.startsWith(`${root}/dist/dsl/`) ||
    /\/node_modules\/tilevm\/(dist\/)?dsl\//.test(p)
  );
}

/** Follows import aliases and re-exports to the symbol's own declaration. */
export function resolveAlias(symbol: TsSymbol): TsSymbol {
  let s = symbol;
  for (let i = 0; i < 16 && s.isAlias(); i++) {
    const next = s.getAliasedSymbol();
    if (!next || next === s) break;
    s = next;
  }
  return s;
}

/**
 * The name of the tilevm export a node refers to ('kernel', 'f32', 'global'), or undefined when it
 * is not tilevm's. An import from 'tilevm' that TypeScript cannot resolve (no types installed)
 * still counts by its specifier.
 */
export function tilevmExportName(node: Node): string | undefined {
  const symbol = node.getSymbol();
  if (!symbol) return undefined;
  const target = resolveAlias(symbol);
  for (const decl of target.getDeclarations()) {
    if (isTilevmFile(decl.getSourceFile().getFilePath())) return target.getName();
  }
  // Unresolved module: `import { kernel as k } from 'tilevm'` still names tilevm's kernel.
  for (const decl of symbol.getDeclarations()) {
    if (Node.isImportSpecifier(decl)) {
      const from = decl.getImportDeclaration().getModuleSpecifierValue();
      if (from === 'tilevm' && !decl.getImportDeclaration().getModuleSpecifierSourceFile()) {
        return decl.getName();
      }
    }
  }
  return undefined;
}

/** tilevm's `kernel` or `fn` when `tag` (the callee of `kernel(sig)`…``) is one of them. */
export function templateTagKind(tag: Node): 'kernel' | 'fn' | undefined {
  if (!Node.isCallExpression(tag)) return undefined;
  const callee = tag.getExpression();
  const name = Node.isPropertyAccessExpression(callee)
    ? tilevmExportName(callee.getNameNode())
    : tilevmExportName(callee);
  return name === 'kernel' || name === 'fn' ? name : undefined;
}
