import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { serveIsolated } from './isolated-server.js';

describe('serveIsolated', () => {
  let pending = 0;
  const server = serveIsolated(async (path) => {
    if (path === '/now') return { type: 'text/plain', body: 'now' };
    // An answer the route works out later (browser-llm.ts: a Node run for the page).
    if (path === '/later') {
      pending++;
      await new Promise((res) => setTimeout(res, 10));
      return { type: 'application/json', body: JSON.stringify(0.75) };
    }
    if (path === '/fails') throw new Error('the Node run failed');
    return undefined;
  });
  const get = async (path: string) => {
    const { port } = (await server).address() as AddressInfo;
    return fetch(`http://127.0.0.1:${port}${path}`);
  };
  afterAll(async () => {
    const s = await server;
    await new Promise<void>((resolve) => s.close(() => resolve()));
  });

  it('answers sync and async routes, cross-origin isolated', async () => {
    const now = await get('/now');
    expect(now.status).toBe(200);
    expect(await now.text()).toBe('now');
    expect(now.headers.get('cross-origin-opener-policy')).toBe('same-origin');
    expect(now.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
    const later = await get('/later?x=1');
    expect(later.status).toBe(200);
    expect(await later.json()).toBe(0.75);
    expect(pending).toBe(1);
  });

  it('answers 404 for unknown paths and 500 naming the path when a route throws', async () => {
    expect((await get('/nothing')).status).toBe(404);
    const failed = await get('/fails');
    expect(failed.status).toBe(500);
    expect(await failed.text()).toBe('/fails: the Node run failed');
    expect(failed.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
  });
});
