/**
 * The active side of the proxy, for one connection: what the relay does instead of forwarding
 * bytes untouched, once a fault (or a script) is loaded. Without one the relay never creates it.
 *
 * The handshake is relayed as it came (a script's connection has its permessage-deflate offer
 * taken out, see script.ts); the connection is intercepted only after a 101 answering a
 * WebSocket upgrade, and relayed untouched otherwise (a notice says so). Then each direction is
 * cut into frames and messages (frames.ts); each unit goes on as the exact bytes it came as,
 * unless a fault (or the script) changes it: dropped, held back, re-framed, or a Close of the
 * proxy's own. Re-framed client frames get fresh random masking keys (RFC 6455 §5.3). What goes
 * on leaves through an Outbox per direction, in order, delayed or throttled as asked; the relay
 * hands it to the socket and to the tap, so the live view dissects what the receiver got.
 */
import type { Direction } from '../../alerts.js';
import { HttpHeadParser, headerValues, tokenList, type HttpRequest, type HttpResponse } from '../../http/http-parser.js';
import { Opcode } from '../../websocket/constants.js';
import type { InterceptorLink, RelayInterceptor } from '../relay.js';
import type { FaultOptions } from './faults.js';
import { encodeMessage, FrameSplitter, UnitAssembler, type RawFrame, type Unit } from './frames.js';
import { Outbox } from './outbox.js';

export interface InterceptOptions {
  faults: FaultOptions;
  /** Largest message held whole (bytes); a larger one is relayed untouched, with the rest of its direction. */
  maxMessage: number;
  /** One line for the live view (a `notice` event with this code). */
  report: (code: string, message: string) => void;
  /** Random numbers for jitter (tests pass their own). */
  random?: () => number;
}

/** The words the live view uses for a direction: who sent it, and to whom it goes. */
export const ARROW: Record<Direction, string> = { client: 'client→target', server: 'target→client' };
const other = (d: Direction): Direction => (d === 'client' ? 'server' : 'client');

type Phase = 'http' | 'wait' | 'ws' | 'through';

const CONTROL_NAMES: Record<number, string> = { [Opcode.Close]: 'Close', [Opcode.Ping]: 'Ping', [Opcode.Pong]: 'Pong' };

function unitName(opcode: number): string {
  if (opcode === Opcode.Text) return 'text message';
  if (opcode === Opcode.Binary) return 'binary message';
  return CONTROL_NAMES[opcode] ?? `frame (opcode 0x${opcode.toString(16)})`;
}

function isWebSocketUpgrade(request: HttpRequest): boolean {
  return tokenList(headerValues(request.headers, 'upgrade')).some((token) => token.toLowerCase() === 'websocket');
}

function concat(chunks: Uint8Array[]): Uint8Array {
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

/** §5.5.1: a Close body is the code (2 bytes, network order) and a UTF-8 reason. */
export function closeBody(code: number, reason: string): Uint8Array {
  const text = Buffer.from(reason, 'utf8').subarray(0, 123);
  const body = Buffer.alloc(2 + text.length);
  body.writeUInt16BE(code, 0);
  text.copy(body, 2);
  return body;
}

export class ConnectionInterceptor implements RelayInterceptor {
  private readonly phase: Record<Direction, Phase> = { client: 'http', server: 'http' };
  private readonly heads: { client: HttpHeadParser; server: HttpHeadParser };
  private readonly headBytes: Record<Direction, Uint8Array[]> = { client: [], server: [] };
  /** Client bytes sent after the upgrade request, before its answer. */
  private waiting: Uint8Array[] = [];
  private waitingBytes = 0;
  private readonly outbox: Record<Direction, Outbox>;
  private readonly splitters: Record<Direction, FrameSplitter>;
  private readonly assemblers: Record<Direction, UnitAssembler>;
  /** A Close has gone to that side (passed on or the proxy's own). */
  private readonly closeSentTo: Record<Direction, boolean> = { client: false, server: false };
  /** The proxy began a closing handshake of its own: what the peers send is not passed on. */
  private closedByProxy = false;
  private messages = 0;
  private readonly faults: FaultOptions;
  private readonly random: () => number;
  request: HttpRequest | null = null;
  response: HttpResponse | null = null;

  constructor(
    readonly conn: number,
    private readonly link: InterceptorLink,
    private readonly options: InterceptOptions,
  ) {
    this.faults = options.faults;
    this.random = options.random ?? Math.random;
    this.heads = { client: new HttpHeadParser('request'), server: new HttpHeadParser('response') };
    const rate = this.faults.throttle;
    const make = (from: Direction) =>
      new Outbox((bytes) => link.forward(from, bytes), {
        ...(rate !== undefined ? { rate } : {}),
        onRoom: () => link.room(from),
        onThrottled: (waiting) => options.report('proxy.throttled', `#${conn} ${ARROW[from]}: ${waiting} bytes waiting, sent on at ${rate} bytes/s (--throttle).`),
      });
    this.outbox = { client: make('client'), server: make('server') };
    this.splitters = { client: new FrameSplitter(options.maxMessage), server: new FrameSplitter(options.maxMessage) };
    this.assemblers = { client: new UnitAssembler(options.maxMessage), server: new UnitAssembler(options.maxMessage) };
  }

  held(from: Direction): number {
    return this.outbox[from].held + (from === 'client' ? this.waitingBytes : 0);
  }

  data(from: Direction, chunk: Uint8Array): void {
    switch (this.phase[from]) {
      case 'through':
        return this.outbox[from].push(chunk);
      case 'wait':
        this.waiting.push(chunk);
        this.waitingBytes += chunk.length;
        return;
      case 'http':
        return this.http(from, chunk);
      case 'ws':
        return this.frames(from, chunk);
    }
  }

  end(from: Direction): void {
    if (this.phase[from] === 'http') this.outbox[from].push(concat(this.headBytes[from].splice(0)));
    if (this.phase[from] === 'ws') {
      const left = this.splitters[from].end();
      for (const unit of this.assemblers[from].end()) this.unit(from, unit);
      this.outbox[from].push(left);
    }
    if (from === 'client' && this.phase.client === 'wait') this.releaseWaiting(false);
    this.outbox[from].whenEmpty(() => this.link.finish(from));
  }

  dispose(): void {
    this.outbox.client.dispose();
    this.outbox.server.dispose();
    this.waiting = [];
    this.waitingBytes = 0;
  }

  // --- the handshake -------------------------------------------------------------------------

  private http(from: Direction, chunk: Uint8Array): void {
    this.headBytes[from].push(chunk);
    const result = this.heads[from].push(chunk);
    if (result.state === 'need-more') return;
    const all = concat(this.headBytes[from].splice(0));
    if (result.state === 'error') return this.passThrough(from, all, 'its handshake is not HTTP');
    const head = all.subarray(0, all.length - result.rest.length);
    if (from === 'client') {
      const request = result.head as HttpRequest;
      if (!isWebSocketUpgrade(request)) return this.passThrough(from, all, `its first request (${request.method} ${request.target}) is not a WebSocket upgrade`);
      this.request = request;
      this.outbox.client.push(head);
      this.phase.client = 'wait';
      if (result.rest.length > 0) this.data('client', result.rest);
      return;
    }
    const response = result.head as HttpResponse;
    if (response.status >= 100 && response.status < 200 && response.status !== 101) {
      // An interim answer (RFC 9110 §15.2): the real one follows.
      this.outbox.server.push(head);
      this.heads.server.reset(0);
      if (result.rest.length > 0) this.http('server', result.rest);
      return;
    }
    if (response.status !== 101 || this.request === null) return this.passThrough(from, all, `the upgrade was answered ${response.status} ${response.reason}`.trimEnd());
    this.response = response;
    this.outbox.server.push(head);
    this.phase.server = 'ws';
    this.releaseWaiting(true);
    if (result.rest.length > 0) this.frames('server', result.rest);
  }

  /** The upgrade was answered: the client's held bytes are frames (after a 101) or go on untouched. */
  private releaseWaiting(upgraded: boolean): void {
    const held = this.waiting;
    this.waiting = [];
    this.waitingBytes = 0;
    this.phase.client = upgraded ? 'ws' : 'through';
    for (const chunk of held) this.data('client', chunk);
    this.link.room('client');
  }

  /** The connection is relayed untouched from here, both ways; said once. */
  private passThrough(from: Direction, bytes: Uint8Array, why: string): void {
    this.options.report('proxy.intercept-off', `#${this.conn}: ${why}: relayed untouched, without faults.`);
    this.phase[from] = 'through';
    this.outbox[from].push(bytes);
    const to = other(from);
    if (this.phase[to] === 'http') {
      this.phase[to] = 'through';
      this.outbox[to].push(concat(this.headBytes[to].splice(0)));
    }
    if (this.phase.client === 'wait') this.releaseWaiting(false);
  }

  // --- frames and messages -------------------------------------------------------------------

  private frames(from: Direction, chunk: Uint8Array): void {
    const { frames, through } = this.splitters[from].push(chunk);
    for (const frame of frames) for (const unit of this.assemblers[from].push(frame)) this.unit(from, unit);
    if (through !== null) {
      if (this.phase[from] === 'ws') {
        this.phase[from] = 'through';
        this.options.report('proxy.intercept-off', `#${this.conn} ${ARROW[from]}: a frame larger than ${this.options.maxMessage} bytes (--max-message): this direction is relayed untouched from here.`);
        for (const unit of this.assemblers[from].end()) this.unit(from, unit);
      }
      this.outbox[from].push(through);
    }
  }

  private unit(from: Direction, unit: Unit): void {
    if (unit.kind === 'stray') return this.send(from, unit.frames.map((f) => f.raw), 0);
    if (this.closedByProxy) return this.absorbed(from, unit);
    if (unit.kind === 'control') return this.control(from, unit.frame);
    this.message(from, unit);
  }

  private control(from: Direction, frame: RawFrame): void {
    const faults = this.faults;
    if ((frame.opcode === Opcode.Ping && faults.dropPings) || (frame.opcode === Opcode.Pong && faults.dropPongs)) {
      const option = frame.opcode === Opcode.Ping ? '--drop-pings' : '--drop-pongs';
      this.options.report('proxy.dropped', `#${this.conn} ${ARROW[from]}: ${unitName(frame.opcode)} (${frame.payload.length} bytes) dropped (${option}).`);
      return;
    }
    if (frame.opcode === Opcode.Close) this.closeSentTo[other(from)] = true;
    this.send(from, [frame.raw], this.delay(from, frame.opcode));
  }

  private message(from: Direction, unit: Extract<Unit, { kind: 'message' }>): void {
    const fragment = this.faults.fragment;
    let wire = unit.frames.map((f) => f.raw);
    if (fragment !== undefined) {
      wire = encodeMessage(unit.opcode, unit.data, { masked: from === 'client', rsv: unit.frames[0]!.rsv, fragment });
      this.options.report('proxy.fragmented', `#${this.conn} ${ARROW[from]}: ${unitName(unit.opcode)} of ${unit.data.length} bytes${unit.compressed ? ' (compressed)' : ''} re-sent as ${wire.length} frame(s) of at most ${fragment} bytes (it came as ${unit.frames.length}) (--fragment).`);
    }
    this.send(from, wire, this.delay(from, unit.opcode));
    this.messages++;
    const closeAfter = this.faults.closeAfter;
    if (closeAfter !== undefined && this.messages === closeAfter.messages) {
      this.closeBoth(closeAfter.code, '', `after ${closeAfter.messages} message(s) (--close-after)`);
    }
  }

  /** The delay for one unit (0 without --delay), said in the live view. */
  private delay(from: Direction, opcode: number): number {
    const delay = this.faults.delay;
    if (delay === undefined) return 0;
    const ms = Math.round(delay.min + (delay.max - delay.min) * this.random());
    this.options.report('proxy.delayed', `#${this.conn} ${ARROW[from]}: ${unitName(opcode)} held ${ms} ms (--delay).`);
    return ms;
  }

  private send(from: Direction, frames: Uint8Array[], delay: number): void {
    const at = delay > 0 ? performance.now() + delay : 0;
    for (const bytes of frames) this.outbox[from].push(bytes, at);
  }

  /**
   * Starts a closing handshake with each side (RFC 6455 §7.1.2), unless one is already under way:
   * a Close to the client as the server would send it, one to the target masked as the client
   * would. The peers' answers (and anything else they still send) end there: each has had its
   * Close from the proxy.
   */
  closeBoth(code: number, reason: string, why: string): void {
    if (this.closedByProxy || this.phase.client !== 'ws' || this.phase.server !== 'ws') return;
    if (this.closeSentTo.client || this.closeSentTo.server) return;
    this.closedByProxy = true;
    const body = closeBody(code, reason);
    this.send('server', encodeMessage(Opcode.Close, body, { masked: false }), 0);
    this.send('client', encodeMessage(Opcode.Close, body, { masked: true }), 0);
    this.closeSentTo.client = this.closeSentTo.server = true;
    this.options.report('proxy.closed', `#${this.conn}: the proxy sent Close ${code}${reason ? ` "${reason}"` : ''} to both sides ${why}.`);
  }

  private absorbed(from: Direction, unit: Unit): void {
    const opcode = unit.kind === 'control' ? unit.frame.opcode : unit.kind === 'message' ? unit.opcode : -1;
    if (opcode === Opcode.Close) this.options.report('proxy.closed', `#${this.conn} ${ARROW[from]}: the ${from === 'client' ? 'client' : 'target'}'s Close answers the proxy's; not passed on.`);
  }
}
