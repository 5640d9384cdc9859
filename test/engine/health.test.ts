import { describe, expect, it } from 'vitest';
import type { Direction } from '../../src/alerts.js';
import { ConnectionDissector } from '../../src/engine/connection-dissector.js';
import type { ConnectionEndEvent, DissectEvent } from '../../src/engine/events.js';
import type { TcpEndReason } from '../../src/engine/health.js';
import { computeAccept } from '../../src/http/accept.js';
import { encodeFrame, type FrameSpec } from '../../src/websocket/frame-encoder.js';

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const enc = (s: string) => new TextEncoder().encode(s);
const REQUEST = enc(`GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
const RESPONSE = enc(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${computeAccept(KEY)}\r\n\r\n`);
const close = (code: number, reason = '') => Uint8Array.from([code >> 8, code & 0xff, ...enc(reason)]);

type Step = [number, Direction, FrameSpec | Uint8Array] | [number, 'end', Direction, TcpEndReason, Direction?];

/** The request at t=0, the 101 at t=0.010, then the steps (seconds). */
function connection(steps: Step[], options: { midstream?: boolean; finishAt?: number } = {}): { events: DissectEvent[]; end: ConnectionEndEvent; codes: string[] } {
  const d = new ConnectionDissector(1, options.midstream ? { midstream: true } : {});
  const events: DissectEvent[] = [];
  let packet = 1;
  if (options.midstream) events.push(...d.start({ packet: 1, ts: 0 }));
  else {
    events.push(...d.data('client', REQUEST, { packet: packet++, ts: 0 }));
    events.push(...d.data('server', RESPONSE, { packet: packet++, ts: 0.01 }));
  }
  let last = 0.01;
  for (const step of steps) {
    last = step[0];
    if (step[1] === 'end') {
      const [ts, , direction, reason, by] = step;
      events.push(...d.end(direction, { packet: packet++, ts }, { reason, by }));
      continue;
    }
    const [ts, direction, spec] = step;
    const bytes = spec instanceof Uint8Array ? spec : encodeFrame(direction === 'client' ? { maskingKey: Uint8Array.of(1, 2, 3, packet), ...spec } : spec);
    events.push(...d.data(direction, bytes, { packet: packet++, ts }));
  }
  events.push(...d.finish({ packet, ts: options.finishAt ?? last }));
  const end = events.find((e): e is ConnectionEndEvent => e.type === 'end')!;
  const codes = events.flatMap((e) => (e.type === 'alert' ? [e.alert.code] : e.type === 'frame' ? e.frame.alerts.map((a) => a.code) : e.type === 'message' ? e.message.alerts.map((a) => a.code) : []));
  return { events, end, codes };
}

describe('the closing handshake and how TCP ended (RFC 6455 §5.5.1, §7)', () => {
  it('a clean close: who began, the codes and reasons, the echo time, the server closing TCP first', () => {
    const { end, codes } = connection([
      [0.02, 'client', { opcode: 1, payload: 'hi' }],
      [0.03, 'client', { opcode: 8, payload: close(1000, 'bye') }],
      [0.0304, 'server', { opcode: 8, payload: close(1000, 'bye') }],
      [0.031, 'end', 'server', 'fin', 'server'],
      [0.032, 'end', 'client', 'fin', 'client'],
    ]);
    expect(codes).toEqual([]);
    expect(end.close).toEqual({
      initiator: 'client',
      codes: { client: 1000, server: 1000 },
      reasons: { client: 'bye', server: 'bye' },
      echoMs: 0.4,
      clean: true,
      tcpEnd: 'fin',
      tcpClosedFirstBy: 'server',
      tcpSent: { client: 'fin', server: 'fin' },
      dataAfterClose: { client: 0, server: 0 },
    });
  });

  it('no Close frame, then a reset: close.missing (the applications see 1006), not clean', () => {
    const { end, codes, events } = connection([
      [0.02, 'client', { opcode: 1, payload: 'hi' }],
      [0.5, 'end', 'client', 'rst', 'client'],
      [0.5, 'end', 'server', 'rst', 'client'],
    ]);
    expect(codes).toEqual(['close.missing']);
    const alert = events.find((e) => e.type === 'alert')!;
    expect(alert).toMatchObject({ alert: { direction: 'client', packet: 4, detail: { tcpEnd: 'rst', by: 'client' } } });
    expect(end.close).toMatchObject({ initiator: null, codes: { client: null, server: null }, reasons: { client: null, server: null }, echoMs: null, clean: false, tcpEnd: 'rst', tcpClosedFirstBy: 'client', tcpSent: { client: 'rst', server: null } });
  });

  it('a FIN, then a reset from the same side: the reset is what that side sent', () => {
    const { end, codes } = connection([
      [0.2, 'end', 'client', 'fin', 'client'],
      [0.3, 'end', 'server', 'rst', 'client'],
    ]);
    expect(codes).toEqual(['close.missing']);
    expect(end.close).toMatchObject({ tcpEnd: 'rst', tcpClosedFirstBy: 'client', tcpSent: { client: 'rst', server: null } });
  });

  it('the client closing TCP first after a server-initiated close: close.client-tcp-first (§7.1.1)', () => {
    const { end, codes } = connection([
      [0.02, 'server', { opcode: 8, payload: close(1001, 'going away') }],
      [0.0202, 'client', { opcode: 8, payload: close(1001, 'going away') }],
      [0.0203, 'end', 'client', 'fin', 'client'],
      [0.0205, 'end', 'server', 'fin', 'server'],
    ]);
    expect(codes).toEqual(['close.client-tcp-first']);
    expect(end.close).toMatchObject({ initiator: 'server', echoMs: 0.2, clean: true, tcpClosedFirstBy: 'client' });
  });

  it('an unanswered Close is close.unanswered alone; a Close without a code is null; data after a Close is counted', () => {
    const { end, codes } = connection([
      [0.02, 'server', { opcode: 8, payload: new Uint8Array(0) }],
      [0.03, 'server', { opcode: 1, payload: 'late' }],
      [0.04, 'end', 'server', 'fin', 'server'],
      [0.05, 'end', 'client', 'fin', 'client'],
    ]);
    expect(codes).toEqual(['frame.after-close', 'close.unanswered']);
    expect(end.close).toMatchObject({ initiator: 'server', codes: { client: null, server: null }, reasons: { client: null, server: '' }, echoMs: null, clean: false, tcpEnd: 'fin', dataAfterClose: { client: 0, server: 1 } });
  });

  it('a connection still open when the capture ends is "open", and no close finding is made', () => {
    const { end, codes } = connection([
      [0.02, 'client', { opcode: 1, payload: 'hi' }],
      [0.3, 'end', 'client', 'capture-end'],
      [0.3, 'end', 'server', 'capture-end'],
    ]);
    expect(codes).toEqual([]);
    expect(end.close).toMatchObject({ tcpEnd: 'open', tcpClosedFirstBy: null, clean: false });
  });

  it('one FIN then the end of the capture: open, and the side that closed is known', () => {
    const { end, codes } = connection([
      [0.2, 'end', 'server', 'fin', 'server'],
      [0.3, 'end', 'client', 'capture-end'],
    ]);
    expect(codes).toEqual(['close.missing']);
    expect(end.close).toMatchObject({ tcpEnd: 'open', tcpClosedFirstBy: 'server', tcpSent: { client: null, server: 'fin' } });
  });
});

describe('timing', () => {
  it('request to 101, 101 to the first message each way, and the longest silence each way up to the end of its stream', () => {
    const { end } = connection([
      [0.012, 'server', { opcode: 9, payload: 'hb' }],
      [0.015, 'client', { opcode: 1, payload: 'first' }],
      [0.016, 'client', { opcode: 10, payload: 'hb' }],
      [0.04, 'server', { opcode: 2, payload: 'x' }],
      [1.5, 'client', { opcode: 1, payload: 'again' }],
      [1.6, 'end', 'server', 'fin', 'server'],
      [3.0, 'end', 'client', 'fin', 'client'],
    ]);
    expect(end.timing).toEqual({
      upgradeMs: 10,
      firstMessageMs: { client: 5, server: 30 },
      // client: 0.016 → 1.5 s; server: 0.04 s → its FIN at 1.6 s.
      longestSilenceMs: { client: 1500, server: 1560 },
    });
  });

  it('mid-stream: no handshake, so no upgrade or first-message times; silences from the first byte', () => {
    const { end } = connection([[0.5, 'client', { opcode: 1, payload: 'x' }]], { midstream: true, finishAt: 2 });
    expect(end.timing).toEqual({ upgradeMs: null, firstMessageMs: { client: null, server: null }, longestSilenceMs: { client: 1500, server: 2000 } });
    expect(end.close).toMatchObject({ tcpEnd: 'open' });
  });

  it('a connection that is not WebSocket has null heartbeat, close and timing', () => {
    const d = new ConnectionDissector(1);
    const events = [...d.data('client', enc('GET / HTTP/1.1\r\nHost: h\r\n\r\n'), { ts: 0 }), ...d.data('server', enc('HTTP/1.1 200 OK\r\n\r\n'), { ts: 1 }), ...d.finish({ ts: 1 })];
    expect(events.at(-1)).toMatchObject({ type: 'end', kind: 'http', heartbeat: null, appHeartbeat: null, close: null, timing: null });
  });
});
