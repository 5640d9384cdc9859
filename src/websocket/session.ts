import { makeAlert, sideOf, type Alert, type Direction } from '../alerts.js';
import { Opcode } from './constants.js';
import type { Extension, ExtensionDecoder, WorkBudget } from './extension.js';
import { RSV1 } from './extension.js';
import { FrameParser, type FramePoint } from './frame-parser.js';
import { HeartbeatTracker, type HeartbeatStats } from './heartbeat.js';
import { MessageAssembler } from './message-assembler.js';
import { checkFrameHeader, MaskingKeyTracker } from './rules.js';
import { withDefaults, type Frame, type Limits, type Message, type StreamPosition } from './types.js';

export type SessionEvent =
  | { type: 'frame'; frame: Frame }
  | { type: 'message'; message: Message }
  | { type: 'alert'; alert: Alert };

export interface WebSocketSessionOptions {
  limits?: Partial<Limits>;
  /** The extensions the handshake negotiated, in the order the server listed them. */
  extensions?: Extension[];
  /**
   * False when the handshake was not seen (decoding mid-stream): RSV bits cannot be judged and
   * the framing resynchronisation accepts RSV1, since permessage-deflate is the common case.
   */
  extensionsKnown?: boolean;
  /** False when the streams are joined mid-way: the parsers first look for a frame boundary. */
  synced?: boolean;
  /**
   * Decoding work allowed before control goes back to the caller (wsproxy's per-turn budget):
   * when a message's inflation runs out of it, the session is `suspended` and resume() goes on.
   */
  budget?: WorkBudget;
  /** Keep large payloads as views of the chunks pushed, built only when read (FrameParser's keepPieces). */
  keepPieces?: boolean;
}

function other(direction: Direction): Direction {
  return direction === 'client' ? 'server' : 'client';
}

const NO_DECODERS: readonly ExtensionDecoder[] = Object.freeze([]);

class HalfSession {
  readonly parser: FrameParser;
  readonly assembler: MessageAssembler;
  /** Where this side's first Close frame was (not the frame: its views would keep a read chunk alive). */
  closedAt: { offset: number; packet?: number } | null = null;

  /** `allowedRsv` is null when the negotiated extensions are unknown. */
  constructor(direction: Direction, limits: Readonly<Limits>, decoders: readonly ExtensionDecoder[], readonly allowedRsv: number | null, synced: boolean, keepPieces: boolean) {
    // While resynchronising, accept RSV1 when extensions are unknown: permessage-deflate is the usual case.
    this.parser = new FrameParser({ direction, limits, allowedRsv: allowedRsv ?? RSV1, synced, keepPieces });
    this.assembler = new MessageAssembler({ direction, limits, extensions: decoders });
  }
}

/**
 * The WebSocket phase of one connection: both directions' frame parsers and message
 * assemblers, the frame rules, and the rules that need both directions (Ping/Pong, the closing
 * handshake, masking key reuse). Pure: bytes in, events out, in stream order.
 */
export class WebSocketSession {
  private readonly halves: Record<Direction, HalfSession>;
  private readonly keys = new MaskingKeyTracker();
  /** Made at the first Ping or Pong: most connections never send one. */
  private heartbeats: HeartbeatTracker | null = null;
  private finished = false;
  /** The half whose message ran out of budget, and the work waiting behind it, in order (see `suspended`). */
  private suspendedHalf: HalfSession | null = null;
  private deferred: (() => SessionEvent[])[] | null = null;

  constructor(options: WebSocketSessionOptions = {}) {
    const limits = withDefaults(options.limits);
    const extensions = options.extensions ?? [];
    const known = options.extensionsKnown ?? true;
    const make = (direction: Direction): HalfSession => {
      // Without extensions both directions share one empty list (an array per direction of every open connection, else).
      const decoders = extensions.length === 0 ? NO_DECODERS : extensions.map((e) => e.createDecoder(direction, limits, options.budget));
      const mask = decoders.reduce((m, d) => m | d.rsvMask, 0);
      return new HalfSession(direction, limits, decoders, known ? mask : null, options.synced ?? true, options.keepPieces === true);
    };
    this.halves = { client: make('client'), server: make('server') };
  }

  /**
   * True when a message's decoding ran out of the work budget: what comes in meanwhile waits
   * (each call returns no event), and resume() goes on, in order. Never without a budget.
   */
  get suspended(): boolean {
    return this.deferred !== null;
  }

  /** Bytes of one direction's stream, in order. */
  push(direction: Direction, chunk: Uint8Array, pos?: StreamPosition): SessionEvent[] {
    if (this.deferred !== null) return this.perform([() => this.process(direction, sideOf(this.halves, direction).parser.push(chunk, pos))]);
    return this.process(direction, sideOf(this.halves, direction).parser.push(chunk, pos));
  }

  /** Whether `direction`'s parser holds bytes of a frame it has not placed yet (see FrameParser.holdsCandidate). */
  waiting(direction: Direction): boolean {
    return sideOf(this.halves, direction).parser.holdsCandidate;
  }

  /**
   * Where each direction stands between frames (FrameParser.resumePoint), for a relay that adds
   * a Close of its own; null once either side has sent a Close (a closing handshake is under
   * way, §7.1.2) or a direction cannot be followed.
   */
  framing(): Record<Direction, FramePoint> | null {
    const { client, server } = this.halves;
    if (this.finished || client.closedAt !== null || server.closedAt !== null) return null;
    const points = { client: client.parser.resumePoint(), server: server.parser.resumePoint() };
    return points.client !== null && points.server !== null ? { client: points.client, server: points.server } : null;
  }

  /** `size` bytes of one direction's stream were not captured. */
  gap(direction: Direction, size: number, pos?: StreamPosition): SessionEvent[] {
    return this.perform([() => this.process(direction, sideOf(this.halves, direction).parser.gap(size, pos))]);
  }

  /** One direction's stream ended (FIN, RST or end of capture). */
  end(direction: Direction, pos?: StreamPosition): SessionEvent[] {
    return this.perform(this.ending(direction, pos));
  }

  /**
   * The connection is over: end both directions, then the rules that can only be judged at the
   * end. `end` says when the connection ended (its first FIN or RST; default `pos`) and whether
   * TCP did end, or only the capture: how long it lived after an unanswered Ping.
   */
  finish(pos?: StreamPosition, end: { ts?: number | undefined; tcpEnded: boolean } = { ts: pos?.ts, tcpEnded: true }): SessionEvent[] {
    if (this.finished) return [];
    this.finished = true;
    return this.perform([...this.ending('client', pos), ...this.ending('server', pos), () => this.unanswered(end)]);
  }

  /** Goes on with a suspended message, then with what waited behind it, until done or suspended again. */
  resume(): SessionEvent[] {
    const events: SessionEvent[] = [];
    const half = this.suspendedHalf;
    if (half !== null) {
      for (const message of half.assembler.resume()) this.messageEvent(message, events);
      if (half.assembler.suspended) return events;
      this.suspendedHalf = null;
    }
    const deferred = this.deferred ?? [];
    this.deferred = null;
    while (deferred.length > 0) {
      for (const event of deferred.shift()!()) events.push(event);
      if (this.suspended) {
        // Suspended again: what is left waits behind what that step left.
        this.enqueue(deferred);
        return events;
      }
    }
    return events;
  }

  /** Runs `steps` in order, or keeps those that must wait behind a suspended message. */
  private perform(steps: (() => SessionEvent[])[]): SessionEvent[] {
    if (this.suspended) {
      this.enqueue(steps);
      return [];
    }
    const events: SessionEvent[] = [];
    for (let i = 0; i < steps.length; i++) {
      for (const event of steps[i]!()) events.push(event);
      if (this.suspended) {
        this.enqueue(steps.slice(i + 1));
        break;
      }
    }
    return events;
  }

  private enqueue(steps: (() => SessionEvent[])[]): void {
    this.deferred!.push(...steps);
  }

  /** The steps of one direction's end: the frame in progress, then a message left open. */
  private ending(direction: Direction, pos?: StreamPosition): (() => SessionEvent[])[] {
    const half = sideOf(this.halves, direction);
    return [() => this.process(direction, half.parser.end(pos)), () => half.assembler.end().map((message): SessionEvent => ({ type: 'message', message }))];
  }

  /** §5.5.1, §5.5.2: a Close or a Ping never answered, judged once the connection is over. */
  private unanswered(end: { ts?: number | undefined; tcpEnded: boolean }): SessionEvent[] {
    const events: SessionEvent[] = [];
    for (const direction of ['client', 'server'] as const) {
      const half = sideOf(this.halves, direction);
      const closer = half.closedAt;
      if (closer !== null && sideOf(this.halves, other(direction)).closedAt === null) {
        events.push({
          type: 'alert',
          alert: makeAlert('close.unanswered', `The ${direction}'s Close was never answered by the ${other(direction)} (the capture may have ended first).`, {
            direction,
            offset: closer.offset,
            ...(closer.packet !== undefined ? { packet: closer.packet } : {}),
          }),
        });
      }
      if (this.heartbeats !== null) for (const alert of this.heartbeats.finish(direction, end)) events.push({ type: 'alert', alert });
    }
    return events;
  }

  /** The Pings and Pongs of each side so far (RFC 6455 §5.5.2-§5.5.3). */
  heartbeatStats(): Record<Direction, HeartbeatStats | null> {
    return this.heartbeats?.stats() ?? { client: null, server: null };
  }

  private process(direction: Direction, frames: Frame[]): SessionEvent[] {
    const events: SessionEvent[] = [];
    const half = sideOf(this.halves, direction);
    for (let i = 0; i < frames.length; i++) {
      const frame = frames[i]!;
      const headerAlerts = checkFrameHeader(frame, { allowedRsv: half.allowedRsv });
      if (headerAlerts.length > 0) frame.alerts.unshift(...headerAlerts);
      const reuse = this.keys.check(frame);
      if (reuse !== null) frame.alerts.push(reuse);
      const messages = half.assembler.push(frame);
      if (frame.opcode === Opcode.Close && half.closedAt === null) half.closedAt = { offset: frame.offset, ...(frame.start.packet !== undefined ? { packet: frame.start.packet } : {}) };
      events.push({ type: 'frame', frame });
      for (const message of messages) this.messageEvent(message, events);
      if (half.assembler.suspended) {
        // The frame's message is still being decoded: the frames after it wait.
        this.suspendedHalf = half;
        this.deferred = i + 1 < frames.length ? [() => this.process(direction, frames.slice(i + 1))] : [];
        break;
      }
    }
    return events;
  }

  private messageEvent(message: Message, events: SessionEvent[]): void {
    if (message.opcode === Opcode.Ping) (this.heartbeats ??= new HeartbeatTracker()).ping(message);
    else if (message.opcode === Opcode.Pong) {
      const mismatch = (this.heartbeats ??= new HeartbeatTracker()).pong(message);
      if (mismatch !== null) message.alerts.push(mismatch);
    }
    events.push({ type: 'message', message });
  }
}
