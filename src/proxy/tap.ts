/**
 * The passive side of the proxy: what the relay forwarded, handed over after it was forwarded,
 * becomes dissection events (the same ConnectionDissector wsdump uses) and, with a recording,
 * packets of a synthesised TCP conversation in a pcap file. When recording, the bytes are fed to
 * the dissector segment by segment with the number of the packet that carries them, so the
 * packet numbers shown live are those wsdump shows for the file.
 *
 * Nothing here can stop the relay: every call is guarded, a failure becomes one notice event
 * and turns the tap off for that connection.
 */
import type { Writable } from 'node:stream';
import type { Direction } from '../alerts.js';
import { PcapStreamWriter } from '../capture/pcap-file-writer.js';
import { TcpConversationRecorder, type RecordedPacket } from '../capture/tcp-recorder.js';
import type { AppLayer } from '../app/layer.js';
import { ConnectionDissector } from '../engine/connection-dissector.js';
import type { DissectEvent, Endpoint } from '../engine/events.js';
import type { WorkBudget } from '../websocket/extension.js';
import type { FramePoint } from '../websocket/frame-parser.js';
import { HttpPatterns } from '../engine/http-patterns.js';
import type { Limits, StreamPosition } from '../websocket/types.js';
import { PingWatch } from './ping-watch.js';

/**
 * Seconds since the epoch at microsecond resolution, computed the way a pcap reader computes
 * it (seconds + microseconds / 1e6), so a timestamp survives the round trip through the file.
 */
export function captureClock(): number {
  const micros = Math.round((performance.timeOrigin + performance.now()) * 1000);
  return Math.floor(micros / 1e6) + (micros % 1e6) / 1e6;
}

export interface CaptureRecordingOptions {
  /**
   * Bytes the file may lag behind before recording stops (the disk is slower than the
   * traffic). Stopping, rather than slowing the relay or buffering without bound, keeps the
   * proxy transparent; the file stays readable up to that point. Default 64 MiB.
   */
  maxPendingBytes?: number;
  /** Told once why recording stopped. */
  onStop?: (reason: string) => void;
}

/** The shared pcap file of all connections: packets are numbered in the order they are written. */
export class CaptureRecording {
  private readonly writer: PcapStreamWriter;
  private readonly max: number;
  private stoppedBecause: string | null = null;

  constructor(
    private readonly sink: Writable,
    private readonly options: CaptureRecordingOptions = {},
  ) {
    this.writer = new PcapStreamWriter(sink);
    this.max = options.maxPendingBytes ?? 64 * 1024 * 1024;
  }

  get active(): boolean {
    return this.stoppedBecause === null;
  }

  /** Packets written so far. */
  get packets(): number {
    return this.writer.packets;
  }

  /** Writes packets; the number of the first one, or undefined when not recording. */
  write(packets: RecordedPacket[]): number | undefined {
    if (this.stoppedBecause !== null || packets.length === 0) return undefined;
    if (this.writer.error !== null) return this.stop(`the capture file failed: ${this.writer.error.message}`);
    if (this.sink.writableLength > this.max) return this.stop(`the capture file fell ${Math.round(this.sink.writableLength / 1048576)} MiB behind the traffic: recording stopped after packet ${this.writer.packets} (the file is valid up to there)`);
    const first = this.writer.packets + 1;
    this.writer.write(packets);
    return first;
  }

  /**
   * Flushes and closes the file. A failing disk is reported as the recording stopping (once:
   * usually it already was), never thrown: the relay did its job, the shutdown goes on.
   */
  async end(): Promise<void> {
    try {
      await this.writer.end();
    } catch (error) {
      if (this.stoppedBecause === null) this.stop(`the capture file failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  private stop(reason: string): undefined {
    this.stoppedBecause = reason;
    this.options.onStop?.(reason);
    return undefined;
  }
}

export interface ConnectionTapOptions {
  limits?: Partial<Limits>;
  /**
   * Inflating allowed per turn of the event loop (the TapQueue's). A message that needs more
   * suspends the dissection of its connection (see `suspended`) instead of holding up the relay.
   */
  budget?: WorkBudget;
  recording?: CaptureRecording | null;
  /** Receives every event; must not throw (the proxy wraps it). */
  emit: (event: DissectEvent) => void;
  /** The application layer the events pass through (shared by the proxy's connections), or none. */
  app?: AppLayer | null;
  clock?: () => number;
  /** Milliseconds a Ping may wait for its Pong before `onPingTimeout` is told; 0 or absent: never. */
  pingTimeout?: number;
  /** One line about a Ping unanswered past `pingTimeout`. */
  onPingTimeout?: (message: string) => void;
  /**
   * Without a recording, numbers each piece of traffic the tap is given (shared by all
   * connections), so live rows have a No. all the same: the order they crossed the proxy.
   */
  number?: () => number;
  /** The judge of HTTP exchange patterns the proxy's connections share. */
  httpPatterns?: HttpPatterns;
}

const DIRECTIONS: readonly Direction[] = ['client', 'server'];

export class ConnectionTap {
  private readonly dissector: ConnectionDissector;
  private recorder: TcpConversationRecorder | null = null;
  private readonly clock: () => number;
  private readonly ended = new Set<Direction>();
  private failed = false;
  private finished = false;
  private readonly pings: PingWatch | null;
  /** Dissection steps waiting behind a suspended message, in order (see `suspended`). */
  private waiting: (() => DissectEvent[])[] | null = null;
  /** Bytes (and steps) of this connection waiting in the TapQueue: kept by the queue, for its fairness. */
  queued = 0;

  constructor(
    readonly conn: number,
    readonly client: Endpoint,
    readonly server: Endpoint,
    private readonly options: ConnectionTapOptions,
  ) {
    this.dissector = new ConnectionDissector(conn, { ...(options.limits ? { limits: options.limits } : {}), ...(options.budget ? { budget: options.budget } : {}), keepPieces: true, clientAddress: client.ip, ...(options.httpPatterns ? { httpPatterns: options.httpPatterns } : {}), appEvents: Boolean(options.app) });
    this.clock = options.clock ?? captureClock;
    const timeout = options.pingTimeout ?? 0;
    this.pings = timeout > 0 && options.onPingTimeout ? new PingWatch(conn, timeout, options.onPingTimeout) : null;
  }

  /**
   * The upstream connection is established: the three-way handshake, and the `connection`
   * event. `ts` (default: now) is when it happened, for a caller that hands the tap its work later.
   */
  open(ts = this.clock()): void {
    let packet: number | undefined;
    const recording = this.options.recording;
    if (recording?.active) {
      this.guard('record', () => {
        this.recorder = new TcpConversationRecorder({ client: this.client, server: this.server });
        packet = recording.write(this.recorder.open(ts));
      });
    }
    const at = position(packet, ts);
    this.safeEmit({ type: 'connection', conn: this.conn, client: this.client, server: this.server, sawSyn: true, at });
    this.dissect(() => this.dissector.start(at));
  }

  /**
   * True while a message of this connection has run out of the inflate budget: its dissection
   * goes on with resume(), on a later turn. What comes meanwhile is recorded at once (packets
   * are numbered as they arrive) and dissected after it, in order.
   */
  get suspended(): boolean {
    return this.waiting !== null;
  }

  /** Goes on with the suspended dissection, as far as the budget allows (check `suspended` after). */
  resume(): void {
    const waiting = this.waiting;
    if (waiting === null) return;
    this.waiting = null;
    this.dissect(() => this.dissector.resume());
    for (let i = 0; i < waiting.length && !this.failed; i++) {
      if (this.dissector.suspended) {
        this.waiting = waiting.slice(i);
        return;
      }
      this.dissect(waiting[i]!);
    }
    if (this.dissector.suspended && !this.failed) this.waiting = [];
  }

  /** Bytes `from` sent, already forwarded (at `ts`, default now). */
  data(from: Direction, bytes: Uint8Array, ts = this.clock()): void {
    if (this.finished || bytes.length === 0) return;
    const recorder = this.recording(from);
    if (recorder === null) {
      const packet = this.options.recording ? undefined : this.options.number?.();
      this.step(() => this.dissector.data(from, bytes, position(packet, ts)));
      return;
    }
    for (let offset = 0; offset < bytes.length; offset += recorder.mss) {
      const segment = bytes.subarray(offset, Math.min(offset + recorder.mss, bytes.length));
      let packet: number | undefined;
      this.guard('record', () => {
        packet = this.options.recording!.write(recorder.data(from, segment, ts));
      });
      this.step(() => this.dissector.data(from, segment, position(packet, ts)));
    }
  }

  /**
   * `then` gets where each direction stands between frames once everything handed to the tap
   * so far is dissected (ConnectionDissector.framing): null for a connection that is not, or no
   * longer, plain WebSocket, or whose dissection failed.
   */
  framing(then: (points: Record<Direction, FramePoint> | null) => void): void {
    if (this.failed || this.finished) return then(null);
    this.step(() => {
      then(this.dissector.framing());
      return [];
    });
  }

  /** `from` half-closed its direction (FIN), already passed on (at `ts`, default now). */
  end(from: Direction, ts = this.clock()): void {
    if (this.finished || this.ended.has(from)) return;
    const recorder = this.recording(from);
    let packet: number | undefined;
    if (recorder !== null) this.guard('record', () => (packet = this.options.recording!.write(recorder.close(from, ts))));
    const at = position(packet, ts);
    this.ended.add(from);
    this.step(() => this.dissector.end(from, at));
    if (this.ended.size === 2) this.finish(at);
  }

  /** `from` reset the connection (RST): both directions end at once (RFC 9293 §3.10.7.3). */
  reset(from: Direction, ts = this.clock()): void {
    if (this.finished) return;
    let packet: number | undefined;
    const recorder = this.recorder;
    if (recorder !== null && this.options.recording?.active) this.guard('record', () => (packet = this.options.recording!.write(recorder.reset(from, ts))));
    this.recorder = null;
    const at = position(packet, ts);
    for (const direction of DIRECTIONS) {
      if (this.ended.has(direction)) continue;
      this.ended.add(direction);
      this.step(() => this.dissector.end(direction, at, { reason: 'rst', by: from }));
    }
    this.finish(at);
  }

  /** Both sockets are gone (at `ts`, default now): make sure the connection's summary is out. */
  close(ts = this.clock()): void {
    if (!this.finished) this.finish({ ts });
  }

  /** The summary follows the messages still being inflated (the dissector's finish waits for them). */
  private finish(at: StreamPosition): void {
    this.finished = true;
    this.pings?.stop();
    this.step(() => this.dissector.finish(at));
  }

  /** A step of the dissection: done now, or after what waits behind a suspended message. */
  private step(work: () => DissectEvent[]): void {
    if (this.waiting !== null) {
      this.waiting.push(work);
      return;
    }
    this.dissect(work);
    if (!this.failed && this.dissector.suspended) this.waiting = [];
  }

  private recording(from: Direction): TcpConversationRecorder | null {
    const recorder = this.recorder;
    if (recorder === null || !this.options.recording?.active || !recorder.canSend(from)) return null;
    return recorder;
  }

  private dissect(step: () => DissectEvent[]): void {
    if (this.failed) return;
    let events: DissectEvent[];
    try {
      events = step();
      if (this.options.app) events = this.options.app.process(events);
    } catch (error) {
      this.failed = true;
      this.safeEmit(notice('proxy.tap-failed', `#${this.conn}: the dissector failed (${describe(error)}); the connection is still relayed, but no longer decoded. Please report this bug.`, this.clock()));
      return;
    }
    for (const event of events) this.safeEmit(event);
  }

  /** A recording failure stops recording this connection, never the relay or the dissection. */
  private guard(what: 'record', step: () => void): void {
    try {
      step();
    } catch (error) {
      this.recorder = null;
      this.safeEmit(notice('proxy.record-failed', `#${this.conn}: could not ${what} this connection (${describe(error)}); it is still relayed and decoded.`, this.clock()));
    }
  }

  private safeEmit(event: DissectEvent): void {
    this.pings?.observe(event);
    this.options.emit(event);
  }
}

function position(packet: number | undefined, ts: number): StreamPosition {
  return packet !== undefined ? { packet, ts } : { ts };
}

export function notice(code: string, message: string, ts?: number): DissectEvent {
  return { type: 'notice', code, message, at: ts !== undefined ? { ts } : {} };
}

export function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
