import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HandshakeReader, HELLO_RETRY_RANDOM, parseClientHello, parseEncryptedExtensions, parseServerHello } from '../../src/tls/handshake.js';
import { runs } from '../helpers/fuzz.js';
import { alpn, clientHello, clientVersions, extension, sni } from './builder.js';

/** A ClientHello body (RFC 8446 §4.1.2) with these extensions and suites (one GREASE). */
const hello = (extensions: Buffer[], suites = [0x1301, 0x0a0a, 0xc02f]) => clientHello({ random: Buffer.alloc(32, 0x42), sessionId: Buffer.from([0xab, 0xcd]), suites, extensions });

describe('handshake messages', () => {
  it('reads a ClientHello: random, session ID, suites, SNI, ALPN, versions, 0-RTT, ticket, EtM', () => {
    const parsed = parseClientHello(hello([sni('example.org'), alpn('h2', 'http/1.1'), clientVersions(0x0304, 0x0303), extension(42), extension(35, Buffer.from([9, 9])), extension(22), extension(23), extension(41, Buffer.from([0]))]))!;
    expect(parsed).toMatchObject({ version: 0x0303, sni: 'example.org', alpn: ['h2', 'http/1.1'], versions: [0x0304, 0x0303], earlyData: true, psk: true, encryptThenMac: true, extendedMasterSecret: true, ech: false, cipherSuites: [0x1301, 0x0a0a, 0xc02f] });
    expect(parsed.random).toEqual(Buffer.alloc(32, 0x42));
    expect(parsed.sessionId).toEqual(Buffer.from([0xab, 0xcd]));
    expect(parsed.ticket).toEqual(Buffer.from([9, 9]));
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
    const whole = hello([sni('cut.example'), alpn('http/1.1')]);
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
    const body = hello([]);
    const messages = Uint8Array.from([1, 0, body.length >> 8, body.length & 0xff, ...body, 11, 0x01, 0x00, 0x00, ...Array(65536).fill(7), 20, 0, 0, 2, 0xfa, 0xce]);
    for (const cut of [1, 3, 4, 50, body.length + 4, body.length + 6, messages.length - 3]) {
      const reader = new HandshakeReader();
      const got = [...reader.push(messages.subarray(0, cut)), ...reader.push(messages.subarray(cut))];
      expect(got.map((m) => [m.type, m.body?.length ?? null])).toEqual([[1, body.length], [11, null], [20, 2]]);
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
