// The vite dev server: a kernel module is served precompiled; editing the kernel recompiles it
// (new WGSL, new hash) and the server sends a hot update for that module, not a full reload.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, type ViteDevServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import tilevmVite from '../../plugin/vite.js';
import { outDir, ROOT, RUNTIME_ENTRY } from './app-helpers.js';

const dir = outDir('hmr');
const file = join(dir, 'kernel.ts');

function kernelSource(factor: number): string {
  return `import { f32, global, kernel } from ${JSON.stringify(join(ROOT, 'dsl/index.ts'))};
export const triple = kernel({
  name: 'scale_by',
  params: { x: global(f32, ['N']), y: global(f32, ['N'], 'write') },
})\`
  threads(32);
  store(y, [blockIdx.x * 32], load(x, [blockIdx.x * 32], [32]) * ${factor});
\`;
if (import.meta.hot) import.meta.hot.accept();
`;
}

let server: ViteDevServer;
const sent: unknown[] = [];

beforeAll(async () => {
  writeFileSync(file, kernelSource(3));
  server = await createServer({
    configFile: false,
    root: dir,
    logLevel: 'silent',
    server: { watch: null, ws: false },
    plugins: [tilevmVite({ runtimeModule: RUNTIME_ENTRY })],
  });
  const hot = server.environments.client.hot;
  const send = hot.send.bind(hot);
  hot.send = ((payload: unknown) => {
    sent.push(payload);
    send(payload as never);
  }) as typeof hot.send;
}, 120_000);

afterAll(async () => {
  await server?.close();
});

/** The WGSL inside the served module's precompiled artifact (vite reformats the object literal). */
function servedWgsl(code: string): string {
  expect(code).toContain('__tilevm_precompiled(');
  const text = code.match(/"wgsl":\s*("(?:[^"\\]|\\.)*")/)?.[1];
  expect(text, 'the served module holds WGSL').toBeDefined();
  return JSON.parse(text ?? '""') as string;
}

describe('vite dev server', () => {
  it('recompiles an edited kernel and hot-updates its module', async () => {
    const first = await server.transformRequest('/kernel.ts');
    expect(servedWgsl(first?.code ?? '')).toMatch(/\b3(\.0)?f?\b/);

    writeFileSync(file, kernelSource(7));
    // The file watcher is off in tests: report the change as it would.
    await server.watcher.emit('change', file);
    await new Promise((done) => setTimeout(done, 200));
    const update = sent.find((p) => (p as { type?: string }).type === 'update') as
      | { updates: { path: string }[] }
      | undefined;
    expect(update, JSON.stringify(sent)).toBeDefined();
    expect(update?.updates.map((u) => u.path)).toContain('/kernel.ts');

    const second = await server.transformRequest('/kernel.ts');
    const wgsl = servedWgsl(second?.code ?? '');
    expect(wgsl).toMatch(/\b7(\.0)?f?\b/);
    expect(wgsl).not.toEqual(servedWgsl(first?.code ?? ''));
  });
});
