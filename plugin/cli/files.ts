// Which files a CLI command works on: an entry and the local modules it imports, or a glob.
import { readdirSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import type { Project, SourceFile } from 'ts-morph';
import { isTilevmFile } from '../core/tilevm-symbols.js';

/** `src/**\/*.ts` as a RegExp over paths relative to cwd ('**' spans folders, '*' does not). */
function globToRegExp(glob: string): RegExp {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*' && glob[i + 1] === '*') {
      out += glob[i + 2] === '/' ? '(?:.*/)?' : '.*';
      i += glob[i + 2] === '/' ? 2 : 1;
    } else if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else out += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${out}$`);
}

/** Files matching a glob, searched from its folder part (node_modules is skipped). */
export function expandGlob(pattern: string, cwd = process.cwd()): string[] {
  const normalized = pattern.replaceAll('\\', '/');
  const firstWild = normalized.search(/[*?]/);
  const base = normalized.slice(0, normalized.lastIndexOf('/', firstWild) + 1) || './';
  const root = resolve(cwd, base);
  const matcher = globToRegExp(isAbsolute(normalized) ? normalized : relative('.', normalized));
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      if (name === 'node_modules' || name.startsWith('.')) continue;
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else {
        const rel = isAbsolute(normalized) ? path : relative(cwd, path);
        if (matcher.test(rel.replaceAll('\\', '/'))) found.push(path);
      }
    }
  };
  walk(root);
  return found.sort();
}

/** An entry file and every local module it imports, transitively (not node_modules or tilevm). */
export function entryClosure(project: Project, entry: string): SourceFile[] {
  const seen = new Map<string, SourceFile>();
  const visit = (file: SourceFile) => {
    const path = file.getFilePath();
    if (seen.has(path) || path.includes('/node_modules/') || isTilevmFile(path)) return;
    seen.set(path, file);
    for (const decl of [...file.getImportDeclarations(), ...file.getExportDeclarations()]) {
      const target = decl.getModuleSpecifierSourceFile();
      if (target) visit(target);
    }
  };
  visit(project.addSourceFileAtPath(resolve(entry)));
  return [...seen.values()];
}

/** The files a build or check covers: a glob's matches, or an entry's closure. */
export function inputFiles(project: Project, input: string): string[] {
  if (/[*?]/.test(input)) return expandGlob(input);
  return entryClosure(project, input).map((f) => f.getFilePath());
}
