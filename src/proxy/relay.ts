/**
 * Forwarding between an accepted client and its upstream connection. Bytes go out first,
 * exactly as received, with backpressure: once `maxBuffered` bytes wait in the queue towards one
 * side (written by the relay, not yet taken by the kernel), reading from the other side is
 * paused until the queue is below that again, so a slow reader slows its writer and the relay
 * holds at most `maxBuffered` plus one read (at most 64 KiB) per direction (what stream.pipe
 * does, with the tap, half-close handling and an explicit bound added). A FIN is passed on as a
 * FIN (allowHalfOpen), a reset as a reset. With `idleTimeout`, a connection over which no byte
 * moved either way for that long is closed on both sides (FIN, then destroyed) and reported.
 * With `handshakeTimeout`, so is one whose client has not finished the header block of its
 * request within that time, or whose target has not finished the header block of its answer
 * within that time after: a client trickling its request a byte at a time holds a slot of
 * --max-connections, and each of its bytes would reset an idle timeout.
 *
 * What was forwarded goes to the tap through a TapQueue, which decodes it once the sockets that
 * are ready have been served: dissection never sits between a read and the write that forwards
 * it. Reading also pauses while that queue is at its bound (the dissection is behind by
 * `maxTapBacklog` bytes), so a proxy short of CPU slows its peers instead of growing.
 */
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Direction } from '../alerts.js';
import { captureClock, type ConnectionTap } from './tap.js';
import type { TapQueue } from './tap-queue.js';
import { Opcode } from '../websocket/constants.js';
import type { FramePoint } from '../websocket/frame-parser.js';
import { encodeMessage, FrameWalker } from './intercept/frames.js';
import { ARROW, closeBody } from './intercept/interceptor.js';

/** One side: the stream carrying the (decrypted) bytes, and the TCP socket below it to reset. */
export interface RelaySide {
  stream: Duplex;
  raw: Socket;
}

export interface RelayOptions {
  /** Where the tap's work goes: run after forwarding, in order, with a bounded backlog. */
  queue: TapQueue;
  /** One line for the view when a side resets or fails. */
  report: (message: string) => void;
  /** Bytes queued towards one side before reading from the other pauses. Default DEFAULT_MAX_BUFFERED. */
  maxBuffered?: number;
  /** Milliseconds without a byte either way after which the connection is closed; 0 or absent: never. */
  idleTimeout?: number;
  /** One line for the view when the idle timeout closes the connection. Default: `report`. */
  reportIdle?: (message: string) => void;
  /**
   * Milliseconds the client has to finish its request's header block, and the target then to
   * finish its answer's; 0 or absent: no deadline.
   */
  handshakeTimeout?: number;
  /** One line for the view when the handshake deadline closes the connection. Default: `report`. */
  reportHandshake?: (message: string) => void;
  /** One line for the view when the proxy closes a WebSocket connection with a Close of its own (goAway). */
  reportClosing?: (message: string) => void;
  /** A fault or script is loaded: the bytes go through this instead of straight on (src/proxy/intercept). */
  intercept?: (link: InterceptorLink) => RelayInterceptor;
}

/** What takes the bytes read from each side, instead of the relay writing them on untouched. */
export interface RelayInterceptor {
  data(from: Direction, chunk: Uint8Array): void;
  /** `from` sent its FIN: the interceptor calls `finish(from)` once what it holds from that side is out. */
  end(from: Direction): void;
  /** Bytes from `from` held by the interceptor, not yet written: they count against --max-buffered. */
  held(from: Direction): number;
  /** `from` reset the connection (or the proxy did, `from` 'server'): the other side is reset too. */
  reset(from: Direction): void;
  /** The connection is gone: drop what is held, stop timers. */
  dispose(): void;
  /** The proxy is stopping: a WebSocket connection gets a Close `code` of the proxy's own on both sides. */
  goAway?(code: number, reason: string): void;
}

/** How an interceptor sends on: `from`'s bytes (as they now are) to the other side, its FIN, and room again. */
export interface InterceptorLink {
  forward(from: Direction, bytes: Uint8Array): void;
  finish(from: Direction): void;
  room(from: Direction): void;
}

/**
 * One direction of a connection the proxy is closing (goAway): its bytes held until the
 * dissector says where its frames stand, then relayed up to the next frame boundary, then the
 * proxy's Close, then nothing (the peer had its Close).
 */
interface Leaving {
  walker: FrameWalker | null;
  held: Uint8Array[];
  heldBytes: number;
  /** The proxy's Close went out in this direction. */
  closed: boolean;
  /** The sender's answering Close was seen (said once). */
  answered: boolean;
  /** The sender's FIN came while its bytes were held. */
  ended: boolean;
}

/** The default of --max-buffered: 64 KiB per direction of each connection. */
export const DEFAULT_MAX_BUFFERED = 64 * 1024;

/** After an idle close (FIN both ways), how long the peers may take to close before they are destroyed. */
const IDLE_CLOSE_GRACE = 2000;

/**
 * A socket the relay has paused is not polled by the event loop, so a reset from its peer goes
 * unnoticed until it is read again, which, while the other peer takes nothing, is never. While
 * a side is held back, it is probed this often with an empty write: nothing goes on the wire,
 * but a pending reset surfaces as ECONNRESET and is passed on.
 */
const RESET_PROBE_INTERVAL = 500;
const EMPTY = Buffer.alloc(0);

/** The blank line that ends an HTTP header block (RFC 9112 §2.1). */
const HEAD_END = Buffer.from('\r\n\r\n');

/** Watches one direction's first bytes for the end of an HTTP header block, across reads. */
class HeadEnd {
  done = false;
  /** The last bytes seen (at most 3): the blank line may straddle two reads. */
  private tail = Buffer.alloc(0);

  /** True once the header block has ended (in this chunk or before). */
  push(chunk: Buffer): boolean {
    if (this.done) return true;
    if (this.tail.length > 0 && Buffer.concat([this.tail, chunk.subarray(0, 3)]).includes(HEAD_END)) return (this.done = true);
    if (chunk.includes(HEAD_END)) return (this.done = true);
    this.tail = Buffer.from(chunk.length >= 3 ? chunk.subarray(chunk.length - 3) : Buffer.concat([this.tail, chunk]).subarray(-3));
    return false;
  }
}

const other = (d: Direction): Direction => (d === 'client' ? 'server' : 'client');
const NAMES: Record<Direction, string> = { client: 'client', server: 'target' };

/** Resets a TCP connection (RST); TLS streams are reset through their socket. */
export function resetSide(side: RelaySide): void {
  try {
    if (!side.raw.destroyed) side.raw.resetAndDestroy();
  } catch {
    side.raw.destroy();
  }
  side.stream.destroy();
}

export class ConnectionRelay {
  /** Resolves when both sides are closed and the tap has finished. */
  readonly done: Promise<void>;
  private aborted = false;
  private readonly sides: Record<Direction, RelaySide>;
  private resolveDone!: () => void;
  private open = 2;
  private readonly maxBuffered: number;
  private idleTimer: NodeJS.Timeout | null = null;
  /** Closing both sides already (idle, or the handshake deadline). */
  private closing = false;
  /** Until both header blocks have ended (see `handshakeTimeout`). */
  private handshakeTimer: NodeJS.Timeout | null = null;
  private readonly heads = { client: new HeadEnd(), server: new HeadEnd() };
  private readonly queue: TapQueue;
  private readonly interceptor: RelayInterceptor | null;
  /** Each direction's way to resume reading once the queue ahead of it has room. */
  private readonly releases: Partial<Record<Direction, () => void>> = {};
  /** Closing with a Close of the proxy's own (goAway), relayed untouched until then. */
  private leaving: Record<Direction, Leaving> | null = null;
  private farewell = { code: 1001, reason: '' };

  constructor(
    readonly conn: number,
    client: RelaySide,
    server: RelaySide,
    private readonly tap: ConnectionTap,
    private readonly options: RelayOptions,
  ) {
    this.sides = { client, server };
    this.queue = options.queue;
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    this.maxBuffered = Math.max(1, options.maxBuffered ?? DEFAULT_MAX_BUFFERED);
    this.interceptor = options.intercept?.({
      forward: (from, bytes) => {
        const dst = this.sides[other(from)].stream;
        if (dst.destroyed || dst.writableEnded) return;
        dst.write(bytes, this.releases[from]);
        this.queue.data(this.tap, from, bytes, captureClock());
      },
      finish: (from) => {
        this.queue.end(this.tap, from, captureClock());
        const dst = this.sides[other(from)].stream;
        if (!dst.destroyed) dst.end();
      },
      room: (from) => this.releases[from]?.(),
    }) ?? null;
  }

  /** Bytes relayed but still queued in the proxy (not yet taken by the kernel), both directions. */
  get buffered(): number {
    let total = 0;
    for (const { stream, raw } of Object.values(this.sides)) {
      total += stream.writableLength;
      if (raw !== stream) total += raw.writableLength;
    }
    return total;
  }

  /** Wires both directions and starts reading. */
  start(): void {
    for (const from of ['client', 'server'] as const) this.pump(from);
    for (const side of ['client', 'server'] as const) {
      const { stream, raw } = this.sides[side];
      stream.on('error', (error: NodeJS.ErrnoException) => this.failed(side, error));
      if (raw !== stream) raw.on('error', (error: NodeJS.ErrnoException) => this.failed(side, error));
      stream.once('close', () => {
        raw.destroy();
        if (--this.open === 0) {
          this.stopTimers();
          this.interceptor?.dispose();
          this.queue.close(this.tap, captureClock(), this.resolveDone);
        }
      });
    }
    const idle = this.options.idleTimeout ?? 0;
    if (idle > 0) {
      this.idleTimer = setTimeout(() => this.idleClose(idle), idle);
      this.idleTimer.unref();
    }
    const handshake = this.options.handshakeTimeout ?? 0;
    if (handshake > 0) {
      this.handshakeTimer = setTimeout(() => this.handshakeExpired(handshake), handshake);
      this.handshakeTimer.unref();
    }
    // The client was accepted paused (pauseOnConnect): a 'data' listener alone does not start it.
    this.sides.client.stream.resume();
    this.sides.server.stream.resume();
  }

  /** Resets both sides (the proxy is stopping); recorded as a reset by the server side. */
  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    this.stopTimers();
    this.interceptor?.reset('server');
    this.queue.reset(this.tap, 'server', captureClock());
    resetSide(this.sides.client);
    resetSide(this.sides.server);
  }

  /**
   * The proxy is stopping (RFC 6455 §7.4.1, 1001 "going away"): each side of a WebSocket
   * connection gets a Close `code` from the proxy, the client's unmasked as from the server,
   * the target's masked as from the client (§5.3), each at the next frame boundary of the
   * stream it joins, never inside a frame; what the peers send after that, their answering
   * Close included, is not passed on: each has had its Close. They then end TCP as after any
   * closing handshake (§7.1.1: the server first, its FIN passed on to the client). Connections
   * that are not WebSocket, or are closing already, are left as they are.
   */
  goAway(code: number, reason: string): void {
    if (this.aborted || this.closing || this.leaving !== null) return;
    if (this.interceptor !== null) return this.interceptor.goAway?.(code, reason);
    const side = (): Leaving => ({ walker: null, held: [], heldBytes: 0, closed: false, answered: false, ended: false });
    const leaving = { client: side(), server: side() };
    this.leaving = leaving;
    this.farewell = { code, reason };
    // Where the frames stand is known once the dissection has caught up with what was relayed.
    this.queue.after(this.tap, () => this.tap.framing((points) => (this.leaving === leaving ? this.depart(points) : undefined)));
  }

  private depart(points: Record<Direction, FramePoint> | null): void {
    const leaving = this.leaving!;
    const { code, reason } = this.farewell;
    const open = (['client', 'server'] as const).every((d) => !leaving[d].ended && !this.sides[d].stream.writableEnded);
    if (this.aborted || this.closing || points === null || !open) {
      // Not WebSocket, or closing already: relayed on as before.
      this.leaving = null;
      for (const from of ['client', 'server'] as const) {
        for (const chunk of leaving[from].held) this.relayOn(from, chunk);
        if (leaving[from].ended) this.passEnd(from);
        this.releases[from]?.();
      }
      return;
    }
    this.options.reportClosing?.(`#${this.conn}: the proxy is stopping: it sends Close ${code} "${reason}" to both sides (each at a frame boundary), waits for their answers, then ends.`);
    for (const from of ['client', 'server'] as const) {
      const side = leaving[from];
      side.walker = new FrameWalker(points[from]);
      if (side.walker.atBoundary) this.sendClose(from);
      const held = side.held;
      side.held = [];
      side.heldBytes = 0;
      for (const chunk of held) this.leave(from, chunk);
      this.releases[from]?.();
    }
  }

  /** A chunk read from `from` while the proxy closes the connection. */
  private leave(from: Direction, chunk: Uint8Array): void {
    const side = this.leaving![from];
    const walker = side.walker;
    if (walker === null) {
      side.held.push(chunk);
      side.heldBytes += chunk.length;
      return;
    }
    let rest = chunk;
    if (!side.closed) {
      const end = walker.next(chunk);
      this.relayOn(from, end < 0 ? chunk : chunk.subarray(0, end));
      if (end < 0) return;
      this.sendClose(from);
      rest = chunk.subarray(end);
    }
    for (let at = 0; (at = walker.next(rest, at)) >= 0; ) {
      if (walker.opcode !== Opcode.Close || side.answered) continue;
      side.answered = true;
      this.options.reportClosing?.(`#${this.conn} ${ARROW[from]}: the ${NAMES[from]}'s Close${walker.code !== null ? ` ${walker.code}` : ''} answers the proxy's; not passed on.`);
    }
  }

  /** The proxy's own Close, in `from`'s stream: towards the target masked as the client's frames are (§5.3). */
  private sendClose(from: Direction): void {
    this.leaving![from].closed = true;
    const { code, reason } = this.farewell;
    for (const frame of encodeMessage(Opcode.Close, closeBody(code, reason), { masked: from === 'client' })) this.relayOn(from, frame);
  }

  /** Bytes from `from` go on to the other side, then to the tap. */
  private relayOn(from: Direction, bytes: Uint8Array): void {
    const dst = this.sides[other(from)].stream;
    if (bytes.length === 0 || dst.destroyed || dst.writableEnded) return;
    dst.write(bytes, this.releases[from]);
    this.queue.data(this.tap, from, bytes, captureClock());
  }

  /** `from` sent its FIN: passed on. */
  private passEnd(from: Direction): void {
    this.queue.end(this.tap, from, captureClock());
    const dst = this.sides[other(from)].stream;
    if (!dst.destroyed) dst.end();
  }

  private pump(from: Direction): void {
    const src = this.sides[from].stream;
    const dst = this.sides[other(from)].stream;
    const queue = this.queue;
    const maxBuffered = this.maxBuffered;
    const interceptor = this.interceptor;
    const backlog = interceptor === null ? () => dst.writableLength + (this.leaving?.[from].heldBytes ?? 0) : () => dst.writableLength + interceptor.held(from);
    // Paused because the queue towards `dst` is full (resumed as it empties: a write's callback
    // runs once that chunk is flushed, 'drain' once the queue is empty), or because the tap's
    // backlog is (resumed once it is down to half).
    let held = false;
    let probe: NodeJS.Timeout | null = null;
    const stopProbe = () => {
      if (probe !== null) clearInterval(probe);
      probe = null;
    };
    const release = () => {
      if (!held || backlog() >= maxBuffered) return;
      if (queue.shouldHold(this.tap)) return void queue.onRoom(release);
      held = false;
      stopProbe();
      src.resume();
    };
    const hold = () => {
      held = true;
      src.pause();
      probe = setInterval(() => {
        // Only when nothing is queued towards it (a pending write already watches it) and it may still be written.
        if (src.writable && src.writableLength === 0) src.write(EMPTY);
      }, RESET_PROBE_INTERVAL);
      probe.unref();
      if (backlog() < maxBuffered) queue.onRoom(release);
    };
    this.releases[from] = release;
    src.on('data', (chunk: Buffer) => {
      if (dst.destroyed || dst.writableEnded) return;
      this.idleTimer?.refresh();
      if (this.handshakeTimer !== null) this.sawHead(from, chunk);
      // Forward first; the tap gets the chunk once it has been handed to the other side, and
      // decodes it after the sockets that are ready have been served.
      if (interceptor !== null) interceptor.data(from, chunk);
      else if (this.leaving !== null) this.leave(from, chunk);
      else {
        dst.write(chunk, release);
        queue.data(this.tap, from, chunk, captureClock());
      }
      if (!held && (backlog() >= maxBuffered || queue.shouldHold(this.tap))) hold();
    });
    src.once('close', () => {
      stopProbe();
      queue.offRoom(release);
    });
    dst.on('drain', release);
    src.on('end', () => {
      if (interceptor !== null) return interceptor.end(from);
      if (this.leaving !== null && this.leaving[from].walker === null) return void (this.leaving[from].ended = true);
      this.passEnd(from);
    });
  }

  /** No byte moved either way for `idle` ms: both sides are closed. */
  private idleClose(idle: number): void {
    this.idleTimer = null;
    this.closeBoth(this.options.reportIdle ?? this.options.report, `#${this.conn}: no bytes either way for ${idle / 1000} s (--idle-timeout): both sides closed.`, idle);
  }

  /** The client's request, then the target's answer, must end their header blocks in time. */
  private sawHead(from: Direction, chunk: Buffer): void {
    const head = this.heads[from];
    if (head.done || !head.push(chunk)) return;
    if (this.heads.client.done && this.heads.server.done) {
      clearTimeout(this.handshakeTimer!);
      this.handshakeTimer = null;
    } else if (from === 'client') {
      // The target has the whole time again to answer.
      this.handshakeTimer!.refresh();
    }
  }

  private handshakeExpired(timeout: number): void {
    this.handshakeTimer = null;
    const late = this.heads.client.done ? 'the target did not finish the header of its answer' : 'the client did not finish the header of its request';
    this.closeBoth(this.options.reportHandshake ?? this.options.report, `#${this.conn}: ${late} within ${timeout / 1000} s (--handshake-timeout): both sides closed.`, timeout);
  }

  /**
   * Reports why, passes a FIN to both sides (and records it as each side sees it: the target's
   * FIN to the client, the client's to the target), drops whatever still arrives, and destroys
   * what is not closed after a short grace (at most `waited`).
   */
  private closeBoth(report: (message: string) => void, message: string, waited: number): void {
    if (this.aborted || this.closing) return;
    this.closing = true;
    this.stopTimers();
    report(message);
    const ts = captureClock();
    for (const side of ['server', 'client'] as const) this.queue.end(this.tap, side, ts);
    const timer = setTimeout(() => {
      for (const side of ['client', 'server'] as const) this.sides[side].stream.destroy();
    }, Math.min(IDLE_CLOSE_GRACE, waited));
    timer.unref();
    void this.done.then(() => clearTimeout(timer));
    for (const side of ['client', 'server'] as const) {
      const { stream } = this.sides[side];
      stream.end();
      stream.resume(); // read and discard until the peer's FIN, so the socket can close
    }
  }

  private stopTimers(): void {
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    if (this.handshakeTimer !== null) clearTimeout(this.handshakeTimer);
    this.handshakeTimer = null;
  }

  /** A reset (or any socket error) on one side resets the other. */
  private failed(side: Direction, error: NodeJS.ErrnoException): void {
    if (this.aborted) return;
    this.aborted = true;
    this.stopTimers();
    if (this.closing) {
      // Closing already (idle, deadline); a peer answering the FIN with a reset needs no second line.
      resetSide(this.sides[other(side)]);
      this.sides[side].stream.destroy();
      return;
    }
    const what = error.code === 'ECONNRESET' ? 'reset the connection' : error.code === 'EPIPE' ? 'closed the connection while data was still being sent to it' : `failed (${error.message})`;
    this.options.report(`#${this.conn}: the ${NAMES[side]} ${what}; the ${NAMES[other(side)]} connection was reset too.`);
    this.interceptor?.reset(side);
    this.queue.reset(this.tap, side, captureClock());
    resetSide(this.sides[other(side)]);
    this.sides[side].stream.destroy();
  }
}
