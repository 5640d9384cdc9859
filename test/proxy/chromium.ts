/**
 * Headless Chromium (/usr/bin/chromium, the Debian package) as a real WebSocket client of the
 * proxy: a page served from 127.0.0.1 runs a script and POSTs what it saw to /result, which is
 * what `openPage` resolves with. Chromium is started and stopped as the fixture generator does
 * it (fixtures/generate/lib.mjs): a process group of its own, a throwaway profile, and every
 * process of that group gone before `openPage` settles, whatever happened.
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import { CHROMIUM, startChromium, stopChromium } from '../../fixtures/generate/lib.mjs';
import { closeServer, hasTool, listen } from './helpers.js';

export const HAS_CHROMIUM = hasTool(CHROMIUM);

/**
 * Opens a page whose body runs `script` in headless Chromium; the script calls `report(value)`
 * (defined for it) once, and `openPage` resolves with that value. Rejects after `timeout` ms.
 */
export async function openPage<T>(script: string, timeout = 20_000): Promise<T> {
  let resolveResult!: (value: T) => void;
  const result = new Promise<T>((resolve) => (resolveResult = resolve));
  const page = `<!doctype html><meta charset="utf-8"><title>wsproxy test</title><script>
function report(value) { fetch('/result', { method: 'POST', body: JSON.stringify(value) }); }
${script}
</script>`;
  const server = createServer((req, res) => {
    if (req.method === 'POST' && req.url === '/result') {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        res.end();
        resolveResult(JSON.parse(Buffer.concat(chunks).toString('utf8')) as T);
      });
      return;
    }
    res.writeHead(req.url === '/' ? 200 : 404, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(req.url === '/' ? page : undefined);
  });
  const pagePort = await listen(server);
  try {
    return await inChromium([`http://127.0.0.1:${pagePort}/`], result, timeout, 'the page did not report');
  } finally {
    server.closeAllConnections();
    await closeServer(server);
  }
}

/**
 * Runs headless Chromium with `args` (flags, then the URL) until `until` settles, and settles
 * with it; rejects if Chromium exits first or after `timeout` ms (`what` says what did not
 * happen then). Chromium and its helpers are gone when this settles.
 */
export async function inChromium<T>(args: string[], until: Promise<T>, timeout: number, what: string): Promise<T> {
  const browser = startChromium(args);
  const { chrome } = browser;
  // once() rejects on 'error' too: a Chromium that cannot be started (not installed) fails the test at once.
  const exited = once(chrome, 'exit');
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      until,
      exited.then(() => Promise.reject(new Error(`chromium exited (${chrome.exitCode}) before that: ${what}`))),
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} within ${timeout} ms`)), timeout))),
    ]);
  } finally {
    clearTimeout(timer);
    await stopChromium(browser);
  }
}
