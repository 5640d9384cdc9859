import type { Direction } from '../alerts.js';
import type { CaptureItem } from '../capture/index.js';
import { PacketDecoder } from '../net/decode.js';
import { TcpReassembler, type FlowEvent } from '../net/tcp-reassembler.js';
import type { Limits, StreamPosition } from '../websocket/types.js';
import { ConnectionDissector } from './connection-dissector.js';
import type { DissectEvent } from './events.js';

export interface CaptureDissectorOptions {
  limits?: Partial<Limits>;
  /**
   * Server ports to decode as WebSocket even without a handshake in the capture (Wireshark's
   * "Decode As"): connections that started before the capture are decoded mid-stream.
   */
  decodeAs?: number[];
  /** Out-of-order bytes buffered per TCP direction. */
  maxBufferedBytes?: number;
}

interface Flow {
  dissector: ConnectionDissector;
  /** True when the reassembler's client/server guess is the wrong way round (decided by --decode-as). */
  swapped: boolean;
  ended: Set<Direction>;
}

const flip = (d: Direction): Direction => (d === 'client' ? 'server' : 'client');

/**
 * What a malformed packet's reason says, without the numbers it quotes ("IPv4 total length #
 * exceeds the # bytes on the wire"): a notice is given once per kind of damage, not once per
 * length seen, or a million damaged packets would give a million lines (and a million keys).
 */
const malformedKind = (reason: string): string => reason.replace(/\d+/g, '#');

/**
 * A whole capture: packets in, events out, in capture order. Packets are decoded down to TCP,
 * reassembled per connection, and each connection gets its own ConnectionDissector. Connections
 * leave memory when both directions have ended.
 */
export class CaptureDissector {
  private readonly decoder = new PacketDecoder();
  private readonly reassembler: TcpReassembler;
  private readonly flows = new Map<number, Flow>();
  private readonly decodeAs: Set<number>;
  /** Each capture-level notice once: a capture with a million UDP packets should not print a million lines. */
  private readonly noticed = new Set<string>();
  /** Where the capture is, for what finish() emits. */
  private lastPacket: number | undefined;
  private lastTs: number | undefined;

  constructor(private readonly options: CaptureDissectorOptions = {}) {
    this.reassembler = new TcpReassembler(options.maxBufferedBytes !== undefined ? { maxBufferedBytes: options.maxBufferedBytes } : {});
    this.decodeAs = new Set(options.decodeAs ?? []);
  }

  /** Feed one item of the capture reader. */
  item(item: CaptureItem): DissectEvent[] {
    if (item.kind === 'notice') return this.notice(item.code, item.message, item.packet !== undefined ? { packet: item.packet } : {});
    this.lastPacket = item.no;
    this.lastTs = item.ts;
    const decoded = this.decoder.decode(item.linkType, item.data, item.originalLength);
    switch (decoded.kind) {
      case 'tcp':
        return this.flowEvents(this.reassembler.push(decoded, item.no, item.ts));
      case 'unsupported-link':
        return this.notice('capture.link-unsupported', `Link type ${decoded.linkType} is not supported: its packets are skipped.`, { packet: item.no, ts: item.ts }, `link-${decoded.linkType}`);
      case 'malformed':
        return this.notice('capture.malformed-packet', `Packet ${item.no} could not be decoded (${decoded.reason}); such packets are skipped.`, { packet: item.no, ts: item.ts }, `malformed-${malformedKind(decoded.reason)}`);
      case 'other':
        return [];
    }
  }

  /** The capture is over: flush reassembly and finish every open connection. */
  finish(): DissectEvent[] {
    const events = this.flowEvents(this.reassembler.finish());
    const lastPos: StreamPosition = this.lastPacket === undefined ? {} : { packet: this.lastPacket, ts: this.lastTs! };
    for (const [conn, flow] of this.flows) {
      events.push(...flow.dissector.finish(lastPos));
      this.flows.delete(conn);
    }
    return events;
  }

  private notice(code: string, message: string, at: StreamPosition, key = code): DissectEvent[] {
    if (this.noticed.has(key)) return [];
    this.noticed.add(key);
    return [{ type: 'notice', code, message, at }];
  }

  private flowEvents(flowEvents: FlowEvent[]): DissectEvent[] {
    const out: DissectEvent[] = [];
    for (const e of flowEvents) {
      if (e.type === 'open') {
        out.push(...this.open(e));
        continue;
      }
      const flow = this.flows.get(e.conn);
      if (flow === undefined) continue;
      const d = flow.dissector;
      if (e.type === 'alert') {
        out.push({ type: 'alert', conn: e.conn, alert: flow.swapped && e.alert.direction ? { ...e.alert, direction: flip(e.alert.direction) } : e.alert });
        continue;
      }
      const direction = flow.swapped ? flip(e.direction) : e.direction;
      const pos = { packet: e.packet, ts: e.ts };
      if (e.type === 'data') {
        // A loop, not a spread: this runs once per packet, and a spread call costs more.
        for (const event of d.data(direction, e.bytes, pos)) out.push(event);
      } else if (e.type === 'gap') {
        out.push(...d.gap(direction, e.size, pos));
      } else {
        out.push(...d.end(direction, pos));
        flow.ended.add(direction);
        if (flow.ended.size === 2) {
          out.push(...d.finish(pos));
          this.flows.delete(e.conn);
        }
      }
    }
    return out;
  }

  private open(e: Extract<FlowEvent, { type: 'open' }>): DissectEvent[] {
    let { client, server } = e;
    let swapped = false;
    // Without a SYN the reassembler guessed the client from the ports; --decode-as names the server.
    if (!e.sawSyn && this.decodeAs.has(client.port) && !this.decodeAs.has(server.port)) {
      [client, server] = [server, client];
      swapped = true;
    }
    const decodeAs = this.decodeAs.has(server.port);
    const midstream = !e.sawSyn && decodeAs;
    const dissector = new ConnectionDissector(e.conn, { ...(this.options.limits ? { limits: this.options.limits } : {}), midstream, fallbackToMidstream: decodeAs });
    this.flows.set(e.conn, { dissector, swapped, ended: new Set() });
    const at = { packet: e.packet, ts: e.ts };
    return [{ type: 'connection', conn: e.conn, client, server, sawSyn: e.sawSyn, at }, ...dissector.start(at)];
  }
}
