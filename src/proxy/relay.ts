/**
 * Forwarding between an accepted client and its upstream connection. Bytes go out first,
 * exactly as received, with backpressure: when the writer's buffer is full the reader is paused
 * until 'drain', so a slow reader slows its writer and nothing buffers without bound (what
 * stream.pipe does, with the tap and half-close handling added). A FIN is passed on as a FIN
 * (allowHalfOpen), a reset as a reset.
 */
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Direction } from '../alerts.js';
import type { ConnectionTap } from './tap.js';

/** One side: the stream carrying the (decrypted) bytes, and the TCP socket below it to reset. */
export interface RelaySide {
  stream: Duplex;
  raw: Socket;
}

export interface RelayOptions {
  /** One line for the view when a side resets or fails. */
  report: (message: string) => void;
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

  constructor(
    readonly conn: number,
    client: RelaySide,
    server: RelaySide,
    private readonly tap: ConnectionTap,
    private readonly options: RelayOptions,
  ) {
    this.sides = { client, server };
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
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
          this.tap.close();
          this.resolveDone();
        }
      });
    }
    // The client was accepted paused (pauseOnConnect): a 'data' listener alone does not start it.
    this.sides.client.stream.resume();
    this.sides.server.stream.resume();
  }

  /** Resets both sides (the proxy is stopping); recorded as a reset by the server side. */
  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    this.tap.reset('server');
    resetSide(this.sides.client);
    resetSide(this.sides.server);
  }

  private pump(from: Direction): void {
    const src = this.sides[from].stream;
    const dst = this.sides[other(from)].stream;
    src.on('data', (chunk: Buffer) => {
      if (dst.destroyed || dst.writableEnded) return;
      // Forward first; the tap sees the chunk only once it has been handed to the other side.
      if (!dst.write(chunk)) src.pause();
      this.tap.data(from, chunk);
    });
    dst.on('drain', () => src.resume());
    src.on('end', () => {
      this.tap.end(from);
      if (!dst.destroyed) dst.end();
    });
  }

  /** A reset (or any socket error) on one side resets the other. */
  private failed(side: Direction, error: NodeJS.ErrnoException): void {
    if (this.aborted) return;
    this.aborted = true;
    const what = error.code === 'ECONNRESET' ? 'reset the connection' : error.code === 'EPIPE' ? 'closed the connection while data was still being sent to it' : `failed (${error.message})`;
    this.options.report(`#${this.conn}: the ${NAMES[side]} ${what}; the ${NAMES[other(side)]} connection was reset too.`);
    this.tap.reset(side);
    resetSide(this.sides[other(side)]);
    this.sides[side].stream.destroy();
  }
}
