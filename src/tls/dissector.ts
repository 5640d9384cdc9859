import { makeAlert, type Alert, type Direction } from '../alerts.js';
import type { ConnectionDissector } from '../engine/connection-dissector.js';
import type { ConnectionEndEvent, DissectEvent } from '../engine/events.js';
import type { StreamPosition } from '../websocket/types.js';
import type { TlsContext } from './context.js';
import { TlsSession, type TlsOutput, type TlsPlaintext } from './session.js';

/**
 * A TLS connection in front of the connection's own dissector: the TCP streams go through the
 * TLS layer, and the plaintext it decrypts is fed to the ConnectionDissector exactly as a plain
 * connection's streams are (data, gap, end, finish), positioned at the packets where its
 * records end. Until a record is decrypted nothing reaches the dissector, so a connection that
 * cannot be decrypted is only named, as TLS.
 */
export class TlsDissector {
  private readonly session: TlsSession;
  private readonly tcpBytes = { client: 0, server: 0 };
  private readonly missing = { client: 0, server: 0 };
  /** Until a direction's first frame: its last record (the session copies it while recordsWanted). */
  private readonly lastRecord: { client: DissectEvent | null; server: DissectEvent | null } = { client: null, server: null };
  private readonly alertCounts = { error: 0, warning: 0, info: 0 };
  /** ALPN chose HTTP/2 (RFC 7540 §3.3): not HTTP/1.1, so not handed to the dissector. */
  private http2 = false;
  private readonly out: TlsOutput[] = [];

  /**
   * `midstream`: the capture began inside the connection (no SYN, no ClientHello first): it is
   * named as TLS and its records are not read (without the ClientHello no key can be found).
   */
  constructor(
    readonly conn: number,
    private readonly inner: ConnectionDissector,
    context: TlsContext,
    options: { midstream?: boolean } = {},
  ) {
    this.session = new TlsSession(conn, context, options.midstream ?? false);
  }

  start(at: StreamPosition = {}): DissectEvent[] {
    return this.inner.start(at);
  }

  data(direction: Direction, bytes: Uint8Array, pos: StreamPosition = {}): DissectEvent[] {
    this.tcpBytes[direction] += bytes.length;
    this.session.push(direction, bytes, pos, this.out);
    return this.deliver();
  }

  gap(direction: Direction, size: number, pos: StreamPosition = {}): DissectEvent[] {
    this.missing[direction] += size;
    const delivering = this.session.delivered(direction) > 0 && !this.http2;
    this.session.gap(direction, size, pos, this.out);
    const events = this.deliver();
    // Once plaintext flows, the dissector says it (it is told of the gap); before, this layer does.
    if (!delivering) events.unshift(this.count({ type: 'alert', conn: this.conn, alert: makeAlert('tcp.gap', `${size} byte(s) of the ${direction}'s stream were not captured.`, { direction, ...(pos.packet !== undefined ? { packet: pos.packet } : {}), detail: { size } }) }));
    return events;
  }

  end(direction: Direction, pos: StreamPosition = {}, how?: Parameters<ConnectionDissector['end']>[2]): DissectEvent[] {
    return this.session.decrypting && !this.http2 ? this.inner.end(direction, pos, how) : [];
  }

  finish(pos: StreamPosition = {}): DissectEvent[] {
    this.session.finish(pos, this.out);
    const events = this.deliver();
    for (const event of this.inner.finish(pos)) events.push(event.type === 'end' ? this.endEvent(event) : event);
    return events;
  }

  /** The dissector's end event with what only this layer knows: TCP bytes, TLS records, its alerts. */
  private endEvent(event: ConnectionEndEvent): ConnectionEndEvent {
    for (const d of ['client', 'server'] as const) {
      event.totals[d].bytes = this.tcpBytes[d];
      event.totals[d].missing = Math.max(event.totals[d].missing, this.missing[d]);
    }
    const kind = this.http2 ? 'not-http' : event.kind === 'unknown' ? 'tls' : event.kind;
    const alerts = { error: event.alerts.error + this.alertCounts.error, warning: event.alerts.warning + this.alertCounts.warning, info: event.alerts.info + this.alertCounts.info };
    return { ...event, kind, alerts, tls: this.session.stats() };
  }

  private deliver(): DissectEvent[] {
    const events: DissectEvent[] = [];
    for (const o of this.out) {
      if (o.kind === 'event') {
        events.push(this.count(o.event));
        if (o.event.type === 'tls' && o.event.alpn === 'h2') {
          this.http2 = true;
          events.push({ type: 'other', conn: this.conn, kind: 'not-http', requestLine: null, status: null, note: 'HTTP/2 (ALPN h2) inside TLS: not decoded (WebSocket over HTTP/2, RFC 8441, is not supported)', at: o.event.at });
        }
      } else if (this.http2) {
        continue;
      } else if (o.kind === 'data') {
        this.plaintext(o, events);
      } else {
        for (const event of this.inner.gap(o.direction, o.size, o.at)) events.push(event);
      }
    }
    this.out.length = 0;
    return events;
  }

  private plaintext(o: TlsPlaintext, events: DissectEvent[]): void {
    if (o.record !== null) this.lastRecord[o.direction] = this.recordEvent(o, o.record);
    const inner = this.inner.data(o.direction, o.bytes, o.at);
    for (const event of inner) {
      // The record around the first frame of each direction, for the explain view: the last
      // one of that direction (a client's frames sent before the 101 come out with the answer).
      const d = event.type === 'frame' ? event.frame.direction : null;
      if (d !== null && this.session.recordsWanted[d]) {
        const record = this.lastRecord[d];
        if (record !== null) events.push(record);
        this.lastRecord[d] = null;
        this.session.recordsWanted[d] = false;
      }
      events.push(event);
    }
  }

  private recordEvent(o: TlsPlaintext, record: NonNullable<TlsPlaintext['record']>): DissectEvent {
    const { header, layout, secret, plaintextLength } = record;
    return {
      type: 'tls-record',
      conn: this.conn,
      direction: o.direction,
      at: o.at,
      header,
      innerType: 23,
      secret,
      version: this.session.versionName ?? '?',
      cipher: this.session.cipher ?? '?',
      protection: layout.explicitNonce === null && layout.nonce.length === 16 ? 'cbc' : 'aead',
      seq: layout.seq,
      nonce: layout.nonce,
      explicitNonce: layout.explicitNonce,
      tag: layout.tag,
      ciphertextLength: layout.ciphertextLength,
      plaintextLength,
      padding: layout.padding,
    };
  }

  private count(event: DissectEvent): DissectEvent {
    const alerts: readonly Alert[] = event.type === 'alert' ? [event.alert] : event.type === 'tls' ? event.alerts : [];
    for (const a of alerts) this.alertCounts[a.severity]++;
    return event;
  }
}
