/**
 * `wsproxy replay CAPTURE --target URL`: the client's side of one recorded WebSocket connection,
 * played again against a live server, and the server's answers set beside the recorded ones.
 *
 * The new connection asks for the recorded path, offers the recorded subprotocols and, when the
 * recording negotiated permessage-deflate, offers it too (with client_no_context_takeover, so each
 * message the replay compresses stands alone). What comes back is decoded by the same
 * ConnectionDissector wsdump uses, fed the bytes of both directions of the new connection, so
 * the answers are read exactly as the recording was (fragments joined, messages inflated).
 *
 * Timing: each client message goes at its recorded offset from the handshake; with `fast`, as
 * soon as the answers recorded before it have arrived (or a second has passed without them).
 */
import { randomBytes } from 'node:crypto';
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { constants as zlibConstants, deflateRawSync } from 'node:zlib';
import type { Direction } from '../../alerts.js';
import { ConnectionDissector } from '../../engine/connection-dissector.js';
import { dissect } from '../../engine/dissect.js';
import type { DissectEvent, HandshakeEvent } from '../../engine/events.js';
import { Opcode } from '../../websocket/constants.js';
import { encodeFrame } from '../../websocket/frame-encoder.js';
import type { ProxyTarget } from '../address.js';
import { closeBody } from './interceptor.js';

export interface RecordedMessage {
  type: 'text' | 'binary';
  data: Uint8Array;
  /** Seconds after the handshake's answer. */
  at: number;
}

export interface Recording {
  conn: number;
  path: string;
  protocols: string[];
  deflate: boolean;
  client: RecordedMessage[];
  server: RecordedMessage[];
  /** For each client message: how many server messages the recording had before it. */
  answeredBefore: number[];
}

export class ReplayError extends Error {}

/** The connection to replay: `conn`, or the first WebSocket connection of the capture. */
export async function readRecording(path: string, conn?: number): Promise<Recording> {
  let handshake: HandshakeEvent | null = null;
  const client: RecordedMessage[] = [];
  const server: RecordedMessage[] = [];
  const answeredBefore: number[] = [];
  let origin = 0;
  const seen = new Set<number>();
  for await (const event of dissect(path, { app: false })) {
    if (event.type === 'handshake' && event.upgraded && handshake === null && (conn === undefined || event.conn === conn)) {
      handshake = event;
      origin = event.response?.at.ts ?? 0;
    }
    if (event.type === 'connection') seen.add(event.conn);
    if (event.type !== 'message' || handshake === null || event.conn !== handshake.conn) continue;
    const m = event.message;
    if (m.opcode !== Opcode.Text && m.opcode !== Opcode.Binary) continue;
    const at = Math.max(0, (m.end.ts ?? origin) - origin);
    const item: RecordedMessage = { type: m.opcode === Opcode.Text ? 'text' : 'binary', data: Buffer.from(m.data), at };
    if (m.direction === 'client') {
      answeredBefore.push(server.length);
      client.push(item);
    } else server.push(item);
  }
  if (handshake === null) {
    if (conn !== undefined && !seen.has(conn)) throw new ReplayError(`${path} has no connection #${conn}`);
    throw new ReplayError(`${path} has no WebSocket connection${conn !== undefined ? ` #${conn}` : ''} whose handshake was answered 101`);
  }
  return {
    conn: handshake.conn,
    path: handshake.request.target,
    protocols: handshake.protocol !== null ? [handshake.protocol] : handshake.offeredProtocols,
    deflate: handshake.deflate !== null,
    client,
    server,
    answeredBefore,
  };
}

export type Verdict =
  | { kind: 'same'; index: number; recorded: RecordedMessage; now: RecordedMessage }
  | { kind: 'changed'; index: number; recorded: RecordedMessage; now: RecordedMessage }
  | { kind: 'missing'; index: number; recorded: RecordedMessage }
  | { kind: 'new'; index: number; now: RecordedMessage };

/** The answers side by side, in order: the i-th answer now against the i-th recorded. */
export function compareAnswers(recorded: RecordedMessage[], now: RecordedMessage[]): Verdict[] {
  const out: Verdict[] = [];
  for (let i = 0; i < Math.max(recorded.length, now.length); i++) {
    const r = recorded[i];
    const n = now[i];
    if (r !== undefined && n !== undefined) out.push({ kind: r.type === n.type && Buffer.from(r.data).equals(Buffer.from(n.data)) ? 'same' : 'changed', index: i + 1, recorded: r, now: n });
    else if (r !== undefined) out.push({ kind: 'missing', index: i + 1, recorded: r });
    else out.push({ kind: 'new', index: i + 1, now: n! });
  }
  return out;
}

export interface ReplayOptions {
  target: ProxyTarget;
  insecure?: boolean;
  fast?: boolean;
  /** Milliseconds to wait for answers after the last message (default 2000), and for the connection. */
  wait?: number;
}

export interface ReplayResult {
  status: number;
  answers: RecordedMessage[];
  verdicts: Verdict[];
}

/** Plays the recording's client messages against the target; resolves with the answers compared. */
export async function replay(recording: Recording, options: ReplayOptions): Promise<ReplayResult> {
  const wait = options.wait ?? 2000;
  const socket = await open(options, wait);
  const dissector = new ConnectionDissector(1);
  const answers: RecordedMessage[] = [];
  let status = 0;
  let upgraded: (() => void) | null = null;
  let failed: ((error: Error) => void) | null = null;
  let answered: (() => void) | null = null;
  let closed = false;
  const upgrade = new Promise<void>((resolve, reject) => {
    upgraded = resolve;
    failed = reject;
  });
  let start = 0;
  const handle = (events: DissectEvent[]) => {
    for (const event of events) {
      if (event.type === 'handshake') {
        status = event.response?.status ?? 0;
        if (event.upgraded) {
          start = performance.now();
          upgraded?.();
        } else failed?.(new ReplayError(`the target answered ${status} ${event.response?.reason ?? ''}`.trimEnd() + ', not 101: no WebSocket'));
      }
      if (event.type !== 'message' || event.message.direction !== 'server') continue;
      const m = event.message;
      if (m.opcode === Opcode.Ping) send(socket, dissector, handle, encodeFrame({ opcode: Opcode.Pong, payload: m.data, maskingKey: randomBytes(4) }));
      if (m.opcode === Opcode.Close) closed = true;
      if (m.opcode !== Opcode.Text && m.opcode !== Opcode.Binary) continue;
      answers.push({ type: m.opcode === Opcode.Text ? 'text' : 'binary', data: m.data, at: (performance.now() - start) / 1000 });
      answered?.();
    }
  };
  socket.on('data', (chunk: Buffer) => handle(dissector.data('server', chunk)));
  socket.on('end', () => {
    closed = true;
    answered?.();
    failed?.(new ReplayError('the target closed the connection during the handshake'));
  });
  socket.on('close', () => {
    closed = true;
    answered?.();
    failed?.(new ReplayError('the target closed the connection during the handshake'));
  });
  handle(dissector.start());
  const timer = setTimeout(() => failed?.(new ReplayError(`the target did not answer the handshake within ${wait / 1000} s`)), wait);
  send(socket, dissector, handle, Buffer.from(request(recording, options.target), 'latin1'));
  try {
    await upgrade;
  } finally {
    clearTimeout(timer);
    failed = null;
  }
  /** Resolves when `count` answers are in, the connection closed, or `ms` passed. */
  const answersUpTo = (count: number, ms: number) =>
    new Promise<void>((resolve) => {
      if (answers.length >= count || closed) return resolve();
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        answered = null;
        resolve();
      }
      answered = () => {
        if (answers.length >= count || closed) done();
      };
    });
  for (const [i, message] of recording.client.entries()) {
    if (closed) break;
    if (options.fast) await answersUpTo(recording.answeredBefore[i]!, 1000);
    else {
      const due = start + message.at * 1000 - performance.now();
      if (due > 0) await new Promise((resolve) => setTimeout(resolve, due));
    }
    if (closed) break;
    send(socket, dissector, handle, frame(message, recording.deflate));
  }
  if (!options.fast) {
    const last = recording.server.at(-1)?.at ?? 0;
    const due = start + last * 1000 - performance.now();
    if (due > 0) await answersUpTo(recording.server.length, due);
  }
  await answersUpTo(recording.server.length, wait);
  if (!closed) {
    send(socket, dissector, handle, encodeFrame({ opcode: Opcode.Close, payload: closeBody(1000, 'replay done'), maskingKey: randomBytes(4) }));
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 1000);
      socket.once('close', () => (clearTimeout(t), resolve()));
      socket.end();
    });
  }
  socket.destroy();
  return { status, answers, verdicts: compareAnswers(recording.server, answers) };
}

function send(socket: Socket, dissector: ConnectionDissector, handle: (events: DissectEvent[]) => void, bytes: Uint8Array): void {
  if (socket.destroyed || socket.writableEnded) return;
  socket.write(bytes);
  handle(dissector.data('client' as Direction, bytes));
}

/** RFC 6455 §4.1: the opening handshake, with the recorded path, subprotocols and (maybe) deflate. */
function request(recording: Recording, target: ProxyTarget): string {
  const host = isIP(target.host) === 6 ? `[${target.host}]` : target.host;
  const defaultPort = target.tls ? 443 : 80;
  const lines = [
    `GET ${recording.path} HTTP/1.1`,
    `Host: ${host}${target.port === defaultPort ? '' : `:${target.port}`}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
    'Sec-WebSocket-Version: 13',
  ];
  if (recording.protocols.length > 0) lines.push(`Sec-WebSocket-Protocol: ${recording.protocols.join(', ')}`);
  // §7.1.1 of RFC 7692: with client_no_context_takeover each of our messages is compressed alone.
  if (recording.deflate) lines.push('Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover');
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** One client frame: masked with a fresh key (§5.3), compressed on its own when deflate was recorded (RFC 7692 §7.2.1). */
function frame(message: RecordedMessage, deflate: boolean): Uint8Array {
  const opcode = message.type === 'text' ? Opcode.Text : Opcode.Binary;
  if (!deflate) return encodeFrame({ opcode, payload: message.data, maskingKey: randomBytes(4) });
  const compressed = deflateRawSync(message.data, { finishFlush: zlibConstants.Z_SYNC_FLUSH });
  // §7.2.1: the 00 00 ff ff the sync flush ends with is taken off.
  return encodeFrame({ opcode, payload: compressed.subarray(0, compressed.length - 4), rsv1: true, maskingKey: randomBytes(4) });
}

function open(options: ReplayOptions, timeout: number): Promise<Socket> {
  const { target } = options;
  return new Promise((resolve, reject) => {
    const socket: Socket = target.tls
      ? tlsConnect({ host: target.host, port: target.port, ...(isIP(target.host) === 0 ? { servername: target.host } : {}), rejectUnauthorized: options.insecure !== true })
      : netConnect({ host: target.host, port: target.port });
    const timer = setTimeout(() => (socket.destroy(), reject(new ReplayError(`the target ${target.host}:${target.port} did not answer within ${timeout / 1000} s`))), timeout);
    socket.once(target.tls ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer);
      socket.off('error', onError);
      socket.on('error', () => {});
      resolve(socket);
    });
    const onError = (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new ReplayError(error.code === 'ECONNREFUSED' ? `the target ${target.host}:${target.port} refused the connection (nothing listens there)` : `the target ${target.host}:${target.port} failed: ${error.message}`));
    };
    socket.once('error', onError);
  });
}
