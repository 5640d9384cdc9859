/**
 * wsproxy as a process (bin/wsproxy.js over dist/, so `npm run build` first): how it stops when
 * its stdout is a pipe that nobody reads.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { closeServer } from './helpers.js';

const BIN = fileURLToPath(new URL('../../bin/wsproxy.js', import.meta.url));
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('wsproxy stopping', () => {
  it('SIGTERM with a stdout nobody reads: exits 0 after --grace, saying how much output it dropped', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
    await once(wss, 'listening');
    wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data as Buffer, { binary: isBinary })));
    cleanups.push(async () => {
      for (const c of wss.clients) c.terminate();
      await closeServer(wss as unknown as Server);
    });
    const target = (wss.address() as { port: number }).port;
    // stdout is a pipe this test never reads: once the pipe's buffer is full, nothing more is written.
    const child = spawn(process.execPath, [BIN, '--listen', '0', '--target', String(target), '--json', '--grace', '0.5'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    cleanups.push(() => {
      clearTimeout(killer);
      child.kill('SIGKILL');
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    while (!/:(\d+) →/.test(stderr)) await new Promise((resolve) => setTimeout(resolve, 20));
    const port = Number(/127\.0\.0\.1:(\d+) →/.exec(stderr)![1]);

    const client = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false });
    await once(client, 'open');
    let answers = 0;
    client.on('message', () => answers++);
    // Two NDJSON lines each way per message, ~300 bytes each: ~2 MB of output, far beyond a pipe's 64 KiB.
    for (let i = 0; i < 2000; i++) client.send(`message ${i}`);
    await expect.poll(() => answers, { timeout: 30_000 }).toBe(2000);
    client.close(1000);
    await once(client, 'close');

    child.kill('SIGTERM');
    const [code, signal] = await exited;
    expect(signal).toBeNull();
    expect(code).toBe(0);
    expect(stderr).toMatch(/wsproxy: \d+ bytes of output not written within 0\.5 s \(stdout is not being read\): dropped/);
  }, 90_000);
});
