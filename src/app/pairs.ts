/**
 * Request/answer pairing, shared by every protocol: a Socket.IO event with an ack id and its
 * ACK, a JSON-RPC request and its response, an Engine.IO ping and its pong. A decoder files a
 * request under a key of its protocol; the answer from the other side with the same key finds
 * it, and gets the request's packet and the latency.
 *
 * Memory is bounded: at most `max` requests wait per pairing (a session's or a connection's);
 * beyond that the oldest is forgotten (and counted), so a peer that never answers cannot grow it.
 */
import type { Direction } from '../alerts.js';
import type { StreamPosition } from '../websocket/types.js';

interface Waiting {
  packet: number | null;
  ts: number | null;
  kind: string;
  name: string | null;
}

/** What an answer learns from its request. */
export interface Paired {
  replyTo: number | null;
  latencyMs: number | null;
  /** The kind of the request it answers ("event", "request", "ping" …). */
  requestKind: string;
  /** The request's name (its method, its event), when it had one. */
  requestName: string | null;
  /** True when the request is its sender's own (withdraw, ownProgress): this ends or feeds it, it does not answer it. */
  own?: boolean;
}

const DEFAULT_MAX = 4096;

/** Milliseconds between two capture timestamps, to the microsecond the capture gives. */
export function millisBetween(from: number | null | undefined, to: number | null | undefined): number | null {
  if (from === null || from === undefined || to === null || to === undefined) return null;
  return Math.round((to - from) * 1e6) / 1e3;
}

export class Pairs {
  private readonly waiting = new Map<string, Waiting>();
  /** Requests forgotten unanswered because too many were waiting. */
  forgotten = 0;

  constructor(private readonly max = DEFAULT_MAX) {}

  /**
   * `from` sent a request that expects an answer under `key`. Returns true when a request with
   * the same key from the same side was still waiting (the key was reused before its answer).
   */
  request(from: Direction, key: string, kind: string, at: StreamPosition, name: string | null = null): boolean {
    const id = slot(from, key);
    const reused = this.waiting.delete(id);
    if (!reused && this.waiting.size >= this.max) {
      const oldest = this.waiting.keys().next().value;
      if (oldest !== undefined) this.waiting.delete(oldest);
      this.forgotten++;
    }
    this.waiting.set(id, { packet: at.packet ?? null, ts: at.ts ?? null, kind, name });
    return reused;
  }

  /** `from` answered under `key`: the request it answers (now closed), or null when none waits. */
  answer(from: Direction, key: string, at: StreamPosition): Paired | null {
    const paired = this.progress(from, key, at);
    if (paired !== null) this.waiting.delete(slot(from === 'client' ? 'server' : 'client', key));
    return paired;
  }

  /**
   * `from` sent one of several answers under `key` (a SignalR stream item, a GraphQL `next`):
   * the request it belongs to, which keeps waiting for its last answer; null when none waits.
   */
  progress(from: Direction, key: string, at: StreamPosition): Paired | null {
    const request = this.waiting.get(slot(from === 'client' ? 'server' : 'client', key));
    if (request === undefined) return null;
    return { replyTo: request.packet, latencyMs: millisBetween(request.ts, at.ts), requestKind: request.kind, requestName: request.name };
  }

  /**
   * `from` itself ends the request it sent under `key` (a GraphQL client's `complete`, a
   * SignalR upload stream's completion): the request, no longer waiting, or null.
   */
  withdraw(from: Direction, key: string, at: StreamPosition): Paired | null {
    const paired = this.answer(from === 'client' ? 'server' : 'client', key, at);
    return paired && { ...paired, own: true };
  }

  /** `from` sent more of the request it sent under `key` (a SignalR upload stream's item): the request, still waiting. */
  ownProgress(from: Direction, key: string, at: StreamPosition): Paired | null {
    const paired = this.progress(from === 'client' ? 'server' : 'client', key, at);
    return paired && { ...paired, own: true };
  }

  /** Is a request from `from` waiting under `key`? */
  has(from: Direction, key: string): boolean {
    return this.waiting.has(slot(from, key));
  }

  /** Requests still waiting for their answer. */
  get outstanding(): number {
    return this.waiting.size;
  }
}

function slot(from: Direction, key: string): string {
  return from === 'client' ? `c${key}` : `s${key}`;
}

/**
 * "  answers packet 12 after 1.234 ms": what a summary line says of a paired answer; `verb`
 * says it otherwise for a message that ends or feeds its sender's own request (Paired.own).
 */
export function pairNote(paired: Paired | null, verb = 'answers'): string {
  if (paired === null) return '';
  const where = paired.replyTo !== null ? ` packet ${paired.replyTo}` : ` the ${paired.requestKind}`;
  return paired.latencyMs !== null ? `  ${verb}${where} after ${paired.latencyMs} ms` : `  ${verb}${where}`;
}
