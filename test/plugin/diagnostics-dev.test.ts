// Kernel errors in the vite dev server: the transform error (what the overlay shows, sent over the
// HMR channel) carries the plugin name, the module id and a `loc` at the .ts file's line and column
// of the offending token, both from `transformRequest` and from a browser request.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, type ViteDevServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import tilevmVite from '../../plugin/vite.js';
import { outDir, ROOT, RUNTIME_ENTRY } from './app-helpers.js';

const dir = join(ROOT, 'test/plugin/fixtures/errors');
const file = join(dir, 'bad-kernel.ts');

type ViteError = {
  message: string;
  plugin?: string;
  id?: string;
  frame?: string;
  loc?: { file?: string; line: number; column: number };
};

/** 1-based line and column of the first occurrence of `token` in the fixture. */
function positionOf(token: string): { line: number; column: number } {
  const text = readFileSync(file, 'utf8');
  const at = text.indexOf(token);
  expect(at).toBeGreaterThan(0);
  const before = text.slice(0, at).split('\n');
  return { line: before.length, column: before[before.length - 1].length + 1 };
}

/** The error points at `t * 2` in bad-kernel.ts; vite, like rollup, counts columns from 0. */
function expectAtOffendingToken(error: ViteError | undefined): void {
  const want = positionOf('t * 2');
  expect(error?.plugin).toBe('tilevm');
  expect(error?.id).toBe(file);
  expect(error?.loc?.file).toBe(file);
  expect({ line: error?.loc?.line, column: (error?.loc?.column ?? -2) + 1 }).toEqual(want);
  expect(error?.message).toContain(`bad-kernel.ts:${want.line}:${want.column} TV2005 error:`);
  expect(error?.frame).toContain('store(y, [i],   t * 2);');
}

let server: ViteDevServer;
const sent: { type?: string; err?: ViteError }[] = [];

beforeAll(async () => {
  server = await createServer({
    configFile: false,
    root: dir,
    // Nothing of vite's lands in the fixtures folder.
    cacheDir: outDir('diagnostics-dev-cache'),
    logLevel: 'silent',
    server: { watch: null, ws: false, host: '127.0.0.1', port: 0 },
    plugins: [tilevmVite({ runtimeModule: RUNTIME_ENTRY })],
  });
  const hot = server.environments.client.hot;
  const send = hot.send.bind(hot);
  hot.send = ((payload: { type?: string; err?: ViteError }) => {
    sent.push(payload);
    send(payload as never);
  }) as typeof hot.send;
  await server.listen();
}, 120_000);

afterAll(async () => {
  await server?.close();
});

describe('a kernel error in the vite dev server', () => {
  it('rejects transformRequest with plugin, id and loc at the offending token', async () => {
    const error = await server.transformRequest('/bad-kernel.ts').then(
      () => undefined,
      (e: ViteError) => e,
    );
    expect(error, 'the transform fails').toBeDefined();
    expectAtOffendingToken(error);
  });

  it("answers the browser's request with 500 and sends the overlay that error", async () => {
    sent.length = 0;
    const base = server.resolvedUrls?.local[0];
    expect(base, 'the server listens').toBeDefined();
    const response = await fetch(new URL('bad-kernel.ts', base));
    expect(response.status).toBe(500);
    const overlay = sent.find((p) => p.type === 'error');
    expect(overlay, JSON.stringify(sent)).toBeDefined();
    expectAtOffendingToken(overlay?.err);
  });
});
