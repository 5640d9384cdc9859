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
import type { AppLayer } from '../../app/layer.js';
import type { AppEvent } from '../../app/types.js';
import type { DissectEvent } from '../../engine/events.js';
import { HttpHeadParser, headerValues, tokenList, type HttpRequest, type HttpResponse } from '../../http/http-parser.js';
import { Opcode } from '../../websocket/constants.js';
import { decodeUtf8Lossy, isValidUtf8 } from '../../websocket/utf8.js';
import type { InterceptorLink, RelayInterceptor } from '../relay.js';
import { isSendableCloseCode, type FaultOptions } from './faults.js';
import { encodeMessage, FrameSplitter, UnitAssembler, type RawFrame, type Unit } from './frames.js';
import type { LegRecording } from './legs.js';
import { Outbox } from './outbox.js';
import { isThenable, type HookOutcome, type ScriptContext, type ScriptHost, type ScriptMessage } from './script.js';

export interface InterceptOptions {
  faults: FaultOptions;
  /** Largest message held whole (bytes); a larger one is relayed untouched, with the rest of its direction. */
  maxMessage: number;
  /** One line for the live view (a `notice` event with this code). */
  report: (code: string, message: string) => void;
  /** Random numbers for jitter (tests pass their own). */
  random?: () => number;
  /** A script's hooks: messages go through them, and permessage-deflate is negotiated away. */
  script?: ScriptHost | null;
  /** The application layer the script's `message.app` comes from (the proxy's own instance, not the tap's). */
  app?: AppLayer | null;
  /** With --write: both legs recorded as separate conversations (the tap then records nothing). */
  legs?: LegRecording | null;
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

/**
 * The request without its Sec-WebSocket-Extensions fields: the target then negotiates no
 * extension (RFC 6455 §9.1), so every message crosses uncompressed and a script's change needs
 * no compression context of the proxy's own.
 */
export function withoutExtensions(head: Uint8Array): Uint8Array {
  const text = Buffer.from(head).toString('latin1');
  const lines = text.split('\r\n');
  const kept = lines.filter((line) => !/^sec-websocket-extensions[ \t]*:/i.test(line));
  return kept.length === lines.length ? head : Buffer.from(kept.join('\r\n'), 'latin1');
}

function concat(chunks: Uint8Array[]): Uint8Array {
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

function unitBytes(unit: Unit): number {
  let n = 0;
  for (const frame of unit.kind === 'control' ? [unit.frame] : unit.frames) n += frame.raw.length;
  return n;
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
  private readonly script: ScriptHost | null;
  private ctx: ScriptContext | null = null;
  /** A hook's promise is pending for that direction: what arrives waits behind it, in order. */
  private readonly busy: Record<Direction, boolean> = { client: false, server: false };
  private readonly later: Record<Direction, (() => void)[]> = { client: [], server: [] };
  private readonly laterBytes: Record<Direction, number> = { client: 0, server: 0 };
  private disposed = false;

  constructor(
    readonly conn: number,
    private readonly link: InterceptorLink,
    private readonly options: InterceptOptions,
  ) {
    this.faults = options.faults;
    this.random = options.random ?? Math.random;
    this.script = options.script ?? null;
    const legs = options.legs ?? null;
    this.heads = { client: new HttpHeadParser('request'), server: new HttpHeadParser('response') };
    const rate = this.faults.throttle;
    const make = (from: Direction) =>
      new Outbox(legs === null ? (bytes) => link.forward(from, bytes) : (bytes) => (legs.sent(from, bytes), link.forward(from, bytes)), {
        ...(rate !== undefined ? { rate } : {}),
        onRoom: () => link.room(from),
        onThrottled: (waiting) => options.report('proxy.throttled', `#${conn} ${ARROW[from]}: ${waiting} bytes waiting, sent on at ${rate} bytes/s (--throttle).`),
      });
    this.outbox = { client: make('client'), server: make('server') };
    this.splitters = { client: new FrameSplitter(options.maxMessage), server: new FrameSplitter(options.maxMessage) };
    this.assemblers = { client: new UnitAssembler(options.maxMessage), server: new UnitAssembler(options.maxMessage) };
  }

  held(from: Direction): number {
    return this.outbox[from].held + this.laterBytes[from] + (from === 'client' ? this.waitingBytes : 0);
  }

  data(from: Direction, chunk: Uint8Array): void {
    this.options.legs?.received(from, chunk);
    this.take(from, chunk);
  }

  private take(from: Direction, chunk: Uint8Array): void {
    switch (this.phase[from]) {
      case 'through':
        if (this.busy[from]) return this.wait(from, chunk.length, () => this.outbox[from].push(chunk));
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
    this.options.legs?.ended(from, false);
    this.ended(from);
  }

  reset(from: Direction): void {
    this.options.legs?.reset(from);
  }

  private ended(from: Direction): void {
    if (this.busy[from]) return void this.later[from].push(() => this.ended(from));
    if (this.phase[from] === 'http') this.outbox[from].push(concat(this.headBytes[from].splice(0)));
    if (this.phase[from] === 'ws') {
      const left = this.splitters[from].end();
      for (const unit of this.assemblers[from].end()) this.unit(from, unit);
      this.outbox[from].push(left);
    }
    if (from === 'client' && this.phase.client === 'wait') this.releaseWaiting(false);
    this.outbox[from].whenEmpty(() => {
      this.options.legs?.ended(from, true);
      this.link.finish(from);
    });
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.outbox.client.dispose();
    this.outbox.server.dispose();
    this.waiting = [];
    this.waitingBytes = 0;
    for (const d of ['client', 'server'] as const) {
      this.later[d] = [];
      this.laterBytes[d] = 0;
    }
    const ctx = this.ctx;
    if (ctx !== null) {
      const onClose = this.script?.script.onClose;
      if (onClose) void this.script!.call('onClose', this.conn, () => onClose(ctx));
      this.options.app?.process([{ type: 'end', conn: this.conn, at: {}, alerts: { error: 0, warning: 0, info: 0 } } as unknown as DissectEvent]);
    }
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
      let sent = head;
      if (this.script !== null) {
        sent = withoutExtensions(head);
        if (sent !== head) this.options.report('proxy.extensions-withheld', `#${this.conn}: the client's extension offer (${headerValues(request.headers, 'sec-websocket-extensions').join(', ')}) is not passed on, so messages cross uncompressed both ways and the script sees them as sent (--script).`);
      }
      this.outbox.client.push(sent);
      this.phase.client = 'wait';
      if (result.rest.length > 0) this.take('client', result.rest);
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
    if (this.script !== null && headerValues(response.headers, 'sec-websocket-extensions').length > 0) return this.passThrough(from, all, 'the target agreed to an extension that was not offered');
    this.response = response;
    this.outbox.server.push(head);
    this.phase.server = 'ws';
    if (this.script !== null) this.open(this.request, response);
    this.releaseWaiting(true);
    if (result.rest.length > 0) this.frames('server', result.rest);
  }

  /** The upgrade was answered: the client's held bytes are frames (after a 101) or go on untouched. */
  private releaseWaiting(upgraded: boolean): void {
    const held = this.waiting;
    this.waiting = [];
    this.waitingBytes = 0;
    this.phase.client = upgraded ? 'ws' : 'through';
    for (const chunk of held) this.take('client', chunk);
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
      // Behind whatever a pending hook holds of this direction, never ahead of it.
      if (this.busy[from]) this.wait(from, through.length, () => this.outbox[from].push(through));
      else this.outbox[from].push(through);
    }
  }

  /** Runs `step` once the hook that direction waits on has answered. */
  private wait(from: Direction, bytes: number, step: () => void): void {
    this.laterBytes[from] += bytes;
    this.later[from].push(() => {
      this.laterBytes[from] -= bytes;
      step();
    });
  }

  private unit(from: Direction, unit: Unit): void {
    if (this.busy[from]) return this.wait(from, unitBytes(unit), () => this.unit(from, unit));
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
    const onMessage = this.script?.script.onMessage;
    const ctx = this.ctx;
    if (onMessage === undefined || ctx === null || (unit.opcode !== Opcode.Text && unit.opcode !== Opcode.Binary)) return this.apply(from, unit, undefined);
    const message = this.scriptMessage(from, unit);
    const outcome = this.script!.call('onMessage', this.conn, () => onMessage(message, { ...ctx, app: message.app }));
    if (!isThenable(outcome)) return this.apply(from, unit, outcome);
    this.busy[from] = true;
    void outcome.then((answer) => {
      this.busy[from] = false;
      if (this.disposed) return;
      this.apply(from, unit, answer as HookOutcome);
      const waiting = this.later[from];
      while (waiting.length > 0 && !this.busy[from]) waiting.shift()!();
      this.link.room(from);
    });
  }

  /** What the script's answer makes of a message, then what the faults do to it. */
  private apply(from: Direction, unit: Extract<Unit, { kind: 'message' }>, outcome: HookOutcome): void {
    let opcode = unit.opcode;
    let data: Uint8Array | null = null;
    let held = 0;
    if (outcome !== undefined) {
      if (outcome === null) {
        this.options.report('proxy.scripted', `#${this.conn} ${ARROW[from]}: ${unitName(opcode)} of ${unit.data.length} bytes dropped by the script.`);
        return;
      }
      const replacement = typeof outcome === 'string' || outcome instanceof Uint8Array ? outcome : typeof outcome === 'object' ? outcome.data : undefined;
      if (typeof outcome === 'object' && !(outcome instanceof Uint8Array)) {
        const delay = outcome.delay;
        if (delay !== undefined && !(typeof delay === 'number' && delay >= 0 && Number.isFinite(delay))) {
          this.script!.failure('onMessage', this.conn, new TypeError(`onMessage returned { delay: ${String(delay)} }: a delay is a number of milliseconds, 0 or more`));
        } else if (delay !== undefined) held = Math.round(delay);
        if (replacement !== undefined && typeof replacement !== 'string' && !(replacement instanceof Uint8Array)) {
          this.script!.failure('onMessage', this.conn, new TypeError('onMessage returned { data } that is neither a string nor bytes'));
        }
      } else if (typeof outcome !== 'string' && !(outcome instanceof Uint8Array)) {
        this.script!.failure('onMessage', this.conn, new TypeError(`onMessage returned ${typeof outcome}: expected nothing, null, a string, bytes or { delay }`));
      }
      if (typeof replacement === 'string') {
        opcode = Opcode.Text;
        data = Buffer.from(replacement, 'utf8');
      } else if (replacement instanceof Uint8Array) {
        opcode = Opcode.Binary;
        data = replacement;
      }
      if (data !== null) this.options.report('proxy.scripted', `#${this.conn} ${ARROW[from]}: ${unitName(unit.opcode)} of ${unit.data.length} bytes replaced by the script with a ${unitName(opcode)} of ${data.length} bytes.`);
      if (held > 0) this.options.report('proxy.scripted', `#${this.conn} ${ARROW[from]}: ${unitName(opcode)} held ${held} ms by the script.`);
    }
    const fragment = this.faults.fragment;
    let wire = unit.frames.map((f) => f.raw);
    if (data !== null || fragment !== undefined) {
      wire = encodeMessage(opcode, data ?? unit.data, { masked: from === 'client', rsv: data === null ? unit.frames[0]!.rsv : 0, ...(fragment !== undefined ? { fragment } : {}) });
    }
    if (fragment !== undefined) {
      this.options.report('proxy.fragmented', `#${this.conn} ${ARROW[from]}: ${unitName(opcode)} of ${(data ?? unit.data).length} bytes${unit.compressed && data === null ? ' (compressed)' : ''} re-sent as ${wire.length} frame(s) of at most ${fragment} bytes (it came as ${unit.frames.length}) (--fragment).`);
    }
    this.send(from, wire, held + this.delay(from, opcode));
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
    if (this.disposed || this.closedByProxy || this.phase.client !== 'ws' || this.phase.server !== 'ws') return;
    if (this.closeSentTo.client || this.closeSentTo.server) return;
    this.closedByProxy = true;
    const body = closeBody(code, reason);
    this.send('server', encodeMessage(Opcode.Close, body, { masked: false }), 0);
    this.send('client', encodeMessage(Opcode.Close, body, { masked: true }), 0);
    this.closeSentTo.client = this.closeSentTo.server = true;
    this.options.report('proxy.closed', `#${this.conn}: the proxy sent Close ${code}${reason ? ` "${reason}"` : ''} to both sides ${why}.`);
  }

  /** The proxy is stopping: Close `code` to both sides (RFC 6455 §7.4.1, 1001 "going away"), after what is on its way. */
  goAway(code: number, reason: string): void {
    this.closeBoth(code, reason, 'as it is stopping');
  }

  // --- the script ---------------------------------------------------------------------------

  /** The connection is upgraded: the script's context, and its onOpen. */
  private open(request: HttpRequest, response: HttpResponse): void {
    const protocol = headerValues(response.headers, 'sec-websocket-protocol')[0] ?? null;
    this.options.app?.process([{ type: 'handshake', conn: this.conn, upgraded: true, request: { target: request.target }, protocol } as unknown as DissectEvent]);
    this.ctx = {
      conn: this.conn,
      handshake: { method: request.method, path: request.target, requestHeaders: request.headers, status: response.status, responseHeaders: response.headers, protocol },
      app: [],
      state: {},
      send: (to, data) => this.inject(to, data),
      close: (code = 1000, reason = '') => {
        if (!isSendableCloseCode(code)) throw new RangeError(`ctx.close(${code}): not a close code an endpoint may send (1000-1003, 1007-1014, 3000-4999)`);
        this.closeBoth(code, String(reason), 'for the script');
      },
    };
    const onOpen = this.script?.script.onOpen;
    const ctx = this.ctx;
    if (onOpen) void this.script!.call('onOpen', this.conn, () => onOpen(ctx));
  }

  private scriptMessage(from: Direction, unit: Extract<Unit, { kind: 'message' }>): ScriptMessage {
    const data = Buffer.from(unit.data.buffer, unit.data.byteOffset, unit.data.byteLength);
    const text = unit.opcode === Opcode.Text && isValidUtf8(unit.data) ? decodeUtf8Lossy(unit.data) : undefined;
    let app: AppEvent[] = [];
    const layer = this.options.app;
    if (layer) {
      const message = { direction: from, opcode: unit.opcode, type: unit.opcode === Opcode.Text ? 'text' : 'binary', data: unit.data, ...(text !== undefined ? { text } : {}), truncated: false, compressed: false, inflated: false, start: {}, end: {}, alerts: [] };
      app = layer.process([{ type: 'message', conn: this.conn, message } as unknown as DissectEvent]).filter((e): e is AppEvent => e.type === 'app');
    }
    return { from, type: unit.opcode === Opcode.Text ? 'text' : 'binary', data, ...(text !== undefined ? { text } : {}), app };
  }

  /** ctx.send: a message of the proxy's own towards `to`, after what is already on its way there. */
  private inject(to: Direction, data: string | Uint8Array): boolean {
    if (to !== 'client' && to !== 'server') throw new TypeError(`ctx.send("${String(to)}", …): the side is "client" or "server"`);
    if (typeof data !== 'string' && !(data instanceof Uint8Array)) throw new TypeError('ctx.send: the message is a string or bytes');
    if (this.disposed || this.closedByProxy || this.closeSentTo[to]) return false;
    const from = other(to);
    const opcode = typeof data === 'string' ? Opcode.Text : Opcode.Binary;
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    this.options.report('proxy.injected', `#${this.conn} proxy→${to === 'client' ? 'client' : 'target'}: ${unitName(opcode)} of ${bytes.length} bytes sent by the script.`);
    // --fragment cuts every data message the proxy sends, its own included.
    const fragment = this.faults.fragment;
    this.send(from, encodeMessage(opcode, bytes, { masked: from === 'client', ...(fragment !== undefined ? { fragment } : {}) }), 0);
    return true;
  }

  private absorbed(from: Direction, unit: Unit): void {
    const opcode = unit.kind === 'control' ? unit.frame.opcode : unit.kind === 'message' ? unit.opcode : -1;
    if (opcode === Opcode.Close) this.options.report('proxy.closed', `#${this.conn} ${ARROW[from]}: the ${from === 'client' ? 'client' : 'target'}'s Close answers the proxy's; not passed on.`);
  }
}
