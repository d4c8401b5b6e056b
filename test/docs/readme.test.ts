// Every TypeScript example in the README that imports tilevm runs as written.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)]
  .map((m) => m[1])
  .filter((code) => code.includes("from 'tilevm"));

describe('README examples', () => {
  it('has examples', () => {
    expect(blocks.length).toBeGreaterThan(0);
  });
  for (const [i, code] of blocks.entries()) {
    it(`example ${i + 1} runs`, async () => {
      const dir = join(root, 'test', '.generated');
      mkdirSync(dir, { recursive: true });
      const file = join(dir, `readme-${i + 1}.ts`);
      writeFileSync(file, code);
      await import(file);
    });
  }
});
