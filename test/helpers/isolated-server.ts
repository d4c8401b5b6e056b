// What the Chromium suites share (test/browser/webgpu-browser.test.ts, test/bench/browser-llm.ts):
// where Chromium is, a local http server whose every answer is cross-origin isolated (COOP/COEP, so
// pages get SharedArrayBuffer and threads), and a promise deadline.
import { createServer, type Server } from 'node:http';

/** /usr/bin/chromium (Debian: apt-get install chromium) or $TILEVM_CHROMIUM. */
export const CHROMIUM = process.env.TILEVM_CHROMIUM ?? '/usr/bin/chromium';

/** A file the server answers with. */
export interface Served {
  readonly type: string;
  readonly body: string | Uint8Array;
}

export const HTML_TYPE = 'text/html; charset=utf-8';
export const JS_TYPE = 'text/javascript; charset=utf-8';

const ISOLATION = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};

/**
 * Serves `route(path)` (the URL's path, query dropped) on 127.0.0.1 at a free port; paths it has no
 * file for answer 404 (204 for /favicon.ico). A route may answer later (a promise: e.g. work the
 * Node side does for the page); one that fails answers 500 with the error's message.
 */
export function serveIsolated(
  route: (path: string) => Served | undefined | Promise<Served | undefined>,
): Promise<Server> {
  const server = createServer(async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    let file: Served | undefined;
    try {
      file = await route(path);
    } catch (e) {
      res.writeHead(500, { ...ISOLATION, 'Content-Type': 'text/plain' });
      res.end(`${path}: ${(e as Error).message}`);
      return;
    }
    if (file) {
      res.writeHead(200, { ...ISOLATION, 'Content-Type': file.type });
      res.end(file.body);
    } else {
      res.writeHead(path === '/favicon.ico' ? 204 : 404, { ...ISOLATION, 'Content-Type': 'text/plain' });
      res.end(path === '/favicon.ico' ? undefined : 'not found');
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

/** p, or a rejection naming `what` after ms milliseconds. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms / 1000} s`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
