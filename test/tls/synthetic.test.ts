/**
 * TLS connections written from the RFCs (test/tls/builder.ts) for what the real-peer fixtures
 * do not hold: versions and suites that are named but not decrypted, a handshake that fails,
 * ALPN h2, data after close_notify, a renegotiation, bytes that are not records, an SNI made to
 * attack the terminal.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Direction } from '../../src/alerts.js';
import { ConnectionDissector } from '../../src/engine/connection-dissector.js';
import type { DissectEvent } from '../../src/engine/events.js';
import { eventToJson } from '../../src/render/json.js';
import { TableRenderer } from '../../src/render/table.js';
import { TlsContext } from '../../src/tls/context.js';
import { tls12Keys, type DirectionKeys } from '../../src/tls/crypto.js';
import { TlsDissector } from '../../src/tls/dissector.js';
import { KeyLog } from '../../src/tls/keylog.js';
import { cipherSuite } from '../../src/tls/suites.js';
import { alpn, clientHello, handshake, record, seal12Aead, serverHello, sni, wire } from './builder.js';

const GCM = 0xc02f; // TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256

/** A connection fed piece by piece, packet numbers counting up; its events as --json shows them. */
class Wire {
  readonly keyLog = new KeyLog();
  private readonly tls: TlsDissector;
  private packet = 0;
  readonly events: DissectEvent[] = [];

  constructor() {
    this.tls = new TlsDissector(1, new ConnectionDissector(1), new TlsContext(this.keyLog));
  }

  send(direction: Direction, bytes: Uint8Array): this {
    this.events.push(...this.tls.data(direction, bytes, { packet: ++this.packet, ts: this.packet }));
    return this;
  }

  json(): Record<string, any>[] {
    return [...this.events, ...this.tls.finish({ packet: this.packet })].map((e) => eventToJson(e));
  }
}

/** A TLS 1.2 session of one suite: hellos in clear, then each side's records sealed with the master secret's keys. */
function tls12(suite = GCM, o: { serverExtensions?: Buffer[]; clientExtensions?: Buffer[] } = {}) {
  const w = new Wire();
  const cr = randomBytes(32);
  const sr = randomBytes(32);
  const master = randomBytes(48);
  w.keyLog.add(`CLIENT_RANDOM ${cr.toString('hex')} ${master.toString('hex')}`);
  w.send('client', record(22, handshake(1, clientHello({ random: cr, suites: [suite], extensions: [sni('example.org'), ...(o.clientExtensions ?? [])] })), 0x0301));
  w.send('server', record(22, handshake(2, serverHello({ random: sr, suite, extensions: o.serverExtensions ?? [] }))));
  const protectable = cipherSuite(suite).protection !== null;
  return { w, cr, sr, master, senders: protectable ? senders(suite, tls12Keys(cipherSuite(suite), master, cr, sr)) : () => Buffer.alloc(0) };
}

function senders(suite: number, keys: { client: DirectionKeys; server: DirectionKeys }) {
  const seq = { client: 0, server: 0 };
  return (direction: Direction, type: number, content: Uint8Array) => wire(seal12Aead(suite, keys[direction], seq[direction]++, type, Buffer.from(content)));
}

/** Both sides' ChangeCipherSpec and Finished: the handshake's end under the new keys (RFC 5246 §7.4.9). */
function finish(w: Wire, seal: ReturnType<typeof senders>) {
  for (const side of ['client', 'server'] as const) w.send(side, Buffer.concat([record(20, Buffer.from([1])), seal(side, 22, handshake(20, randomBytes(12)))]));
}

describe('TLS written from the RFCs', () => {
  it('names TLS 1.1 and a 3DES suite, and says why neither is decrypted', () => {
    const old = new Wire();
    old.send('client', record(22, handshake(1, clientHello({ random: randomBytes(32), suites: [0x002f] })), 0x0301));
    old.send('server', record(22, handshake(2, serverHello({ version: 0x0302, random: randomBytes(32), suite: 0x002f })), 0x0302));
    expect(old.json().find((e) => e.type === 'tls')).toMatchObject({ version: 'TLS 1.1', cipher: 'TLS_RSA_WITH_AES_128_CBC_SHA', decrypted: false, reason: 'TLS 1.1 is not decrypted (only TLS 1.2 and 1.3)' });
    const { w } = tls12(0x000a);
    expect(w.json().find((e) => e.type === 'tls')).toMatchObject({ version: 'TLS 1.2', cipher: 'TLS_RSA_WITH_3DES_EDE_CBC_SHA', decrypted: false, reason: 'TLS_RSA_WITH_3DES_EDE_CBC_SHA is not decrypted by wsdump' });
  });

  it('a fatal alert instead of a ServerHello: the handshake failed, by name', () => {
    const w = new Wire();
    w.send('client', record(22, handshake(1, clientHello({ random: randomBytes(32), suites: [GCM] })), 0x0301));
    w.send('server', record(21, Buffer.from([2, 40])));
    const tls = w.json().find((e) => e.type === 'tls')!;
    expect(tls).toMatchObject({ version: null, decrypted: false, reason: 'the handshake failed (handshake_failure from the server)', packet: 2 });
    expect(tls.alerts).toEqual([expect.objectContaining({ code: 'tls.alert', severity: 'warning', from: 'server', packet: 2, detail: { level: 2, description: 40, name: 'handshake_failure' } })]);
  });

  it('decrypts TLS 1.2 and flags application data after the sender\'s close_notify', () => {
    const { w, senders: seal } = tls12();
    finish(w, seal);
    w.send('client', seal('client', 23, Buffer.from('hello')));
    w.send('client', seal('client', 21, Buffer.from([1, 0])));
    w.send('client', seal('client', 23, Buffer.from('after close')));
    w.send('client', seal('client', 23, Buffer.from('and again')));
    const json = w.json();
    expect(json.find((e) => e.type === 'tls')).toMatchObject({ decrypted: true, keys: { client: ['CLIENT_RANDOM'], server: ['CLIENT_RANDOM'] } });
    const alerts = json.filter((e) => e.type === 'alert').map((e) => [e.code, e.from, e.packet]);
    expect(alerts).toEqual([
      ['tls.close-notify', 'client', 6],
      ['tls.data-after-close', 'client', 7],
    ]);
    expect(json.find((e) => e.type === 'end')).toMatchObject({ tls: { client: { plaintextBytes: 'hello'.length + 'after close'.length + 'and again'.length } } });
  });

  it('ALPN h2: decrypted, and said to be HTTP/2, not fed to the HTTP/1.1 dissector', () => {
    const { w, senders: seal } = tls12(GCM, { clientExtensions: [alpn('h2', 'http/1.1')], serverExtensions: [alpn('h2')] });
    finish(w, seal);
    w.send('client', seal('client', 23, Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n')));
    const json = w.json();
    expect(json.find((e) => e.type === 'tls')).toMatchObject({ alpn: 'h2', offeredAlpn: ['h2', 'http/1.1'] });
    expect(json.find((e) => e.type === 'other')).toMatchObject({ kind: 'not-http', note: expect.stringMatching(/^HTTP\/2 \(ALPN h2\)/) });
    expect(json.find((e) => e.type === 'end')).toMatchObject({ kind: 'not-http' });
    expect(json.some((e) => e.type === 'handshake')).toBe(false);
  });

  it('follows a TLS 1.2 renegotiation: new hellos under the old keys, the new keys from the next ChangeCipherSpec', () => {
    const { w, senders: seal } = tls12();
    finish(w, seal);
    w.send('client', seal('client', 23, Buffer.from('before')));
    const cr2 = randomBytes(32);
    const sr2 = randomBytes(32);
    const master2 = randomBytes(48);
    w.keyLog.add(`CLIENT_RANDOM ${cr2.toString('hex')} ${master2.toString('hex')}`);
    w.send('client', seal('client', 22, handshake(1, clientHello({ random: cr2, suites: [GCM] }))));
    w.send('server', seal('server', 22, handshake(2, serverHello({ random: sr2, suite: GCM }))));
    const seal2 = senders(GCM, tls12Keys(cipherSuite(GCM), master2, cr2, sr2));
    // The ChangeCipherSpec records are themselves under the old keys (RFC 5246 §7.1).
    for (const side of ['server', 'client'] as const) w.send(side, Buffer.concat([seal(side, 20, Buffer.from([1])), seal2(side, 22, handshake(20, randomBytes(12)))]));
    w.send('client', seal2('client', 23, Buffer.from('after')));
    const json = w.json();
    expect(json.filter((e) => e.type === 'alert')).toEqual([]);
    expect(json.find((e) => e.type === 'end')).toMatchObject({ tls: { client: { plaintextBytes: 'before'.length + 'after'.length } } });
  });

  it('bytes that are not a record stop that direction, with the offset, and nothing else', () => {
    const { w, senders: seal } = tls12();
    finish(w, seal);
    w.send('server', Buffer.from('HTTP/1.1 200 OK\r\n\r\n'));
    w.send('client', seal('client', 23, Buffer.from('still read')));
    const json = w.json();
    const malformed = json.filter((e) => e.type === 'alert' && e.code === 'tls.record-malformed');
    expect(malformed).toEqual([expect.objectContaining({ severity: 'error', from: 'server', packet: 5, message: expect.stringMatching(/^The server's stream stops being TLS records at offset \d+: bytes 48 54 54 50 2f are not a TLS record header/) })]);
    expect(json.find((e) => e.type === 'end')).toMatchObject({ tls: { client: { plaintextBytes: 'still read'.length } } });
  });

  it('an SNI that would drive the terminal is shown escaped', () => {
    const w = new Wire();
    // server_name is bytes (RFC 6066 §3), shown as latin1: the C1 control 0x9b is a CSI too.
    w.send('client', record(22, handshake(1, clientHello({ random: randomBytes(32), suites: [GCM], extensions: [sni('evil\x1b[2J\x9b31m.example')] })), 0x0301));
    w.send('server', record(22, handshake(2, serverHello({ random: randomBytes(32), suite: GCM }))));
    const table = new TableRenderer({ colorLevel: 0, width: 120 });
    const text = [...w.events].map((e) => table.render(e)).join('');
    expect(text).toContain('SNI evil\\e[2J\\x9b31m.example');
    expect(text).not.toMatch(/[\x1b\x9b]/);
  });
});
