import { execSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Suites that need a WebGPU adapter. Without a GPU, Linux gets one from Debian's chromium
// (SwiftShader) plus the Vulkan loader (libvulkan1); CI installs both (.ci/run). On a machine that
// has neither, outside CI these suites are left out with a notice, so `npm test` works after a
// plain `npm install`; under CI=true they always run, and a missing adapter fails them.
const WEBGPU_SUITES = ['test/backend/wgsl*.test.ts', 'test/**/*webgpu*.test.ts', 'test/browser/**/*.test.ts'];

function webgpuUnavailable(): string | undefined {
  if (process.env.CI || process.platform !== 'linux' || process.env.VK_ICD_FILENAMES) return undefined;
  const swiftshader = existsSync('/usr/lib/chromium/vk_swiftshader_icd.json');
  let loader = false;
  try {
    loader = execSync('ldconfig -p', { encoding: 'utf8' }).includes('libvulkan.so.1');
  } catch {
    loader = false;
  }
  if (swiftshader && loader) return undefined;
  return `no Vulkan driver for WebGPU (install Debian's chromium and libvulkan1: apt-get install chromium libvulkan1)`;
}

const missing = webgpuUnavailable();
if (missing) console.warn(`\n[tilevm] WebGPU suites are not run: ${missing}. CI runs them.\n`);

export default defineConfig({
  resolve: {
    // Tests and docs examples import the package by name, resolved to the sources.
    alias: [
      { find: /^tilevm$/, replacement: fileURLToPath(new URL('./dsl/index.ts', import.meta.url)) },
      {
        find: /^tilevm\/runtime$/,
        replacement: fileURLToPath(new URL('./runtime/index.ts', import.meta.url)),
      },
      { find: /^tilevm\/patnet$/, replacement: fileURLToPath(new URL('./patnet/index.ts', import.meta.url)) },
      { find: /^tilevm\/llm$/, replacement: fileURLToPath(new URL('./llm/index.ts', import.meta.url)) },
      {
        find: /^tilevm\/plugin\/(esbuild|vite|rollup|webpack)$/,
        replacement: fileURLToPath(new URL('./plugin/$1.ts', import.meta.url)),
      },
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['**/node_modules/**', ...(missing ? WEBGPU_SUITES : [])],
    // Suites outside WEBGPU_SUITES that also run on WebGPU read this (test/helpers/webgpu.ts).
    env: { TILEVM_WEBGPU_MISSING: missing ?? '' },
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
