import { describe, expect, it } from 'vitest';
import { AppLayer } from '../../src/app/layer.js';
import { Pairs } from '../../src/app/pairs.js';
import { APP_NAMES, PROTOCOLS, protocolForSubprotocol, protocolForTarget } from '../../src/app/registry.js';
import type { DissectEvent } from '../../src/engine/events.js';
import { alertCodes, apps, endEvent, handshakeEvent, messageEvent, run } from './helpers.js';

const RPC = '{"jsonrpc":"2.0","method":"sum","params":[1,2],"id":1}';

describe('choosing a decoder per connection', () => {
  it('by negotiated subprotocol, then by request target, then by sniffing the first messages', () => {
    expect(protocolForSubprotocol('JSONRPC')?.name).toBe('json-rpc');
    expect(protocolForTarget('/socket.io/?EIO=4&transport=websocket')?.name).toBe('socket.io');
    expect(protocolForTarget('/engine.io/?EIO=4&transport=websocket')?.name).toBe('engine.io');
    expect(protocolForTarget('/app/?EIO=3&transport=websocket&sid=x')?.name).toBe('socket.io');
    expect(protocolForTarget('/chat')).toBeUndefined();
    // The subprotocol wins over what the messages look like.
    expect(apps(run([['client', '{"a":1}'], ['client', RPC]], { subprotocol: 'jsonrpc' }))[0]!.protocol).toBe('json-rpc');
    // Sniffed: the first JSON-RPC message selects it.
    expect(apps(run([['client', RPC]], { target: '/rpc' })).map((e) => e.kind)).toEqual(['request']);
  });

  it('looks at the first 8 messages of each kind only, then leaves the connection plain', () => {
    const texts: ['client', string][] = Array.from({ length: 8 }, () => ['client', 'plain text']);
    expect(apps(run([...texts, ['client', RPC]]))).toEqual([]);
    expect(apps(run([...texts.slice(1), ['client', RPC]])).length).toBe(1);
  });

  it('--app forces a decoder on every connection; none adds nothing', () => {
    expect(apps(run([['client', '42["x"]']], { target: '/ws', layer: { app: 'socket.io' } }))[0]!.name).toBe('x');
    expect(apps(run([['client', '{"type":"chat"}']], { layer: { app: 'json' } }))[0]).toMatchObject({ protocol: 'json', kind: 'object', name: 'chat' });
    const events: DissectEvent[] = [handshakeEvent(1, '/socket.io/?EIO=4'), messageEvent(1, 'client', '42["x"]', 5)];
    expect(new AppLayer({ app: 'none' }).process(events)).toBe(events);
    expect(() => new AppLayer({ app: 'nope' })).toThrow(/unknown/);
    expect(APP_NAMES).toEqual([...PROTOCOLS.map((p) => p.name), 'none']);
  });

  it('puts app events right after their message, sets them on it, and returns the same array when it adds nothing', () => {
    const layer = new AppLayer();
    const plain: DissectEvent[] = [handshakeEvent(1, '/plain'), messageEvent(1, 'client', 'hello', 3)];
    expect(layer.process(plain)).toBe(plain);
    const message = messageEvent(2, 'client', RPC, 4);
    const out = layer.process([handshakeEvent(2, '/rpc'), message, messageEvent(2, 'server', '{"jsonrpc":"2.0","result":3,"id":1}', 5)]);
    expect(out.map((e) => e.type)).toEqual(['handshake', 'message', 'app', 'message', 'app']);
    expect(message.app).toEqual([out[2]]);
    expect(out[4]).toMatchObject({ kind: 'response', name: 'sum', replyTo: 4 });
  });

  it('a decoder that fails is removed with one alert; the messages still flow', () => {
    const entry = PROTOCOLS.find((p) => p.name === 'json')!;
    const create = entry.create;
    (entry as { create: typeof create }).create = () => ({
      protocol: 'json',
      gaveUp: null,
      session: null,
      message: () => {
        throw new Error('boom');
      },
      end: () => [],
    });
    try {
      const events = run([['client', '{}'], ['client', '{}']], { layer: { app: 'json' } });
      expect(events.map((e) => e.type)).toEqual(['handshake', 'message', 'alert', 'message', 'end']);
      expect(alertCodes(events)).toEqual(['app.decoder-stopped']);
      expect(events[2]!.type === 'alert' && events[2]!.alert.message).toMatch(/json: internal error \(boom\)/);
    } finally {
      (entry as { create: typeof create }).create = create;
    }
  });

  it('joins one Engine.IO session across connections by its sid', () => {
    const layer = new AppLayer();
    // Connection 1 (a polling request, issue 19's part) brings the open packet; the WebSocket
    // upgrade (connection 2) names the sid in its URL: its pong answers the ping of connection 1.
    const opened = layer.input({ conn: 1, direction: 'server', transport: 'polling', at: { packet: 3, ts: 1 }, text: '0{"sid":"S1","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000}', data: new Uint8Array(), session: null }, '/socket.io/?EIO=4&transport=polling');
    expect(apps(opened)[0]).toMatchObject({ transport: 'polling', session: 'S1' });
    layer.input({ conn: 1, direction: 'client', transport: 'polling', at: { packet: 5, ts: 2 }, text: '421["hello"]', data: new Uint8Array(), session: 'S1' }, '/socket.io/?EIO=4&transport=polling&sid=S1');
    layer.process([handshakeEvent(2, '/socket.io/?EIO=4&transport=websocket&sid=S1')]);
    const out = apps(layer.process([messageEvent(2, 'server', '431["hi"]', 9, 2.5)]));
    expect(out[0]).toMatchObject({ conn: 2, session: 'S1', replyTo: 5, latencyMs: 500, alerts: [] });
    layer.process([endEvent(2)]);
  });
});

describe('pairs', () => {
  it('pairs an answer with the request from the other side, once, with its latency', () => {
    const p = new Pairs();
    expect(p.request('client', 'k', 'event', { packet: 4, ts: 10.001 }, 'hello')).toBe(false);
    expect(p.answer('client', 'k', { ts: 10.002 })).toBeNull();
    expect(p.answer('server', 'k', { packet: 6, ts: 10.0035 })).toEqual({ replyTo: 4, latencyMs: 2.5, requestKind: 'event', requestName: 'hello' });
    expect(p.answer('server', 'k', { ts: 11 })).toBeNull();
    expect(p.request('server', 'k', 'event', {})).toBe(false);
    expect(p.request('server', 'k', 'event', {})).toBe(true);
  });

  it('forgets the oldest requests beyond its bound', () => {
    const p = new Pairs(3);
    for (let i = 0; i < 5; i++) p.request('client', String(i), 'request', { packet: i });
    expect(p.outstanding).toBe(3);
    expect(p.forgotten).toBe(2);
    expect(p.answer('server', '0', {})).toBeNull();
    expect(p.answer('server', '4', {})?.replyTo).toBe(4);
  });
});
