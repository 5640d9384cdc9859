import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HandshakeReader, HELLO_RETRY_RANDOM, parseClientHello, parseEncryptedExtensions, parseServerHello } from '../../src/tls/handshake.js';
import { runs } from '../helpers/fuzz.js';

/** A ClientHello body as RFC 8446 §4.1.2 lays it out, with the extensions given. */
function clientHello(extensions: [number, number[]][], suites = [0x1301, 0x0a0a, 0xc02f]): Uint8Array {
  const ext = extensions.flatMap(([type, body]) => [type >> 8, type & 0xff, body.length >> 8, body.length & 0xff, ...body]);
  return Uint8Array.from([3, 3, ...Array(32).fill(0x42), 2, 0xab, 0xcd, 0, suites.length * 2, ...suites.flatMap((s) => [s >> 8, s & 0xff]), 1, 0, ext.length >> 8, ext.length & 0xff, ...ext]);
}
const sni = (name: string) => {
  const n = [...Buffer.from(name)];
  return [0, n.length + 3, 0, n.length >> 8, n.length & 0xff, ...n];
};
const alpn = (...names: string[]) => {
  const list = names.flatMap((p) => [p.length, ...Buffer.from(p)]);
  return [list.length >> 8, list.length & 0xff, ...list];
};

describe('handshake messages', () => {
  it('reads a ClientHello: random, session ID, suites, SNI, ALPN, versions, 0-RTT, ticket, EtM', () => {
    const hello = parseClientHello(clientHello([[0, sni('example.org')], [16, alpn('h2', 'http/1.1')], [43, [4, 3, 4, 3, 3]], [42, []], [35, [9, 9]], [22, []], [23, []], [41, [0]]]))!;
    expect(hello).toMatchObject({ version: 0x0303, sni: 'example.org', alpn: ['h2', 'http/1.1'], versions: [0x0304, 0x0303], earlyData: true, psk: true, encryptThenMac: true, extendedMasterSecret: true, ech: false, cipherSuites: [0x1301, 0x0a0a, 0xc02f] });
    expect(hello.random).toEqual(Buffer.alloc(32, 0x42));
    expect(hello.sessionId).toEqual(Buffer.from([0xab, 0xcd]));
    expect(hello.ticket).toEqual(Buffer.from([9, 9]));
  });

  it('reads a ServerHello and knows a HelloRetryRequest by its random (RFC 8446 §4.1.3)', () => {
    const body = (random: Buffer) => Uint8Array.from([3, 3, ...random, 0, 0x13, 0x02, 0, 0, 6, 0, 43, 0, 2, 3, 4]);
    expect(parseServerHello(body(Buffer.alloc(32, 1)))).toMatchObject({ cipherSuite: 0x1302, selectedVersion: 0x0304, helloRetry: false });
    expect(parseServerHello(body(HELLO_RETRY_RANDOM))!.helloRetry).toBe(true);
    expect(HELLO_RETRY_RANDOM.toString('hex')).toBe('cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c');
  });

  it('reads ALPN and early_data from EncryptedExtensions', () => {
    expect(parseEncryptedExtensions(Uint8Array.from([0, 13, 0, 16, 0, 5, 0, 3, 2, 104, 50, 0, 42, 0, 0]))).toEqual({ alpn: 'h2', earlyData: true });
  });

  it('a message cut anywhere gives null, never an exception', () => {
    const whole = clientHello([[0, sni('cut.example')], [16, alpn('http/1.1')]]);
    expect(parseClientHello(whole)).not.toBeNull();
    // A hello may end before its extensions (they are optional before TLS 1.2): that cut parses.
    const withoutExtensions = 2 + 32 + 3 + 2 + 6 + 2;
    for (let n = 0; n < whole.length; n++) expect(parseClientHello(whole.subarray(0, n)) === null, `cut at ${n}`).toBe(n !== withoutExtensions);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        parseClientHello(bytes);
        parseServerHello(bytes);
        parseEncryptedExtensions(bytes);
        new HandshakeReader().push(bytes);
      }),
      { numRuns: runs(200) },
    );
  });

  it('reassembles messages across records and skips the ones it does not read without keeping them', () => {
    const hello = clientHello([]);
    const messages = Uint8Array.from([1, 0, hello.length >> 8, hello.length & 0xff, ...hello, 11, 0x01, 0x00, 0x00, ...Array(65536).fill(7), 20, 0, 0, 2, 0xfa, 0xce]);
    for (const cut of [1, 3, 4, 50, hello.length + 4, hello.length + 6, messages.length - 3]) {
      const reader = new HandshakeReader();
      const got = [...reader.push(messages.subarray(0, cut)), ...reader.push(messages.subarray(cut))];
      expect(got.map((m) => [m.type, m.body?.length ?? null])).toEqual([[1, hello.length], [11, null], [20, 2]]);
    }
  });

  it('reads the real ClientHellos of the fixtures (Chromium: GREASE, a post-quantum key share)', () => {
    const capture = readFileSync('fixtures/tls/chromium-tls13.pcap');
    // The ClientHello is the first handshake record of the capture: find it by its header.
    const at = capture.indexOf(Buffer.from([0x16, 0x03, 0x01]));
    const length = capture.readUInt16BE(at + 3);
    const record = capture.subarray(at + 5, at + 5 + length);
    const [message] = new HandshakeReader().push(record);
    const hello = parseClientHello(message!.body!)!;
    expect(hello.sni).toBe('localhost');
    expect(hello.versions).toContain(0x0304);
    expect(hello.cipherSuites.some((s) => (s & 0x0f0f) === 0x0a0a)).toBe(true);
  });
});
