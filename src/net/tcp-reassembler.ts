/**
 * TCP reassembly (RFC 9293 §3.4, §3.10.7): turns segments into two ordered byte streams per
 * connection, as Zeek's and gopacket's reassemblers do. One half-connection per direction
 * holds its next expected sequence number and a sorted out-of-order queue bounded in bytes;
 * the first copy of a byte wins, and a later copy that differs is flagged; holes that will
 * never be filled become `gap` events with their size.
 *
 * Policies:
 * - Direction: the sender of a SYN without ACK is the client, the sender of a SYN+ACK the
 *   server. Without a handshake the higher port is guessed to be the client (ephemeral ports
 *   sit above service ports) and `open.sawSyn` is false.
 * - A hole is given up on (emitted as a gap, then the queued bytes follow) when the peer
 *   acknowledges a byte past it (the receiver had the bytes, the capture missed them), when
 *   the queue exceeds its bound, at RST, or at `finish()`.
 * - A retransmission of bytes already delivered is compared with the last
 *   `retransmissionWindow` bytes of that direction; older bytes are trimmed without comparison.
 * - Each `open` is followed, sooner or later, by exactly one `end` per direction: 'fin' when
 *   the FIN is reached in sequence, 'rst', 'capture-end' from `finish()`, or 'abandoned' when
 *   the ports are reused by a new SYN or the connection table is full and the least recently
 *   active connection is dropped.
 */
import { makeAlert, sideOf, type Alert, type Direction } from '../alerts.js';
import { ByteHistory } from './byte-history.js';
import { seqAdd, seqDiff } from './seq.js';
import type { TcpSegment } from './types.js';

export interface Endpoint {
  ip: string;
  port: number;
}

export type EndReason = 'fin' | 'rst' | 'capture-end' | 'abandoned';

export type FlowEvent =
  | { type: 'open'; conn: number; client: Endpoint; server: Endpoint; sawSyn: boolean; packet: number; ts: number }
  | { type: 'data'; conn: number; direction: Direction; bytes: Uint8Array; packet: number; ts: number }
  | { type: 'gap'; conn: number; direction: Direction; size: number; packet: number; ts: number }
  /**
   * One direction's stream is over. `by` is the side whose segment ended it: the direction's own
   * sender for a FIN, the sender of the RST for a reset (both directions end with it); absent
   * for 'capture-end' and 'abandoned'.
   */
  | { type: 'end'; conn: number; direction: Direction; reason: EndReason; by?: Direction; packet: number; ts: number }
  | { type: 'alert'; conn: number; alert: Alert };

/** The fields of a decoded segment the reassembler reads. */
export type ReassemblerSegment = Pick<
  TcpSegment,
  'src' | 'dst' | 'srcPort' | 'dstPort' | 'seq' | 'ack' | 'flags' | 'payload' | 'missing'
>;

export interface TcpReassemblerOptions {
  /** Out-of-order bytes queued per direction before the oldest hole is given up (default 4 MiB). */
  maxBufferedBytes?: number;
  /** Out-of-order segments queued per direction (default 4096): bounds the queue's bookkeeping. */
  maxBufferedSegments?: number;
  /** Recently delivered bytes kept per direction to check retransmissions (default 64 KiB). */
  retransmissionWindow?: number;
  /** Connections tracked at once; the least recently active is abandoned beyond it (default 16384). */
  maxConnections?: number;
  /** Closed connections remembered so their stray segments do not open ghosts (default 16384). */
  maxClosedRemembered?: number;
}

/** A run of sequence space: captured bytes, or bytes the snap length cut (`bytes` null). */
interface Piece {
  seq: number;
  len: number;
  bytes: Uint8Array | null;
  /** The FIN comes right after this piece. */
  fin: boolean;
  packet: number;
  ts: number;
}

class HalfConnection {
  /** Next expected sequence number; unknown until this side's first segment (or the peer's SYN+ACK). */
  next: number | undefined;
  isn: number | undefined;
  ended = false;
  /** Stream offset of `next`: bytes delivered plus gap sizes. */
  offset = 0;
  /** Sorted by sequence number, non-overlapping, all after `next`. */
  queue: Piece[] = [];
  queuedBytes = 0;
  finQueued = false;
  readonly history: ByteHistory;

  constructor(window: number) {
    this.history = new ByteHistory(window);
  }
}

interface Connection {
  id: number;
  key: string;
  client: Endpoint;
  server: Endpoint;
  halves: Record<Direction, HalfConnection>;
  snaplenAlerted: boolean;
}

const DIRECTIONS: readonly Direction[] = ['client', 'server'];

/** The same text for both directions: the endpoint with the lower port (then address) first. */
function flowKey(segment: ReassemblerSegment): string {
  const { src, dst, srcPort, dstPort } = segment;
  return srcPort < dstPort || (srcPort === dstPort && src < dst)
    ? `${src}|${srcPort}|${dst}|${dstPort}`
    : `${dst}|${dstPort}|${src}|${srcPort}`;
}

function sameFlow(conn: Connection, s: ReassemblerSegment): boolean {
  const { client: c, server: v } = conn;
  return (
    (c.port === s.srcPort && v.port === s.dstPort && c.ip === s.src && v.ip === s.dst) ||
    (c.port === s.dstPort && v.port === s.srcPort && c.ip === s.dst && v.ip === s.src)
  );
}

function opposite(direction: Direction): Direction {
  return direction === 'client' ? 'server' : 'client';
}

export class TcpReassembler {
  private readonly maxBufferedBytes: number;
  private readonly maxBufferedSegments: number;
  private readonly window: number;
  private readonly maxConnections: number;
  private readonly maxClosed: number;
  /** In least-recently-active order: a connection is moved to the end on each segment. */
  private readonly table = new Map<string, Connection>();
  private readonly closed = new Map<string, true>();
  private nextId = 1;
  private out: FlowEvent[] = [];
  /** The connection of the last segment, while it is in the table. */
  private recent: Connection | undefined;
  private lastPacket = 0;
  private lastTs = 0;

  constructor(options: TcpReassemblerOptions = {}) {
    this.maxBufferedBytes = options.maxBufferedBytes ?? 4 * 1024 * 1024;
    this.maxBufferedSegments = options.maxBufferedSegments ?? 4096;
    this.window = options.retransmissionWindow ?? 64 * 1024;
    this.maxConnections = Math.max(1, options.maxConnections ?? 16_384);
    this.maxClosed = options.maxClosedRemembered ?? 16_384;
  }

  /** Connections currently tracked. */
  get openConnections(): number {
    return this.table.size;
  }

  push(segment: ReassemblerSegment, packet: number, ts: number): FlowEvent[] {
    const out: FlowEvent[] = [];
    this.out = out;
    this.lastPacket = packet;
    this.lastTs = ts;
    const { flags } = segment;
    // Consecutive packets nearly always belong to the same connection: then neither the key
    // string nor the table is needed, and the connection is already the most recently active.
    const recent = this.recent;
    let conn: Connection | undefined;
    let key: string;
    if (recent !== undefined && sameFlow(recent, segment)) {
      conn = recent;
      key = recent.key;
    } else {
      key = flowKey(segment);
      conn = this.table.get(key);
      if (conn !== undefined) {
        this.table.delete(key);
        // The connection's own key: the one just built is a rope (see open()).
        this.table.set(conn.key, conn);
      }
    }
    if (conn !== undefined && flags.syn && !flags.ack && !this.isSameSyn(conn, segment)) {
      // A new SYN on the same ports with another ISN: the ports were reused (RFC 9293 §3.4.1).
      this.close(conn, 'abandoned', packet, ts);
      conn = undefined;
    }
    if (conn === undefined) {
      // Only a SYN or a segment carrying data can open a connection: a lone ACK, FIN or RST
      // is most often the tail of a connection that already ended.
      if (!flags.syn && (flags.rst || (segment.payload.length === 0 && segment.missing === 0))) return out;
      if (!flags.syn && this.closed.has(key)) return out;
      conn = this.open(key, segment, packet, ts);
    }
    this.recent = conn;

    const direction: Direction =
      conn.client.ip === segment.src && conn.client.port === segment.srcPort ? 'client' : 'server';
    const half = sideOf(conn.halves, direction);
    const peer = sideOf(conn.halves, opposite(direction));
    const length = segment.payload.length;
    if (
      length > 0 &&
      (flags.syn || flags.rst || flags.fin) === false &&
      segment.missing === 0 &&
      !half.ended &&
      half.queue.length === 0 &&
      half.next === segment.seq
    ) {
      // The common case, the next bytes in order with nothing queued: what the general path
      // below would do, without building pieces.
      if (flags.ack) this.onAck(conn, opposite(direction), segment.ack, packet, ts);
      const data: FlowEvent = { type: 'data', conn: conn.id, direction, bytes: segment.payload, packet, ts };
      half.history.append(segment.payload);
      half.next = seqAdd(half.next, length);
      half.offset += length;
      // Nearly always the only event: an array made with it (a push into an empty one allocates room for 17).
      if (out.length === 0) return [data];
      out.push(data);
      return out;
    }
    if (flags.rst) {
      // RST aborts both directions at once (RFC 9293 §3.10.7.3).
      this.close(conn, 'rst', packet, ts, direction);
      return out;
    }
    if (flags.syn) {
      if (half.isn === undefined) {
        half.isn = segment.seq;
        // The SYN occupies one sequence number (RFC 9293 §3.4).
        half.next ??= seqAdd(segment.seq, 1);
      }
      if (flags.ack && peer.next === undefined) {
        // A SYN+ACK acknowledges the client's ISN + 1: the client's stream starts there.
        peer.next = segment.ack;
        peer.isn = seqAdd(segment.ack, -1);
      }
    }
    const dataSeq = seqAdd(segment.seq, flags.syn ? 1 : 0);
    half.next ??= dataSeq;
    if (flags.ack && !flags.syn) this.onAck(conn, opposite(direction), segment.ack, packet, ts);

    if (!half.ended && (length > 0 || segment.missing > 0 || flags.fin)) {
      if (segment.missing > 0 && !conn.snaplenAlerted) {
        conn.snaplenAlerted = true;
        this.alert(conn, 'capture.snaplen-truncated', `packet ${packet} was cut by the snap length: ${segment.missing} bytes of TCP payload are missing (reported once per connection)`, {
          direction,
          packet,
          detail: { missing: segment.missing },
        });
      }
      const pieces: Piece[] = [];
      if (length > 0) pieces.push({ seq: dataSeq, len: length, bytes: segment.payload, fin: false, packet, ts });
      if (segment.missing > 0) {
        pieces.push({ seq: seqAdd(dataSeq, length), len: segment.missing, bytes: null, fin: false, packet, ts });
      }
      if (flags.fin) {
        const last = pieces[pieces.length - 1];
        if (last !== undefined) last.fin = true;
        else pieces.push({ seq: dataSeq, len: 0, bytes: null, fin: true, packet, ts });
      }
      for (const piece of pieces) this.accept(conn, direction, piece);
      this.drain(conn, direction);
      this.enforceBound(conn, direction, packet, ts);
    }
    if (conn.halves.client.ended && conn.halves.server.ended) this.forget(conn, true);
    return out;
  }

  /** The capture is over: holes become gaps, queued bytes are delivered, open directions end. */
  finish(): FlowEvent[] {
    const out: FlowEvent[] = [];
    this.out = out;
    const open = [...this.table.values()].sort((a, b) => a.id - b.id);
    for (const conn of open) this.close(conn, 'capture-end', this.lastPacket, this.lastTs);
    this.closed.clear();
    return out;
  }

  private isSameSyn(conn: Connection, segment: ReassemblerSegment): boolean {
    return conn.client.ip === segment.src && conn.client.port === segment.srcPort && conn.halves.client.isn === segment.seq;
  }

  private open(lookupKey: string, segment: ReassemblerSegment, packet: number, ts: number): Connection {
    // flowKey's template makes a rope of ~11 strings (~350 bytes, kept for as long as the
    // connection and then in `closed`); a flat copy is ~60.
    const key = Buffer.from(lookupKey, 'latin1').toString('latin1');
    while (this.table.size >= this.maxConnections) {
      const oldest = this.table.values().next().value;
      if (oldest === undefined) break;
      this.close(oldest, 'abandoned', packet, ts);
    }
    const { flags } = segment;
    const clientIsSource = flags.syn ? !flags.ack : segment.srcPort >= segment.dstPort;
    const source = { ip: segment.src, port: segment.srcPort };
    const destination = { ip: segment.dst, port: segment.dstPort };
    const conn: Connection = {
      id: this.nextId++,
      key,
      client: clientIsSource ? source : destination,
      server: clientIsSource ? destination : source,
      halves: { client: new HalfConnection(this.window), server: new HalfConnection(this.window) },
      snaplenAlerted: false,
    };
    this.table.set(key, conn);
    this.closed.delete(key);
    this.out.push({
      type: 'open',
      conn: conn.id,
      client: { ...conn.client },
      server: { ...conn.server },
      sawSyn: flags.syn,
      packet,
      ts,
    });
    return conn;
  }

  /** Takes one piece of one direction: trims what was delivered, then delivers or queues the rest. */
  private accept(conn: Connection, direction: Direction, incoming: Piece): void {
    const half = sideOf(conn.halves, direction);
    const next = half.next;
    if (next === undefined || half.ended) return;
    let piece = incoming;
    const ahead = seqDiff(piece.seq, next);
    if (ahead < 0) {
      const old = -ahead;
      const overlap = Math.min(old, piece.len);
      // A keep-alive probe repeats the last octet, often as garbage (RFC 9293 §3.8.4).
      const keepAlive = piece.len === 1 && old === 1;
      if (piece.bytes !== null && overlap > 0 && !keepAlive) this.checkDelivered(conn, direction, piece, old, overlap);
      if (old >= piece.len) {
        if (!(piece.fin && old === piece.len)) return;
        piece = { ...piece, seq: next, len: 0, bytes: null };
      } else {
        piece = {
          ...piece,
          seq: next,
          len: piece.len - old,
          bytes: piece.bytes === null ? null : piece.bytes.subarray(old),
        };
      }
    }
    if (half.queue.length === 0 && piece.seq === half.next) {
      this.deliver(conn, direction, piece);
      return;
    }
    this.enqueue(conn, direction, piece);
  }

  /** Compares the first `overlap` bytes of `piece` (which starts `old` bytes before `next`) with what was delivered. */
  private checkDelivered(conn: Connection, direction: Direction, piece: Piece, old: number, overlap: number): void {
    const half = sideOf(conn.halves, direction);
    const bytes = piece.bytes;
    if (bytes === null) return;
    let differing = 0;
    let compared = 0;
    for (let i = 0; i < overlap; i++) {
      const first = half.history.at(old - i);
      if (first === undefined) continue;
      compared++;
      if (first !== bytes[i]) differing++;
    }
    if (differing > 0) {
      this.reportConflict(conn, direction, piece.packet, half.offset - old, differing, compared);
    }
  }

  private reportConflict(conn: Connection, direction: Direction, packet: number, offset: number, differing: number, compared: number): void {
    this.alert(conn, 'tcp.retransmission-conflict', `a retransmission in packet ${packet} differs from the first copy in ${differing} of ${compared} overlapping bytes; the first copy is kept`, {
      direction,
      packet,
      offset,
      detail: { differing, compared },
    });
  }

  /** Queues the parts of `piece` not already queued (first copy wins), flagging differing overlaps. */
  private enqueue(conn: Connection, direction: Direction, piece: Piece): void {
    const half = sideOf(conn.halves, direction);
    const next = half.next!;
    const queue = half.queue;
    const rel = (p: Piece): number => seqDiff(p.seq, next);
    const start = rel(piece);
    const end = start + piece.len;
    let lo = 0;
    let hi = queue.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const m = queue[mid]!;
      if (rel(m) + m.len <= start) lo = mid + 1;
      else hi = mid;
    }
    const parts: Piece[] = [];
    const part = (from: number, to: number): Piece => ({
      ...piece,
      seq: seqAdd(piece.seq, from - start),
      len: to - from,
      bytes: piece.bytes === null ? null : piece.bytes.slice(from - start, to - start),
      fin: false,
    });
    let cursor = start;
    let differing = 0;
    let compared = 0;
    for (let i = lo; i < queue.length; i++) {
      const queued = queue[i]!;
      const qStart = rel(queued);
      if (qStart >= end) break;
      if (queued.len === 0) continue;
      const qEnd = qStart + queued.len;
      if (qStart > cursor) parts.push(part(cursor, qStart));
      const overlapStart = Math.max(cursor, qStart);
      const overlapEnd = Math.min(end, qEnd);
      if (piece.bytes !== null && queued.bytes !== null) {
        for (let k = overlapStart; k < overlapEnd; k++) {
          compared++;
          if (piece.bytes[k - start] !== queued.bytes[k - qStart]) differing++;
        }
      }
      cursor = Math.max(cursor, qEnd);
    }
    if (cursor < end) parts.push(part(cursor, end));
    if (piece.fin && !half.finQueued) {
      half.finQueued = true;
      const last = parts[parts.length - 1];
      if (last !== undefined && rel(last) + last.len === end) last.fin = true;
      else parts.push({ ...piece, seq: seqAdd(piece.seq, piece.len), len: 0, bytes: null, fin: true });
    }
    if (differing > 0) this.reportConflict(conn, direction, piece.packet, half.offset + start, differing, compared);
    for (const p of parts) {
      const at = rel(p);
      // A zero-length FIN goes before data starting at the same place; data after existing pieces.
      let i = 0;
      let j = queue.length;
      while (i < j) {
        const mid = (i + j) >>> 1;
        const q = rel(queue[mid]!);
        if (q < at || (q === at && p.len > 0)) i = mid + 1;
        else j = mid;
      }
      queue.splice(i, 0, p);
      half.queuedBytes += p.len;
    }
  }

  /** Delivers queued pieces that have become in-order. */
  private drain(conn: Connection, direction: Direction): void {
    const half = sideOf(conn.halves, direction);
    const queue = half.queue;
    while (queue.length > 0 && !half.ended) {
      const head = queue[0]!;
      const behind = -seqDiff(head.seq, half.next!);
      if (behind < 0) break;
      queue.shift();
      half.queuedBytes -= head.len;
      if (behind > 0) {
        // Cannot happen with a consistent queue; trimmed defensively rather than re-delivered.
        if (behind > head.len || (behind === head.len && !head.fin)) continue;
        this.deliver(conn, direction, {
          ...head,
          seq: half.next!,
          len: head.len - behind,
          bytes: head.bytes === null ? null : head.bytes.subarray(behind),
        });
        continue;
      }
      this.deliver(conn, direction, head);
    }
  }

  private deliver(conn: Connection, direction: Direction, piece: Piece): void {
    const half = sideOf(conn.halves, direction);
    if (piece.len > 0) {
      if (piece.bytes !== null) {
        this.out.push({ type: 'data', conn: conn.id, direction, bytes: piece.bytes, packet: piece.packet, ts: piece.ts });
        half.history.append(piece.bytes);
      } else {
        this.out.push({ type: 'gap', conn: conn.id, direction, size: piece.len, packet: piece.packet, ts: piece.ts });
        half.history.clear();
      }
      half.next = seqAdd(half.next!, piece.len);
      half.offset += piece.len;
    }
    if (piece.fin) {
      // The FIN occupies one sequence number (RFC 9293 §3.4); nothing after it belongs to the stream.
      half.next = seqAdd(half.next!, 1);
      half.ended = true;
      half.queue = [];
      half.queuedBytes = 0;
      half.finQueued = false;
      this.out.push({ type: 'end', conn: conn.id, direction, reason: 'fin', by: direction, packet: piece.packet, ts: piece.ts });
    }
  }

  /** Gives up the hole before the head of the queue: a gap event, then the queued bytes that follow. */
  private flushHole(conn: Connection, direction: Direction, packet: number, ts: number): void {
    const half = sideOf(conn.halves, direction);
    const head = half.queue[0];
    if (head === undefined || half.next === undefined) return;
    const size = seqDiff(head.seq, half.next);
    if (size > 0) {
      this.out.push({ type: 'gap', conn: conn.id, direction, size, packet, ts });
      this.alert(conn, 'tcp.gap', `${size} bytes of the ${direction} stream are missing from the capture`, {
        direction,
        packet,
        offset: half.offset,
        detail: { size },
      });
      half.next = head.seq;
      half.offset += size;
      half.history.clear();
    }
    this.drain(conn, direction);
  }

  /** The peer acknowledged `ack`: any hole it covers was received, so the capture missed it. */
  private onAck(conn: Connection, direction: Direction, ack: number, packet: number, ts: number): void {
    const half = sideOf(conn.halves, direction);
    while (!half.ended && half.queue.length > 0 && seqDiff(ack, half.queue[0]!.seq) > 0) {
      this.flushHole(conn, direction, packet, ts);
    }
  }

  private enforceBound(conn: Connection, direction: Direction, packet: number, ts: number): void {
    const half = sideOf(conn.halves, direction);
    const over = (): boolean =>
      half.queue.length > 0 && (half.queuedBytes > this.maxBufferedBytes || half.queue.length > this.maxBufferedSegments);
    if (!over()) return;
    this.alert(conn, 'tcp.out-of-order-overflow', `${half.queuedBytes} out-of-order bytes in ${half.queue.length} segments were queued for the ${direction} stream, above the limit of ${this.maxBufferedBytes} bytes; the hole before them is given up`, {
      direction,
      packet,
      offset: half.offset,
      detail: { queuedBytes: half.queuedBytes, queuedSegments: half.queue.length, limit: this.maxBufferedBytes },
    });
    while (over()) this.flushHole(conn, direction, packet, ts);
  }

  /** Ends both directions that are still open: holes become gaps, queued bytes are delivered first. `by` sent the RST. */
  private close(conn: Connection, reason: EndReason, packet: number, ts: number, by?: Direction): void {
    for (const direction of DIRECTIONS) {
      const half = sideOf(conn.halves, direction);
      while (!half.ended && half.queue.length > 0) this.flushHole(conn, direction, packet, ts);
      if (half.ended) continue;
      half.ended = true;
      this.out.push(by !== undefined ? { type: 'end', conn: conn.id, direction, reason, by, packet, ts } : { type: 'end', conn: conn.id, direction, reason, packet, ts });
    }
    this.forget(conn, reason === 'rst');
  }

  private forget(conn: Connection, remember: boolean): void {
    if (this.recent === conn) this.recent = undefined;
    if (this.table.get(conn.key) === conn) this.table.delete(conn.key);
    if (!remember) return;
    this.closed.set(conn.key, true);
    if (this.closed.size > this.maxClosed) {
      const oldest = this.closed.keys().next().value;
      if (oldest !== undefined) this.closed.delete(oldest);
    }
  }

  private alert(conn: Connection, code: Parameters<typeof makeAlert>[0], message: string, extra: Parameters<typeof makeAlert>[2]): void {
    this.out.push({ type: 'alert', conn: conn.id, alert: makeAlert(code, message, extra) });
  }
}
