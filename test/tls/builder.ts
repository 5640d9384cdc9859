/**
 * TLS bytes written from the RFCs for the tests: handshake messages, records, and a sender that
 * seals records on node:crypto's ciphers. Real peers' traffic is in fixtures/tls; these cover
 * what real peers do rarely (old versions, alerts, renegotiation, data after close_notify) and
 * every suite shape.
 */
import { createCipheriv, createHmac, randomBytes } from 'node:crypto';
import type { DirectionKeys, WireRecord } from '../../src/tls/crypto.js';
import { cipherSuite } from '../../src/tls/suites.js';

export const u16 = (n: number) => Buffer.from([n >> 8, n & 0xff]);
const vec8 = (body: Uint8Array) => Buffer.concat([Buffer.from([body.length]), body]);
const vec16 = (body: Uint8Array) => Buffer.concat([u16(body.length), body]);
export const extension = (type: number, body: Uint8Array = Buffer.alloc(0)) => Buffer.concat([u16(type), vec16(body)]);

export const sni = (name: string) => extension(0, vec16(Buffer.concat([Buffer.from([0]), vec16(Buffer.from(name, 'latin1'))])));
export const alpn = (...names: string[]) => extension(16, vec16(Buffer.concat(names.map((n) => vec8(Buffer.from(n))))));
export const clientVersions = (...versions: number[]) => extension(43, vec8(Buffer.concat(versions.map(u16))));
export const serverVersion = (version: number) => extension(43, u16(version));

export function clientHello(o: { random: Uint8Array; sessionId?: Uint8Array; suites: number[]; extensions?: Uint8Array[] }): Buffer {
  return Buffer.concat([u16(0x0303), o.random, vec8(o.sessionId ?? Buffer.alloc(0)), vec16(Buffer.concat(o.suites.map(u16))), Buffer.from([1, 0]), vec16(Buffer.concat(o.extensions ?? []))]);
}

export function serverHello(o: { version?: number; random: Uint8Array; sessionId?: Uint8Array; suite: number; extensions?: Uint8Array[] }): Buffer {
  return Buffer.concat([u16(o.version ?? 0x0303), o.random, vec8(o.sessionId ?? Buffer.alloc(0)), u16(o.suite), Buffer.from([0]), vec16(Buffer.concat(o.extensions ?? []))]);
}

export const handshake = (type: number, body: Uint8Array) => Buffer.concat([Buffer.from([type, body.length >> 16, (body.length >> 8) & 0xff, body.length & 0xff]), body]);
export const record = (type: number, payload: Uint8Array, version = 0x0303) => Buffer.concat([Buffer.from([type]), u16(version), vec16(payload)]);

function pseudoHeader(seq: number, type: number, length: number): Buffer {
  const b = Buffer.alloc(13);
  b.writeBigUInt64BE(BigInt(seq));
  b[8] = type;
  b.writeUInt16BE(0x0303, 9);
  b.writeUInt16BE(length, 11);
  return b;
}

function asRecord(type: number, fragment: Buffer): WireRecord {
  const header = Buffer.from([type, 3, 3, fragment.length >> 8, fragment.length & 0xff]);
  return { type, version: 0x0303, header, fragment };
}

function xorNonce(iv: Buffer, seq: number): Buffer {
  const nonce = Buffer.from(iv);
  const s = Buffer.alloc(8);
  s.writeBigUInt64BE(BigInt(seq));
  for (let i = 0; i < 8; i++) nonce[4 + i]! ^= s[i]!;
  return nonce;
}

type SetAad = { setAAD(a: Buffer, o?: object): void };

/** A TLS 1.3 record (RFC 8446 §5.2): the content, its type, zero padding, sealed with the header as additional data. */
export function seal13(code: number, keys: DirectionKeys, seq: number, type: number, content: Buffer, padding = 0): WireRecord {
  const p = cipherSuite(code).protection!;
  const inner = Buffer.concat([content, Buffer.from([type]), Buffer.alloc(padding)]);
  const header = Buffer.from([23, 3, 3, (inner.length + p.tagLength) >> 8, (inner.length + p.tagLength) & 0xff]);
  const cipher = createCipheriv(p.algorithm as 'aes-128-gcm', keys.key, xorNonce(keys.iv, seq), { authTagLength: p.tagLength });
  (cipher as unknown as SetAad).setAAD(header, p.algorithm.endsWith('ccm') ? { plaintextLength: inner.length } : undefined);
  const sealed = Buffer.concat([cipher.update(inner), cipher.final(), cipher.getAuthTag()]);
  return { type: 23, version: 0x0303, header, fragment: sealed };
}

/** A TLS 1.2 AEAD record: GCM and CCM with an explicit nonce (RFC 5288 §3), ChaCha20-Poly1305 without (RFC 7905). */
export function seal12Aead(code: number, keys: DirectionKeys, seq: number, type: number, content: Buffer): WireRecord {
  const p = cipherSuite(code).protection!;
  const explicit = p.recordIvLength > 0 ? randomBytes(8) : Buffer.alloc(0);
  const nonce = p.recordIvLength > 0 ? Buffer.concat([keys.iv, explicit]) : xorNonce(keys.iv, seq);
  const cipher = createCipheriv(p.algorithm as 'aes-128-gcm', keys.key, nonce, { authTagLength: p.tagLength });
  (cipher as unknown as SetAad).setAAD(pseudoHeader(seq, type, content.length), p.algorithm.endsWith('ccm') ? { plaintextLength: content.length } : undefined);
  return asRecord(type, Buffer.concat([explicit, cipher.update(content), cipher.final(), cipher.getAuthTag()]));
}

/** A TLS 1.2 CBC record: MAC-then-encrypt (RFC 5246 §6.2.3.2) or encrypt-then-MAC (RFC 7366). */
export function seal12Cbc(code: number, keys: DirectionKeys, seq: number, type: number, content: Buffer, encryptThenMac: boolean): WireRecord {
  const p = cipherSuite(code).protection!;
  const iv = randomBytes(16);
  const encrypt = (plain: Buffer) => {
    const c = createCipheriv(p.algorithm, keys.key, iv).setAutoPadding(false);
    return Buffer.concat([iv, c.update(plain), c.final()]);
  };
  const pad = (body: Buffer) => {
    const n = 15 - (body.length % 16);
    return Buffer.concat([body, Buffer.alloc(n + 1, n)]);
  };
  if (encryptThenMac) {
    const encrypted = encrypt(pad(content));
    const mac = createHmac(p.macHash!, keys.macKey!).update(pseudoHeader(seq, type, encrypted.length)).update(encrypted).digest();
    return asRecord(type, Buffer.concat([encrypted, mac]));
  }
  const mac = createHmac(p.macHash!, keys.macKey!).update(pseudoHeader(seq, type, content.length)).update(content).digest();
  return asRecord(type, encrypt(pad(Buffer.concat([content, mac]))));
}

/** The bytes of a sealed record on the wire. */
export const wire = (r: WireRecord) => Buffer.concat([r.header, r.fragment]);
