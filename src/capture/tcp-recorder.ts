/**
 * Synthesises one TCP conversation as packets, so a byte stream the proxy relayed (or a crafted
 * conversation) becomes a capture that Wireshark and our own decoder read exactly: a three-way
 * handshake with MSS, segments no larger than the MSS, sequence and acknowledgement numbers that
 * agree (RFC 9293 §3.4, wrapping at 2^32), the receiver acknowledging at least every second
 * full segment (RFC 9293 §3.8.6.3, RFC 1122 §4.2.3.2), FIN and RST.
 *
 * The recorder is pure bookkeeping: it returns packets and never writes them anywhere (see
 * pcap-file-writer.ts for that).
 */
import type { Direction } from '../alerts.js';
import { DEFAULT_CLIENT_MAC, DEFAULT_SERVER_MAC, encodeTcpPacket, parseIpAddress, type TcpFlagSet } from '../net/packet-encoder.js';
import { seqAdd, seqDiff } from '../net/seq.js';

/** One Ethernet frame and when it was "seen" (seconds since the epoch, fractional). */
export interface RecordedPacket {
  ts: number;
  data: Uint8Array;
}

export interface RecorderEndpoint {
  ip: string;
  port: number;
}

export interface TcpConversationOptions {
  client: RecorderEndpoint;
  server: RecorderEndpoint;
  /**
   * Largest segment payload, announced in both SYNs. Default 1460 over IPv4 and 1440 over IPv6:
   * a 1500-byte Ethernet MTU minus the 40 or 60 bytes of IP and TCP headers.
   */
  mss?: number;
  /** Initial sequence numbers; by default derived from the endpoints, so the same conversation gives the same bytes. */
  isn?: { client: number; server: number };
}

/** Advertised receive window. Without the window scale option (RFC 7323) 65535 is the largest. */
const WINDOW = 0xffff;

interface Side {
  readonly ip: string;
  readonly port: number;
  readonly mac: Uint8Array;
  readonly isn: number;
  /** Next sequence number this side sends. */
  next: number;
  /** The highest acknowledgement this side has sent: how much of the peer's stream it has acknowledged. */
  acked: number;
  ipId: number;
  finSent: boolean;
}

/** FNV-1a (32-bit): a stable, well-spread hash, so default ISNs and IP ids differ per conversation. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

function checkEndpoint(endpoint: RecorderEndpoint, what: string): 4 | 6 {
  const { version } = parseIpAddress(endpoint.ip);
  if (!Number.isInteger(endpoint.port) || endpoint.port < 1 || endpoint.port > 0xffff) {
    throw new RangeError(`${what} port ${endpoint.port} is not a TCP port (1-65535)`);
  }
  return version;
}

function checkIsn(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new RangeError(`${what} ISN ${value} is not an unsigned 32-bit integer`);
  return value;
}

const opposite = (d: Direction): Direction => (d === 'client' ? 'server' : 'client');

export class TcpConversationRecorder {
  readonly mss: number;
  readonly ipVersion: 4 | 6;
  private readonly sides: Record<Direction, Side>;
  /** Unacknowledged bytes at which the receiver sends a pure ACK. */
  private readonly ackEvery: number;
  private opened = false;
  private wasReset = false;

  constructor(options: TcpConversationOptions) {
    const clientVersion = checkEndpoint(options.client, 'client');
    const serverVersion = checkEndpoint(options.server, 'server');
    if (clientVersion !== serverVersion) throw new RangeError(`client ${options.client.ip} and server ${options.server.ip} are not the same IP version`);
    this.ipVersion = clientVersion;
    // IPv4 total length and IPv6 payload length are 16-bit (RFC 791 §3.1, RFC 8200 §3).
    const maxMss = clientVersion === 4 ? 0xffff - 40 : 0xffff - 20;
    this.mss = options.mss ?? (clientVersion === 4 ? 1460 : 1440);
    if (!Number.isInteger(this.mss) || this.mss < 1 || this.mss > maxMss) throw new RangeError(`MSS ${this.mss} is not between 1 and ${maxMss}`);
    // Every second full segment (RFC 1122 §4.2.3.2), and always before half the window is in
    // flight, so no segment ever fills the peer's window.
    this.ackEvery = Math.min(2 * this.mss, Math.floor(WINDOW / 2));
    const id = `${options.client.ip}|${options.client.port}|${options.server.ip}|${options.server.port}`;
    const side = (endpoint: RecorderEndpoint, mac: Uint8Array, isn: number, ipId: number): Side => ({
      ip: endpoint.ip,
      port: endpoint.port,
      mac,
      isn,
      next: isn,
      acked: 0,
      ipId,
      finSent: false,
    });
    const clientIsn = checkIsn(options.isn?.client ?? fnv1a(`${id}|client`), 'client');
    const serverIsn = checkIsn(options.isn?.server ?? fnv1a(`${id}|server`), 'server');
    this.sides = {
      client: side(options.client, DEFAULT_CLIENT_MAC, clientIsn, fnv1a(`${id}|client-ip-id`) & 0xffff),
      server: side(options.server, DEFAULT_SERVER_MAC, serverIsn, fnv1a(`${id}|server-ip-id`) & 0xffff),
    };
  }

  /** The initial sequence number of each side. */
  get isn(): { client: number; server: number } {
    return { client: this.sides.client.isn, server: this.sides.server.isn };
  }

  /** True when `from` may still send data: the conversation is open, not reset, and `from` has not sent its FIN. */
  canSend(from: Direction): boolean {
    return this.opened && !this.wasReset && !this.sides[from].finSent;
  }

  /** The three-way handshake (RFC 9293 §3.5): SYN, SYN+ACK, ACK, each SYN announcing the MSS. */
  open(ts: number): RecordedPacket[] {
    if (this.opened) throw new Error('the conversation is already open');
    this.opened = true;
    const client = this.sides.client;
    const server = this.sides.server;
    const out: RecordedPacket[] = [];
    // A SYN occupies one sequence number (RFC 9293 §3.4).
    out.push(this.packet('client', ts, { syn: true }, 0, new Uint8Array(0), this.mss));
    client.next = seqAdd(client.isn, 1);
    server.acked = client.next;
    out.push(this.packet('server', ts, { syn: true, ack: true }, client.next, new Uint8Array(0), this.mss));
    server.next = seqAdd(server.isn, 1);
    client.acked = server.next;
    out.push(this.packet('client', ts, { ack: true }, server.next));
    return out;
  }

  /**
   * `bytes` sent by one side: segments of at most `mss` bytes, each acknowledging everything the
   * peer sent so far, PSH on the last (RFC 9293 §3.9.1: the sender pushes what the application
   * wrote). The receiver's pure ACKs are interleaved as a real stack would send them.
   */
  data(from: Direction, bytes: Uint8Array, ts: number): RecordedPacket[] {
    this.mustSend(from);
    const sender = this.sides[from];
    const receiver = this.sides[opposite(from)];
    const out: RecordedPacket[] = [];
    for (let offset = 0; offset < bytes.length; offset += this.mss) {
      const end = Math.min(offset + this.mss, bytes.length);
      const flags: TcpFlagSet = end === bytes.length ? { ack: true, psh: true } : { ack: true };
      out.push(this.packet(from, ts, flags, receiver.next, bytes.subarray(offset, end)));
      sender.acked = receiver.next;
      sender.next = seqAdd(sender.next, end - offset);
      if (seqDiff(sender.next, receiver.acked) >= this.ackEvery) out.push(this.ack(opposite(from), ts));
    }
    return out;
  }

  /** `from` closes its direction (RFC 9293 §3.6): FIN+ACK, then the peer's ACK of the FIN. A second close is ignored. */
  close(from: Direction, ts: number): RecordedPacket[] {
    if (!this.opened) throw new Error('the conversation is not open yet');
    const sender = this.sides[from];
    if (this.wasReset || sender.finSent) return [];
    const receiver = this.sides[opposite(from)];
    const out = [this.packet(from, ts, { fin: true, ack: true }, receiver.next)];
    sender.acked = receiver.next;
    // The FIN occupies one sequence number (RFC 9293 §3.4).
    sender.next = seqAdd(sender.next, 1);
    sender.finSent = true;
    out.push(this.ack(opposite(from), ts));
    return out;
  }

  /**
   * `from` aborts the connection (RFC 9293 §3.10.7.4): one RST+ACK at its next sequence number,
   * which is what makes the peer accept it. Nothing follows it; a second reset is ignored.
   */
  reset(from: Direction, ts: number): RecordedPacket[] {
    if (!this.opened) throw new Error('the conversation is not open yet');
    if (this.wasReset) return [];
    this.wasReset = true;
    return [this.packet(from, ts, { rst: true, ack: true }, this.sides[opposite(from)].next)];
  }

  private mustSend(from: Direction): void {
    if (!this.opened) throw new Error('the conversation is not open yet');
    if (this.wasReset) throw new Error('the conversation was reset: nothing can be sent');
    if (this.sides[from].finSent) throw new Error(`the ${from} has sent its FIN: it cannot send data any more`);
  }

  /** A pure ACK from `from` for everything the peer has sent. */
  private ack(from: Direction, ts: number): RecordedPacket {
    const ackNumber = this.sides[opposite(from)].next;
    const packet = this.packet(from, ts, { ack: true }, ackNumber);
    this.sides[from].acked = ackNumber;
    return packet;
  }

  private packet(from: Direction, ts: number, flags: TcpFlagSet, ack: number, payload?: Uint8Array, mss?: number): RecordedPacket {
    const sender = this.sides[from];
    const receiver = this.sides[opposite(from)];
    const data = encodeTcpPacket({
      srcIp: sender.ip,
      dstIp: receiver.ip,
      srcPort: sender.port,
      dstPort: receiver.port,
      seq: sender.next,
      ack: flags.ack === true ? ack : 0,
      flags,
      window: WINDOW,
      ...(mss !== undefined ? { mss } : {}),
      ...(payload !== undefined ? { payload } : {}),
      ipId: sender.ipId,
      srcMac: sender.mac,
      dstMac: receiver.mac,
    });
    // RFC 6864 §4.1: Linux counts the id per connection; one counter per direction here.
    sender.ipId = (sender.ipId + 1) & 0xffff;
    return { ts, data };
  }
}
