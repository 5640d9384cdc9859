/**
 * Engine.IO packets (protocol v4, and v3 where it differs), the transport under Socket.IO:
 * https://github.com/socketio/engine.io-protocol ("Protocol", "Packet encoding").
 *
 * A packet is its type, one digit, then its data: `4hello` is a message, `2probe` the ping
 * that tests a new transport. Over WebSocket each packet is one message; binary data is sent
 * as it is (v4) or after a type byte (v3). Over HTTP long-polling several packets share a
 * body: separated by 0x1E in v4, binary in base64 after a `b`; prefixed by their length in
 * characters in v3 (`6:4hello`). Everything here is pure and never throws.
 */

/** Packet types by number ("Protocol" table). */
export const ENGINE_IO_KINDS = ['open', 'close', 'ping', 'pong', 'message', 'upgrade', 'noop'] as const;
export type EngineIoKind = (typeof ENGINE_IO_KINDS)[number];

/** What each packet type is for, in a few words (for --explain). */
export const ENGINE_IO_MEANING: Readonly<Record<EngineIoKind, string>> = {
  open: 'open: the server accepts the session (handshake data follows)',
  close: 'close: this transport is being closed',
  ping: 'ping: the other side must answer with a pong',
  pong: 'pong: the answer to a ping',
  message: 'message: the rest is the data',
  upgrade: 'upgrade: the client switches to this transport',
  noop: 'noop: nothing (ends a pending poll during an upgrade)',
};

export type EngineIoPacket =
  | { kind: EngineIoKind; type: number; text: string; bytes: null }
  | { kind: EngineIoKind; type: number; text: null; bytes: Uint8Array };

/** A text packet (`<type digit>[data]`), or null when it does not start with a type 0-6. */
export function parseTextPacket(text: string): EngineIoPacket | null {
  const type = text.charCodeAt(0) - 0x30;
  if (!(type >= 0 && type <= 6)) return null;
  return { kind: ENGINE_IO_KINDS[type]!, type, text: text.slice(1), bytes: null };
}

/**
 * A binary WebSocket message as a packet: v4 sends the data as it is (always a message); v3
 * puts the packet type in the first byte ("Encoding", "Packet"). Null when a v3 type byte is
 * not 0-6.
 */
export function parseBinaryPacket(data: Uint8Array, version: 3 | 4): EngineIoPacket | null {
  if (version === 4) return { kind: 'message', type: 4, text: null, bytes: data };
  const type = data[0];
  if (type === undefined || type > 6) return null;
  return { kind: ENGINE_IO_KINDS[type]!, type, text: null, bytes: data.subarray(1) };
}

/**
 * A base64 packet of a polling body: v4 `b<base64>` is a binary message; v3 `b<type><base64>`.
 * Null when it is not one.
 */
export function parseBase64Packet(text: string, version: 3 | 4): EngineIoPacket | null {
  if (text.charCodeAt(0) !== 0x62) return null;
  let type = 4;
  let at = 1;
  if (version === 3) {
    type = text.charCodeAt(1) - 0x30;
    if (!(type >= 0 && type <= 6)) return null;
    at = 2;
  }
  const b64 = text.slice(at);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) return null;
  return { kind: ENGINE_IO_KINDS[type]!, type, text: null, bytes: new Uint8Array(Buffer.from(b64, 'base64')) };
}

/** A v4 polling body: its packets, as text (split on the record separator 0x1E, "Packet encoding"). */
export function splitPayloadV4(body: string): string[] {
  return body.split('\x1e');
}

/**
 * A v3 polling body of text packets: `<length in characters>:<packet>` repeated ("Payload").
 * Null when the framing is broken (a length that is not a number or runs past the end).
 */
export function splitPayloadV3(body: string): string[] | null {
  const out: string[] = [];
  let at = 0;
  while (at < body.length) {
    const colon = body.indexOf(':', at);
    if (colon <= at || colon - at > 10) return null;
    const digits = body.slice(at, colon);
    if (!/^\d+$/.test(digits)) return null;
    const length = Number(digits);
    // "characters" are UTF-16 code units in the reference implementation (v3 "Payload").
    if (colon + 1 + length > body.length) return null;
    out.push(body.slice(colon + 1, colon + 1 + length));
    at = colon + 1 + length;
  }
  return out;
}

/** The Engine.IO version a request target asks for (`EIO=3` or `EIO=4`), or null. */
export function engineIoVersion(target: string | null): 3 | 4 | null {
  if (target === null) return null;
  const m = /[?&]EIO=(\d+)/.exec(target);
  if (m === null) return null;
  return m[1] === '3' ? 3 : m[1] === '4' ? 4 : null;
}
