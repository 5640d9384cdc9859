import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { buildPcapFile, TcpConversationRecorder } from '../../src/capture/index.js';
import { main } from '../../src/cli/wsdump.js';
import { computeAccept } from '../../src/http/accept.js';
import { encodeFrame } from '../../src/websocket/frame-encoder.js';
import { argv, fakeIo } from './io.js';

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const enc = (s: string) => new TextEncoder().encode(s);

describe('wsdump - (live stdin)', () => {
  it('prints frames while the capture is still being written', async () => {
    const rec = new TcpConversationRecorder({ client: { ip: '192.0.2.1', port: 50000 }, server: { ip: '192.0.2.2', port: 8080 } });
    const packets = [
      ...rec.open(1),
      ...rec.data('client', enc(`GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`), 2),
      ...rec.data('server', enc(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${computeAccept(KEY)}\r\n\r\n`), 3),
      ...rec.data('server', encodeFrame({ opcode: 1, payload: 'first live message' }), 4),
    ];
    const stdin = new PassThrough();
    const io = fakeIo({ stdin });
    const done = main(argv('-'), io);
    stdin.write(buildPcapFile(packets));
    // Nothing has ended the stream: the frame must be shown anyway.
    await expect.poll(() => io.stdout.text, { timeout: 5000 }).toContain('first live message');
    stdin.end();
    expect(await done).toBe(0);
  });
});
