import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // Tests and docs examples import the package by name, resolved to the sources.
    alias: [
      { find: /^tilevm$/, replacement: fileURLToPath(new URL('./dsl/index.ts', import.meta.url)) },
      { find: /^tilevm\/runtime$/, replacement: fileURLToPath(new URL('./runtime/index.ts', import.meta.url)) },
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
  },
});
