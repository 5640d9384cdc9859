import type { Direction } from '../alerts.js';
import { SECRETS_TLS_KEY_LOG, type CaptureItem } from '../capture/types.js';
import { PacketDecoder } from '../net/decode.js';
import { TcpReassembler, type FlowEvent } from '../net/tcp-reassembler.js';
import type { TlsContext } from '../tls/context.js';
import type { KeyLog } from '../tls/keylog.js';
import { looksLikeTls, looksLikeTlsMidstream } from '../tls/sniff.js';
import type { Limits, StreamPosition } from '../websocket/types.js';
import { AppLayer, type AppLayerOptions } from '../app/layer.js';
import { ConnectionDissector } from './connection-dissector.js';
import { HttpPatterns } from './http-patterns.js';
import type { DissectEvent } from './events.js';

type TlsLayer = typeof import('../tls/index.js');
let tlsLayer: TlsLayer | null = null;

/**
 * Loads the TLS layer. CaptureDissector loads it by itself when a connection looks like TLS
 * (see `waiting`); a caller that must never wait can load it first.
 */
export async function loadTlsLayer(): Promise<TlsLayer> {
  return (tlsLayer ??= await import('../tls/index.js'));
}

export interface CaptureDissectorOptions {
  limits?: Partial<Limits>;
  /**
   * Server ports to decode as WebSocket even without a handshake in the capture (Wireshark's
   * "Decode As"): connections that started before the capture are decoded mid-stream.
   */
  decodeAs?: number[];
  /** Out-of-order bytes buffered per TCP direction. */
  maxBufferedBytes?: number;
  /**
   * TLS secrets (the SSLKEYLOGFILE format, src/tls/keylog.ts) to decrypt TLS connections with;
   * secrets in the capture's own Decryption Secrets Blocks are added to it.
   */
  keyLog?: KeyLog;
  /**
   * The application layer (src/app): which protocol decoders run, and how (default: each
   * connection's protocol recognised on its own); false (or `{ app: 'none' }`) leaves it out.
   */
  app?: AppLayerOptions | false;
  /** An answer held this long (ms) is long polling, when the client asks again (default 1000). */
  longPollMs?: number;
}

/** What a flow's bytes go to: its ConnectionDissector, or the TLS layer in front of it. */
type ConnectionLayer = Pick<ConnectionDissector, 'data' | 'gap' | 'end' | 'finish'>;

interface Flow {
  dissector: ConnectionLayer;
  /** Its first bytes were looked at for TLS. */
  sniffed: boolean;
  /** The capture has its SYN: its first bytes are the first the client sent. */
  sawSyn: boolean;
  /** --decode-as names its port: WebSocket, not TLS guessed from the middle. */
  decodeAs: boolean;
  /** True when the reassembler's client/server guess is the wrong way round (decided by --decode-as). */
  swapped: boolean;
  /** Directions whose stream has ended: 1 the client's, 2 the server's (two flags, not a Set per connection). */
  ended: number;
}

/** Flow events (or dissection events) per step of finishing(). */
const FINISH_STEP = 512;

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
  /**
   * While the TLS layer loads: the rest of the packet being processed and the items after it,
   * replayed by resume() in order.
   */
  private held: { flowEvents: FlowEvent[]; items: CaptureItem[] } | null = null;
  private tls: TlsContext | null = null;
  /** Key logs from the capture's Decryption Secrets Blocks, until the TLS layer is loaded. */
  private readonly secretTexts: Uint8Array[] = [];
  private readonly app: AppLayer | null;
  /** HTTP exchanges are judged across connections: a poller may open one per request. */
  private readonly patterns: HttpPatterns;

  constructor(private readonly options: CaptureDissectorOptions = {}) {
    this.app = options.app === false || options.app?.app === 'none' ? null : new AppLayer(options.app ?? {});
    this.reassembler = new TcpReassembler(options.maxBufferedBytes !== undefined ? { maxBufferedBytes: options.maxBufferedBytes } : {});
    this.decodeAs = new Set(options.decodeAs ?? []);
    this.patterns = new HttpPatterns(options.longPollMs);
  }

  /**
   * True when a connection that looks like TLS has appeared and the TLS layer is not loaded
   * yet: item() then keeps what it is given, and `await resume()` loads the layer and returns
   * the events of everything kept, in order. finish() must not be called before.
   */
  get waiting(): boolean {
    return this.held !== null;
  }

  async resume(): Promise<DissectEvent[]> {
    const held = this.held;
    if (held === null) return [];
    await loadTlsLayer();
    this.held = null;
    const flowed = this.flowEvents(held.flowEvents);
    const events = this.app === null ? flowed : this.app.process(flowed);
    for (const item of held.items) for (const event of this.item(item)) events.push(event);
    return events;
  }

  /** Feed one item of the capture reader. */
  item(item: CaptureItem): DissectEvent[] {
    const events = this.decode(item);
    return this.app === null ? events : this.app.process(events);
  }

  private decode(item: CaptureItem): DissectEvent[] {
    if (this.held !== null) {
      // Copies: the reader's buffers are not ours to keep.
      this.held.items.push(item.kind === 'notice' ? item : { ...item, data: Uint8Array.from(item.data) });
      return [];
    }
    if (item.kind === 'notice') return this.notice(item.code, item.message, item.packet !== undefined ? { packet: item.packet } : {});
    if (item.kind === 'secrets') return this.secrets(item.secretsType, item.data);
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
    const events: DissectEvent[] = [];
    for (const some of this.finishing()) for (const event of some) events.push(event);
    return events;
  }

  /**
   * finish() in steps, a few connections' events at a time, for a caller that writes them out
   * as they come: the end events of 16,000 connections still open at the end of the capture,
   * made all at once and written in one burst, added ~20 MB to wsdump's peak (issue 25).
   */
  *finishing(): Generator<DissectEvent[]> {
    if (this.held !== null) throw new Error('CaptureDissector: await resume() before finish(): the TLS layer is loading');
    const flowEvents = this.reassembler.finish();
    // A direction's end finishes its connection once the other has ended too: FINISH_STEP flow
    // events end about half as many connections. (A connection that turns out to need the TLS
    // layer here holds the rest, as it would in one call.)
    for (let i = 0; i < flowEvents.length && this.held === null; i += FINISH_STEP) yield this.processed(this.flowEvents(flowEvents.slice(i, i + FINISH_STEP)));
    const lastPos: StreamPosition = this.lastPacket === undefined ? {} : { packet: this.lastPacket, ts: this.lastTs! };
    let events: DissectEvent[] = [];
    for (const [conn, flow] of this.flows) {
      for (const event of flow.dissector.finish(lastPos)) events.push(event);
      this.flows.delete(conn);
      if (events.length >= FINISH_STEP) {
        yield this.processed(events);
        events = [];
      }
    }
    yield this.processed(events);
  }

  private processed(events: DissectEvent[]): DissectEvent[] {
    return this.app === null ? events : this.app.process(events);
  }

  private notice(code: string, message: string, at: StreamPosition, key = code): DissectEvent[] {
    if (this.noticed.has(key)) return [];
    this.noticed.add(key);
    return [{ type: 'notice', code, message, at }];
  }

  /** A Decryption Secrets Block: a TLS key log is added to the key log, whatever else is skipped. */
  private secrets(type: number, data: Uint8Array): DissectEvent[] {
    if (type !== SECRETS_TLS_KEY_LOG) return [];
    if (this.tls !== null) this.tls.keyLog.add(data);
    else this.secretTexts.push(Uint8Array.from(data));
    return this.notice('decryption-secrets', 'The capture carries a TLS key log (a Decryption Secrets Block): its secrets are used to decrypt TLS connections.', this.lastPacket === undefined ? {} : { packet: this.lastPacket });
  }

  private tlsContext(layer: TlsLayer): TlsContext {
    if (this.tls === null) {
      this.tls = new layer.TlsContext(this.options.keyLog ?? new layer.KeyLog());
      for (const text of this.secretTexts.splice(0)) this.tls.keyLog.add(text);
    }
    return this.tls;
  }

  private flowEvents(flowEvents: FlowEvent[]): DissectEvent[] {
    if (flowEvents.length === 1) {
      // One packet's bytes for a connection already under way (nearly every call): what the
      // loop below does, without an array of its own to copy the connection's events into.
      const e = flowEvents[0]!;
      if (e.type === 'data') {
        const flow = this.flows.get(e.conn);
        if (flow !== undefined && flow.sniffed) return flow.dissector.data(flow.swapped ? flip(e.direction) : e.direction, e.bytes, { packet: e.packet, ts: e.ts });
      }
    }
    const out: DissectEvent[] = [];
    for (let i = 0; i < flowEvents.length; i++) {
      const e = flowEvents[i]!;
      if (e.type === 'open') {
        out.push(...this.open(e));
        continue;
      }
      const flow = this.flows.get(e.conn);
      if (flow === undefined) continue;
      if (e.type === 'alert') {
        out.push({ type: 'alert', conn: e.conn, alert: flow.swapped && e.alert.direction ? { ...e.alert, direction: flip(e.alert.direction) } : e.alert });
        continue;
      }
      const direction = flow.swapped ? flip(e.direction) : e.direction;
      const pos = { packet: e.packet, ts: e.ts };
      if (e.type === 'data') {
        if (!flow.sniffed && !this.sniff(flow, e.conn, e.bytes)) {
          this.held = { flowEvents: flowEvents.slice(i).map((f) => (f.type === 'data' ? { ...f, bytes: Uint8Array.from(f.bytes) } : f)), items: [] };
          return out;
        }
        // A loop, not a spread: this runs once per packet, and a spread call costs more.
        for (const event of flow.dissector.data(direction, e.bytes, pos)) out.push(event);
      } else if (e.type === 'gap') {
        out.push(...flow.dissector.gap(direction, e.size, pos));
      } else {
        const by = e.by === undefined ? undefined : flow.swapped ? flip(e.by) : e.by;
        out.push(...flow.dissector.end(direction, pos, { reason: e.reason, by }));
        flow.ended |= direction === 'client' ? 1 : 2;
        if (flow.ended === 3) {
          out.push(...flow.dissector.finish(pos));
          this.flows.delete(e.conn);
        }
      }
    }
    return out;
  }

  /**
   * The first bytes of a connection: TLS puts the TLS layer in front of its dissector. Returns
   * false when that layer must be loaded first (see `waiting`).
   */
  private sniff(flow: Flow, conn: number, bytes: Uint8Array): boolean {
    // Without the SYN the first bytes may be inside a record, of either side.
    const midstream = !flow.sawSyn && !(looksLikeTls(bytes) && bytes[0] === 22 && bytes[5] === 1);
    if (looksLikeTls(bytes) || (midstream && !flow.decodeAs && looksLikeTlsMidstream(bytes))) {
      if (tlsLayer === null) return false;
      flow.dissector = new tlsLayer.TlsDissector(conn, flow.dissector as ConnectionDissector, this.tlsContext(tlsLayer), { midstream });
    }
    flow.sniffed = true;
    return true;
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
    const dissector = new ConnectionDissector(e.conn, { ...(this.options.limits ? { limits: this.options.limits } : {}), midstream, fallbackToMidstream: decodeAs, serverPort: server.port, clientAddress: client.ip, httpPatterns: this.patterns, appEvents: this.app !== null });
    this.flows.set(e.conn, { dissector, sniffed: false, sawSyn: e.sawSyn, decodeAs, swapped, ended: 0 });
    const at = { packet: e.packet, ts: e.ts };
    return [{ type: 'connection', conn: e.conn, client, server, sawSyn: e.sawSyn, at }, ...dissector.start(at)];
  }
}
