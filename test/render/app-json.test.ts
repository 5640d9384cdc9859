/**
 * The `app` event as NDJSON (docs/json.md, "app"): shared keys keep their meaning whatever a
 * protocol names its own fields, and the heartbeat flag is written.
 */
import { describe, expect, it } from 'vitest';
import type { AppEvent } from '../../src/app/types.js';
import { eventToJson } from '../../src/render/json.js';

function app(fields: AppEvent['fields'], heartbeat = false): AppEvent {
  return {
    type: 'app',
    conn: 3,
    direction: 'server',
    at: { packet: 7, ts: 1.5 },
    transport: 'websocket',
    protocol: 'test',
    kind: 'ping',
    session: 'sid-1',
    summary: 'test ping',
    replyTo: null,
    latencyMs: null,
    alerts: [],
    fields,
    name: null,
    heartbeat,
  };
}

describe('app events as NDJSON', () => {
  it('a protocol field named like a shared key is written beside it, underscored, never instead of it or dropped', () => {
    const json = eventToJson(app({ session: 'the protocol\'s own', type: 'frame-type', _type: 'taken', data: 'x' }), { maxHexBytes: 256 });
    expect(json).toMatchObject({ type: 'app', session: 'sid-1', kind: 'ping', data: 'x' });
    expect(json._session).toBe("the protocol's own");
    expect(json._type).toBe('taken');
    expect(json.__type).toBe('frame-type');
  });

  it('writes the heartbeat flag: true for a protocol keep-alive, false otherwise', () => {
    expect(eventToJson(app({}, true), { maxHexBytes: 256 }).heartbeat).toBe(true);
    expect(eventToJson(app({}, false), { maxHexBytes: 256 }).heartbeat).toBe(false);
  });
});
