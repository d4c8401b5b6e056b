// The guide and the language reference stay true: their TypeScript examples run, every diagnostic
// code is listed (and each TV1xxx/TV2xxx example triggers its code), and every builtin is documented.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DIAGNOSTIC_CODES, f32, global, kernel } from '../../dsl/index.js';
import { builtinNames, isBuiltinName } from '../../dsl/lang/builtins.js';

const root = join(import.meta.dirname, '..', '..');
const read = (path: string): string => readFileSync(join(root, path), 'utf8');
const language = read('docs/language.md');
const guide = read('docs/guide.md');
const builtinsSource = read('dsl/lang/builtins.ts');

/** The ```ts blocks of a markdown text that import tilevm (the ones a reader can run as written). */
function runnableBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/```ts\n([\s\S]*?)```/g)]
    .map((m) => m[1])
    .filter((code) => code.includes("from 'tilevm"));
}

/** The lines of a markdown section: from its `## title` heading to the next `## ` heading. */
function section(markdown: string, title: string): string {
  const start = markdown.indexOf(`\n## ${title}\n`);
  if (start < 0) throw new Error(`no section '## ${title}'`);
  const end = markdown.indexOf('\n## ', start + 1);
  return markdown.slice(start, end < 0 ? undefined : end);
}

/** Table rows as arrays of cells (the separator row excluded); `\|` stays inside a cell. */
function tableRows(markdown: string): string[][] {
  return markdown
    .split('\n')
    .filter((line) => line.startsWith('|') && !/^\|\s*-/.test(line))
    .map((line) =>
      line
        .slice(1, -1)
        .split(/(?<!\\)\|/)
        .map((cell) => cell.trim()),
    );
}

/** The `code spans` of a markdown fragment. */
function codeSpans(text: string): string[] {
  return [...text.matchAll(/`([^`]+)`/g)].map((m) => m[1]);
}

describe.each([
  ['docs/guide.md', guide],
  ['docs/language.md', language],
])('%s examples', (path, markdown) => {
  const blocks = runnableBlocks(markdown);
  const stem = path.replace(/^docs\//, '').replace(/\.md$/, '');

  it('has examples', () => {
    expect(blocks.length).toBeGreaterThan(0);
  });
  for (const [i, code] of blocks.entries()) {
    it(`example ${i + 1} runs`, async () => {
      const dir = join(root, 'test', '.generated');
      mkdirSync(dir, { recursive: true });
      const file = join(dir, `${stem}-${i + 1}.ts`);
      writeFileSync(file, code);
      await import(file);
    });
  }
});

describe('docs/language.md diagnostics', () => {
  const table = tableRows(section(language, 'Diagnostics')).filter((row) => /^`TV\d{4}`$/.test(row[0]));
  const documented = table.map((row) => row[0].slice(1, -1));
  const codes = Object.keys(DIAGNOSTIC_CODES);

  it('lists every code of DIAGNOSTIC_CODES once, in order, with its title', () => {
    expect(documented).toEqual(codes);
    for (const row of table) {
      const code = row[0].slice(1, -1) as keyof typeof DIAGNOSTIC_CODES;
      expect(row[1], code).toBe(DIAGNOSTIC_CODES[code]);
    }
  });

  it('mentions no code that does not exist', () => {
    const mentioned = new Set(language.match(/TV\d{4}/g) ?? []);
    const unknown = [...mentioned].filter((code) => !Object.hasOwn(DIAGNOSTIC_CODES, code));
    expect(unknown).toEqual([]);
    for (const code of codes) expect(mentioned.has(code), code).toBe(true);
  });

  // The examples of syntax and type errors are kernel-body snippets in a fixed context (described
  // above the table in the doc); each must report its code.
  const snippets = table.filter((row) => /^`TV[12]/.test(row[0]));
  it.each(snippets.map((row) => [row[0].slice(1, -1), codeSpans(row[2])[0]]))(
    '%s example reports its code: %s',
    (code, snippet) => {
      const parts = [`const t = load(x, [0], [4]);\n${snippet}\n`];
      const strings = Object.assign([...parts], { raw: [...parts] }) as TemplateStringsArray;
      const k = kernel({
        name: 'example',
        params: { x: global(f32, ['N']), y: global(f32, ['N'], 'write'), m: global(f32, ['M', 'N']) },
        consts: { BN: 4 },
      })(strings);
      const reported = k.check().diagnostics.map((d) => d.code);
      expect(reported).toContain(code);
    },
  );
});

describe('docs/language.md builtins', () => {
  const builtins = section(language, 'Builtins');
  const firstCells = tableRows(builtins).map((row) => row[0]);
  const spans = firstCells.flatMap(codeSpans);
  const functions = new Set(spans.flatMap((s) => /^(\w+)\(/.exec(s)?.[1] ?? []));
  const methods = (receiver: string) =>
    new Set(spans.flatMap((s) => new RegExp(`^${receiver}\\.(\\w+)\\(`).exec(s)?.[1] ?? []));
  const properties = (receiver: string) =>
    new Set(spans.flatMap((s) => new RegExp(`^${receiver}\\.(\\w+)$`).exec(s)?.[1] ?? []));

  /** A `const NAME ... = [ ... ];` string list or `{ key: ... }` object's keys, from builtins.ts. */
  function sourceList(name: string): string[] {
    const m = new RegExp(`const ${name}\\b[^=]*= (?:new Set\\()?\\[([\\s\\S]*?)\\]`).exec(builtinsSource);
    if (!m) throw new Error(`builtins.ts has no list ${name}`);
    return [...m[1].matchAll(/'(\w+)'/g)].map((x) => x[1]);
  }
  const namespaces = sourceList('NAMESPACES');
  const builtinFunctions = builtinNames().filter((name) => !namespaces.includes(name));

  it('reads the builtin tables of builtins.ts', () => {
    expect(builtinFunctions.length).toBeGreaterThan(30);
    for (const name of [...builtinFunctions, ...namespaces]) expect(isBuiltinName(name), name).toBe(true);
    for (const name of ['foo', 'log10', 'softmax', 'load2', 'toString', 'constructor']) {
      expect(isBuiltinName(name), name).toBe(false);
    }
  });

  it('documents every builtin function, and only builtins', () => {
    expect([...functions].sort()).toEqual([...new Set(builtinFunctions)].sort());
    for (const name of functions) expect(isBuiltinName(name), name).toBe(true);
  });

  it('documents blockIdx and its members', () => {
    for (const ns of namespaces) {
      for (const axis of ['x', 'y', 'z']) expect(spans).toContain(`${ns}.${axis}`);
    }
  });

  it('documents every tile method and property', () => {
    expect([...methods('t')].sort()).toEqual(sourceList('TILE_METHODS').sort());
    expect([...properties('t')].sort()).toEqual(sourceList('TILE_PROPERTIES').sort());
  });

  it('documents every shared-tile method', () => {
    expect([...methods('s')].sort()).toEqual(sourceList('SHARED_METHODS').sort());
  });
});
