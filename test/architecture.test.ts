// The layering rule of docs/architecture.md: data flows dsl → runtime → patnet/llm; nothing
// imports upward, and nothing shipped imports the tests.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');

function sources(folder: string): string[] {
  return (readdirSync(join(root, folder), { recursive: true }) as string[])
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(folder, f));
}

function relativeImports(file: string): string[] {
  const text = readFileSync(join(root, file), 'utf8');
  return [...text.matchAll(/(?:from|import)\s*\(?\s*'(\.[^']+)'/g)].map((m) => join(file, '..', m[1]));
}

describe('layering', () => {
  it.each(sources('dsl'))('%s imports nothing outside dsl/', (file) => {
    for (const target of relativeImports(file))
      expect(target.startsWith('dsl/'), `${file} imports ${target}`).toBe(true);
  });
  it.each(sources('runtime'))('%s imports only runtime/ and dsl/', (file) => {
    for (const target of relativeImports(file)) {
      expect(target.startsWith('runtime/') || target.startsWith('dsl/'), `${file} imports ${target}`).toBe(
        true,
      );
    }
  });
  // The two workloads sit side by side on the language and the runtime, and know nothing of each other.
  for (const workload of ['llm', 'patnet']) {
    it.each(sources(workload))(`%s imports only ${workload}/, dsl/ and runtime/`, (file) => {
      for (const target of relativeImports(file)) {
        const ok = [`${workload}/`, 'dsl/', 'runtime/'].some((p) => target.startsWith(p));
        expect(ok, `${file} imports ${target}`).toBe(true);
      }
    });
  }
  // The plugin and CLI are tools on top; PATNet's CLI is reached only through its own entry.
  it.each(sources('plugin'))('%s imports only plugin/, dsl/, runtime/ and patnet/cli/', (file) => {
    for (const target of relativeImports(file)) {
      const ok = ['plugin/', 'dsl/', 'runtime/', 'patnet/cli/'].some((p) => target.startsWith(p));
      expect(ok, `${file} imports ${target}`).toBe(true);
    }
  });
});
