import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hkdfExpandLabel, nextTrafficSecret, prf12, RecordDecryptor, tls12Keys, tls13Keys, type WireRecord } from '../../src/tls/crypto.js';
import { cipherSuite } from '../../src/tls/suites.js';
import { seal12Aead, seal12Cbc, seal13 } from './builder.js';

const hex = (s: string) => Buffer.from(s.replace(/[: ]/g, ''), 'hex');

// Reference values from OpenSSL 3.0's own KDFs, an implementation independent of ours:
//   openssl kdf -keylen 16 -kdfopt digest:SHA256 -kdfopt mode:EXPAND_ONLY -kdfopt hexkey:aa…aa \
//     -kdfopt hexinfo:001009746c733133206b657900 HKDF          (HkdfLabel of "tls13 key", RFC 8446 §7.1)
//   openssl kdf -keylen 72 -kdfopt digest:SHA256 -kdfopt hexsecret:cc…cc \
//     -kdfopt hexseed:<"key expansion"><32 × 11><32 × 22> TLS1-PRF     (RFC 5246 §5)
describe('key derivation', () => {
  const secret = Buffer.alloc(32, 0xaa);

  it('HKDF-Expand-Label gives what OpenSSL gives (RFC 8446 §7.1)', () => {
    expect(hkdfExpandLabel('sha256', secret, 'key', new Uint8Array(0), 16)).toEqual(hex('CB:0C:A6:B2:D1:77:8E:32:55:CA:5E:A7:75:66:2F:2B'));
    expect(hkdfExpandLabel('sha256', secret, 'iv', new Uint8Array(0), 12)).toEqual(hex('53:91:19:54:10:5B:F6:00:9C:B7:D6:C7'));
  });

  it('a KeyUpdate derives the next secret with "traffic upd" (RFC 8446 §7.2), SHA-384 for a SHA-384 suite', () => {
    const suite = cipherSuite(0x1302);
    expect(nextTrafficSecret(suite, Buffer.alloc(48, 0xbb))).toEqual(
      hex('4B:17:37:66:40:F3:9C:FD:58:92:61:00:F3:8A:03:D4:59:83:C2:C9:F2:10:57:9C:FA:D3:4F:03:0C:CF:D6:0F:84:5A:13:25:27:5C:F7:FE:DF:00:E9:2E:CF:2F:B6:4D'),
    );
  });

  it('the TLS 1.2 PRF gives what OpenSSL gives, with SHA-256 and SHA-384 (RFC 5246 §5)', () => {
    const master = Buffer.alloc(48, 0xcc);
    const seed = Buffer.concat([Buffer.alloc(32, 0x11), Buffer.alloc(32, 0x22)]);
    expect(prf12('sha256', master, 'key expansion', seed, 72)).toEqual(
      hex('E2:51:E5:5A:D8:43:04:CF:3B:20:F0:04:34:14:0A:22:CE:0A:E1:6D:82:08:71:DD:F0:BD:25:B2:EC:CB:30:E9:6D:CC:6B:86:79:B1:08:43:81:64:61:3A:A1:4F:84:63:D1:43:E9:15:E7:24:CE:50:FA:2E:49:D4:51:18:43:C7:D0:46:90:57:B0:73:80:C8'),
    );
    expect(prf12('sha384', master, 'key expansion', seed, 100)).toEqual(
      hex('C7:B0:62:BE:A1:BA:1E:E9:36:E9:BD:7C:6A:E1:5A:2A:5A:9B:44:D3:3E:9C:59:84:11:F6:E0:8D:B2:85:44:11:A7:58:76:77:AB:87:42:77:AF:22:30:F6:59:A5:38:7E:9A:34:88:8F:B1:40:BE:99:F9:04:E1:86:32:0D:1A:3D:99:8A:F5:49:CE:49:83:CD:04:7C:A0:72:41:EC:98:0A:01:DB:F2:71:2E:86:6A:B9:93:5E:94:05:D6:CB:41:A2:54:9F:E0:3A'),
    );
  });

  it('cuts the TLS 1.2 key block into MAC keys, keys and IVs in the order of RFC 5246 §6.3', () => {
    const master = Buffer.alloc(48, 0xcc);
    const client = Buffer.alloc(32, 0x22);
    const server = Buffer.alloc(32, 0x11);
    const block = prf12('sha256', master, 'key expansion', Buffer.concat([server, client]), 72);
    // TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: 2 × 20 MAC + 2 × 16 key, no IV.
    const cbc = tls12Keys(cipherSuite(0xc013), master, client, server);
    expect([cbc.client.macKey, cbc.server.macKey, cbc.client.key, cbc.server.key]).toEqual([block.subarray(0, 20), block.subarray(20, 40), block.subarray(40, 56), block.subarray(56, 72)]);
    // TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 2 × 16 key, 2 × 4 salt.
    const gcm = tls12Keys(cipherSuite(0xc02f), master, client, server);
    expect([gcm.client.key, gcm.server.key, gcm.client.iv, gcm.server.iv]).toEqual([block.subarray(0, 16), block.subarray(16, 32), block.subarray(32, 36), block.subarray(36, 40)]);
  });
});

function record(type: number, fragment: Buffer): WireRecord {
  return { type, version: 0x0303, header: Buffer.from([type, 3, 3, fragment.length >> 8, fragment.length & 0xff]), fragment };
}

describe('record decryption', () => {
  const content = Buffer.from('\x81\x05Hello, a WebSocket frame inside TLS', 'latin1');

  it.each([
    [0x1301, 'TLS_AES_128_GCM_SHA256'],
    [0x1302, 'TLS_AES_256_GCM_SHA384'],
    [0x1303, 'TLS_CHACHA20_POLY1305_SHA256'],
    [0x1304, 'TLS_AES_128_CCM_SHA256'],
    [0x1305, 'TLS_AES_128_CCM_8_SHA256'],
  ])('TLS 1.3 %s (%s): the inner type and padding, sequence numbers, tampering', (code, name) => {
    const suite = cipherSuite(code);
    expect(suite.name).toBe(name);
    const keys = tls13Keys(suite, randomBytes(suite.hash === 'sha384' ? 48 : 32));
    const d = new RecordDecryptor(suite, keys, true);
    for (let seq = 0; seq < 3; seq++) {
      const opened = d.decrypt(seal13(code, keys, seq, 23, content, seq * 7));
      expect(opened?.content).toEqual(content);
      expect(opened?.type).toBe(23);
      expect(opened?.layout.padding).toBe(seq * 7);
      expect(opened?.layout.seq).toBe(seq);
    }
    // Sealed under a sequence number the decryptor is not at: it does not authenticate.
    expect(d.decrypt(seal13(code, keys, 7, 23, content))).toBeNull();
    const good = seal13(code, keys, 3, 22, content);
    const tampered = { ...good, fragment: Buffer.from(good.fragment) };
    tampered.fragment[2]! ^= 1;
    expect(d.decrypt(tampered)).toBeNull();
    expect(d.seq).toBe(3);
    expect(d.decrypt(good)?.type).toBe(22);
  });

  it.each([
    [0xc02f, 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256'],
    [0xc030, 'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384'],
    [0x009c, 'TLS_RSA_WITH_AES_128_GCM_SHA256'],
    [0xcca8, 'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256'],
    [0xc0ac, 'TLS_ECDHE_ECDSA_WITH_AES_128_CCM'],
    [0xc0ae, 'TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8'],
  ])('TLS 1.2 AEAD %s (%s): explicit nonces, the pseudo-header with the sequence number', (code, name) => {
    const suite = cipherSuite(code);
    expect(suite.name).toBe(name);
    const keys = tls12Keys(suite, randomBytes(48), randomBytes(32), randomBytes(32)).client;
    const d = new RecordDecryptor(suite, keys, false);
    expect(d.decrypt(seal12Aead(code, keys, 0, 22, content))?.content).toEqual(content);
    expect(d.decrypt(seal12Aead(code, keys, 1, 23, content))?.content).toEqual(content);
    // The type is authenticated: a record claiming another one fails.
    const wrongType = seal12Aead(code, keys, 2, 23, content);
    expect(d.decrypt({ ...wrongType, type: 21 })).toBeNull();
    expect(d.decrypt(wrongType)?.layout.seq).toBe(2);
  });

  it.each([
    [0xc013, false],
    [0xc013, true],
    [0xc027, false],
    [0xc028, true],
    [0x0035, false],
  ])('TLS 1.2 CBC 0x%s (encrypt-then-MAC: %s): padding, MAC, tampering', (code, etm) => {
    const suite = cipherSuite(code);
    const keys = tls12Keys(suite, randomBytes(48), randomBytes(32), randomBytes(32)).server;
    const d = new RecordDecryptor(suite, keys, false, etm);
    const opened = d.decrypt(seal12Cbc(code, keys, 0, 23, content, etm));
    expect(opened?.content).toEqual(content);
    expect(opened?.layout.tag.length).toBe(suite.protection!.macLength);
    // The other construction's record does not pass as this one.
    expect(d.decrypt(seal12Cbc(code, keys, 1, 23, content, !etm))).toBeNull();
    const good = seal12Cbc(code, keys, 1, 23, content, etm);
    const tampered = { ...good, fragment: Buffer.from(good.fragment) };
    tampered.fragment[tampered.fragment.length - 1]! ^= 0x80;
    expect(d.decrypt(tampered)).toBeNull();
    expect(d.decrypt(good)?.content).toEqual(content);
  });

  it('never throws on records too short or of garbage, for every decryptable shape', () => {
    for (const code of [0x1301, 0x1303, 0x1305, 0xc02f, 0xcca8, 0xc013]) {
      const suite = cipherSuite(code);
      const keys = suite.tls13 ? tls13Keys(suite, randomBytes(32)) : tls12Keys(suite, randomBytes(48), randomBytes(32), randomBytes(32)).client;
      for (const etm of [false, true]) {
        const d = new RecordDecryptor(suite, keys, suite.tls13, etm);
        for (const length of [0, 1, 8, 15, 16, 17, 24, 31, 32, 47, 48, 100]) expect(d.decrypt(record(23, randomBytes(length)))).toBeNull();
      }
    }
  });
});

describe('cipher suites', () => {
  it('names every suite by its IANA name and knows which it can decrypt', () => {
    expect(cipherSuite(0x1301)).toMatchObject({ name: 'TLS_AES_128_GCM_SHA256', tls13: true, hash: 'sha256' });
    expect(cipherSuite(0xc030)).toMatchObject({ name: 'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384', tls13: false, hash: 'sha384' });
    expect(cipherSuite(0xc028).protection).toMatchObject({ kind: 'cbc', macHash: 'sha384', macLength: 48 });
    expect(cipherSuite(0x000a)).toMatchObject({ name: 'TLS_RSA_WITH_3DES_EDE_CBC_SHA', protection: null });
    expect(cipherSuite(0xc05c).protection).toBeNull(); // ARIA
    expect(cipherSuite(0x1a1a).name).toBe('GREASE');
    expect(cipherSuite(0xfefe).name).toBe('0xfefe');
  });
});
