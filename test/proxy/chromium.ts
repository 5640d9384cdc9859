/**
 * Headless Chromium (/usr/bin/chromium, the Debian package) as a real WebSocket client of the
 * proxy: a page served from 127.0.0.1 runs a script and POSTs what it saw to /result, which is
 * what `openPage` resolves with. Chromium runs in a process group of its own with a throwaway
 * profile, and every process of that group is gone before `openPage` settles, whatever happened.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closeServer, hasTool, listen, sleep } from './helpers.js';

export const CHROMIUM = '/usr/bin/chromium';
export const HAS_CHROMIUM = hasTool(CHROMIUM);

/** True while some process of group `pgid` is alive. */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

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
  const profile = mkdtempSync(join(tmpdir(), 'wsproxy-chromium-'));
  const chrome = spawn(
    CHROMIUM,
    ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-extensions', '--no-default-browser-check', '--mute-audio', `--user-data-dir=${profile}`, `http://127.0.0.1:${pagePort}/`],
    { stdio: 'ignore', detached: true },
  );
  // once() rejects on 'error' too: a Chromium that cannot be started (not installed) fails the test at once.
  const exited = once(chrome, 'exit');
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      result,
      exited.then(() => Promise.reject(new Error(`chromium exited (${chrome.exitCode}) before the page reported`))),
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`the page did not report within ${timeout} ms`)), timeout))),
    ]);
  } finally {
    clearTimeout(timer);
    if (chrome.pid !== undefined) {
      const pgid = chrome.pid;
      const signal = (name: NodeJS.Signals) => {
        try {
          process.kill(-pgid, name);
        } catch {
          // the group is gone already
        }
      };
      signal('SIGTERM');
      // Chromium's helpers share its process group: wait for all of them, then insist.
      for (let i = 0; i < 50 && groupAlive(pgid); i++) {
        if (i === 30) signal('SIGKILL');
        await sleep(100);
      }
    }
    rmSync(profile, { recursive: true, force: true });
    server.closeAllConnections();
    await closeServer(server);
  }
}
