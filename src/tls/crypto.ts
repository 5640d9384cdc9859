/**
 * Key derivation and record decryption for TLS 1.2 and 1.3, with node:crypto alone.
 * Nothing here prints or returns a secret to the caller beyond the keys of the direction
 * it was asked for.
 */
import { createDecipheriv, createHmac, type DecipherCCM, type DecipherGCM } from 'node:crypto';
import type { CipherSuite, Hash, RecordProtection } from './suites.js';

const HASH_LENGTH: Record<Hash, number> = { sha1: 20, sha256: 32, sha384: 48 };

/** HKDF-Expand (RFC 5869 §2.3). */
export function hkdfExpand(hash: Hash, prk: Uint8Array, info: Uint8Array, length: number): Buffer {
  const blocks: Buffer[] = [];
  let previous: Buffer = Buffer.alloc(0);
  let have = 0;
  for (let i = 1; have < length; i++) {
    previous = createHmac(hash, prk).update(previous).update(info).update(Uint8Array.of(i)).digest();
    blocks.push(previous);
    have += previous.length;
  }
  return Buffer.concat(blocks).subarray(0, length);
}

/** HKDF-Expand-Label (RFC 8446 §7.1): the label is prefixed with "tls13 ". */
export function hkdfExpandLabel(hash: Hash, secret: Uint8Array, label: string, context: Uint8Array, length: number): Buffer {
  const fullLabel = Buffer.from(`tls13 ${label}`, 'latin1');
  const info = Buffer.alloc(2 + 1 + fullLabel.length + 1 + context.length);
  info.writeUInt16BE(length, 0);
  info[2] = fullLabel.length;
  fullLabel.copy(info, 3);
  info[3 + fullLabel.length] = context.length;
  info.set(context, 4 + fullLabel.length);
  return hkdfExpand(hash, secret, info, length);
}

/** The TLS 1.2 PRF, P_hash(secret, label + seed) (RFC 5246 §5). */
export function prf12(hash: Hash, secret: Uint8Array, label: string, seed: Uint8Array, length: number): Buffer {
  const labelSeed = Buffer.concat([Buffer.from(label, 'latin1'), seed]);
  const blocks: Buffer[] = [];
  let a: Buffer = labelSeed;
  let have = 0;
  while (have < length) {
    a = createHmac(hash, secret).update(a).digest();
    const block = createHmac(hash, secret).update(a).update(labelSeed).digest();
    blocks.push(block);
    have += block.length;
  }
  return Buffer.concat(blocks).subarray(0, length);
}

/** What one direction needs to decrypt its records. */
export interface DirectionKeys {
  key: Buffer;
  /** TLS 1.3: the 12-byte IV; TLS 1.2: the implicit part of the nonce (empty for CBC). */
  iv: Buffer;
  /** CBC suites: the HMAC key. */
  macKey: Buffer | null;
}

/** The record key and IV of a TLS 1.3 traffic secret (RFC 8446 §7.3). */
export function tls13Keys(suite: CipherSuite, secret: Uint8Array): DirectionKeys {
  const p = suite.protection!;
  return { key: hkdfExpandLabel(suite.hash, secret, 'key', new Uint8Array(0), p.keyLength), iv: hkdfExpandLabel(suite.hash, secret, 'iv', new Uint8Array(0), 12), macKey: null };
}

/** The traffic secret after a KeyUpdate (RFC 8446 §7.2). */
export function nextTrafficSecret(suite: CipherSuite, secret: Uint8Array): Buffer {
  return hkdfExpandLabel(suite.hash, secret, 'traffic upd', new Uint8Array(0), HASH_LENGTH[suite.hash]);
}

/**
 * Both directions' keys of a TLS 1.2 session from its master secret: the key block is
 * PRF(master, "key expansion", server_random + client_random), cut into the client's and the
 * server's MAC keys, then keys, then IVs (RFC 5246 §6.3).
 */
export function tls12Keys(suite: CipherSuite, master: Uint8Array, clientRandom: Uint8Array, serverRandom: Uint8Array): { client: DirectionKeys; server: DirectionKeys } {
  const p = suite.protection!;
  const macLength = p.kind === 'cbc' ? p.macLength : 0;
  const block = prf12(suite.hash, master, 'key expansion', Buffer.concat([serverRandom, clientRandom]), 2 * (macLength + p.keyLength + p.fixedIvLength));
  let at = 0;
  const take = (n: number) => block.subarray(at, (at += n));
  const clientMac = take(macLength);
  const serverMac = take(macLength);
  const clientKey = take(p.keyLength);
  const serverKey = take(p.keyLength);
  const clientIv = take(p.fixedIvLength);
  const serverIv = take(p.fixedIvLength);
  return {
    client: { key: clientKey, iv: clientIv, macKey: macLength > 0 ? clientMac : null },
    server: { key: serverKey, iv: serverIv, macKey: macLength > 0 ? serverMac : null },
  };
}

/** How a record was protected, for the explain view: what surrounds the plaintext on the wire. */
export interface RecordLayout {
  /** The record's sequence number under its key (RFC 8446 §5.3, RFC 5246 §6.1). */
  seq: number;
  /** AEAD: the nonce the record was sealed with. CBC: the record's IV. */
  nonce: Uint8Array;
  /** TLS 1.2 GCM/CCM: the 8 bytes of the nonce sent in the record (a view of it). */
  explicitNonce: Uint8Array | null;
  /** AEAD: the authentication tag; CBC: the HMAC (views of the record). */
  tag: Uint8Array;
  /** Bytes after the header that are encrypted content (with the inner type and padding in TLS 1.3). */
  ciphertextLength: number;
  /** TLS 1.3: zero bytes after the inner content type (RFC 8446 §5.4); CBC: the padding bytes, length byte included. */
  padding: number;
}

export interface DecryptedRecord {
  /** The content type: the record's own (TLS 1.2) or the inner one (TLS 1.3, §5.2). */
  type: number;
  content: Buffer;
  layout: RecordLayout;
}

/** A record as it came off the wire: its 5-byte header and its fragment. */
export interface WireRecord {
  type: number;
  version: number;
  header: Uint8Array;
  fragment: Uint8Array;
}

/**
 * Decrypts the records of one direction under one key, counting their sequence numbers.
 * A record that does not authenticate yields null and moves nothing on: the caller decides
 * whether it was lost (skip()) or belongs to another key.
 */
export class RecordDecryptor {
  /** The sequence number of the next record. */
  seq = 0;
  private readonly p: RecordProtection;

  constructor(
    readonly suite: CipherSuite,
    private readonly keys: DirectionKeys,
    private readonly tls13: boolean,
    /** RFC 7366: the MAC of a CBC record covers its ciphertext and comes after it. */
    private readonly encryptThenMac = false,
  ) {
    this.p = suite.protection!;
  }

  skip(): void {
    this.seq++;
  }

  decrypt(record: WireRecord): DecryptedRecord | null {
    const result = this.p.kind === 'cbc' ? this.openCbc(record) : this.openAead(record);
    if (result !== null) this.seq++;
    return result;
  }

  private openAead(record: WireRecord): DecryptedRecord | null {
    const p = this.p;
    const fragment = record.fragment;
    const explicitLength = this.tls13 ? 0 : p.recordIvLength;
    if (fragment.length < explicitLength + p.tagLength + (this.tls13 ? 1 : 0)) return null;
    // A nonce of its own per record: the layout keeps it (createDecipheriv copies it anyway).
    const nonce = Buffer.allocUnsafe(12);
    let explicitNonce: Uint8Array | null = null;
    if (explicitLength > 0) {
      // RFC 5288 §3: the salt from the key block, then the 8 bytes the record carries.
      this.keys.iv.copy(nonce, 0, 0, 4);
      explicitNonce = fragment.subarray(0, 8);
      nonce.set(explicitNonce, 4);
    } else {
      // RFC 8446 §5.3, RFC 7905 §2: the IV XOR the sequence number, left-padded to 12 bytes.
      this.keys.iv.copy(nonce);
      const high = Math.floor(this.seq / 2 ** 32);
      nonce.writeUInt32BE((nonce.readUInt32BE(4) ^ high) >>> 0, 4);
      nonce.writeUInt32BE((nonce.readUInt32BE(8) ^ this.seq) >>> 0, 8);
    }
    const ciphertext = fragment.subarray(explicitLength, fragment.length - p.tagLength);
    const tag = fragment.subarray(fragment.length - p.tagLength);
    // TLS 1.3 authenticates the record header (§5.2); TLS 1.2 a pseudo-header with the plaintext length (RFC 5246 §6.2.3.3).
    const aad = this.tls13 ? record.header : this.pseudoHeader(record.type, record.version, ciphertext.length);
    let content: Buffer;
    try {
      if (p.algorithm.endsWith('ccm')) {
        const decipher = createDecipheriv(p.algorithm as 'aes-128-ccm', this.keys.key, nonce, { authTagLength: p.tagLength }) as DecipherCCM;
        decipher.setAuthTag(tag);
        decipher.setAAD(aad, { plaintextLength: ciphertext.length });
        content = decipher.update(ciphertext);
        decipher.final();
      } else {
        const decipher = createDecipheriv(p.algorithm as 'aes-128-gcm', this.keys.key, nonce, { authTagLength: p.tagLength }) as DecipherGCM;
        decipher.setAAD(aad);
        decipher.setAuthTag(tag);
        content = decipher.update(ciphertext);
        decipher.final();
      }
    } catch {
      return null;
    }
    const layout: RecordLayout = { seq: this.seq, nonce, explicitNonce, tag, ciphertextLength: ciphertext.length, padding: 0 };
    if (!this.tls13) return { type: record.type, content, layout };
    // §5.4: the content, its real type, then zeros; the last non-zero byte is the type.
    let end = content.length - 1;
    while (end >= 0 && content[end] === 0) end--;
    if (end < 0) return null;
    layout.padding = content.length - 1 - end;
    return { type: content[end]!, content: content.subarray(0, end), layout };
  }

  /** RFC 5246 §6.2.3.2 (MAC, then padding, then encryption), or RFC 7366 (encryption, then MAC). */
  private openCbc(record: WireRecord): DecryptedRecord | null {
    const p = this.p;
    const fragment = record.fragment;
    const macKey = this.keys.macKey!;
    let encrypted = fragment;
    let mac: Uint8Array | null = null;
    if (this.encryptThenMac) {
      if (fragment.length < 16 + 16 + p.macLength) return null;
      encrypted = fragment.subarray(0, fragment.length - p.macLength);
      mac = fragment.subarray(fragment.length - p.macLength);
      const expected = createHmac(p.macHash!, macKey).update(this.pseudoHeader(record.type, record.version, encrypted.length)).update(encrypted).digest();
      if (!expected.equals(mac)) return null;
    }
    if (encrypted.length < 32 || encrypted.length % 16 !== 0) return null;
    const iv = encrypted.subarray(0, 16);
    let plain: Buffer;
    try {
      const decipher = createDecipheriv(p.algorithm, this.keys.key, iv).setAutoPadding(false);
      plain = Buffer.concat([decipher.update(encrypted.subarray(16)), decipher.final()]);
    } catch {
      return null;
    }
    const padLength = plain[plain.length - 1]!;
    const macLength = this.encryptThenMac ? 0 : p.macLength;
    if (padLength + 1 + macLength > plain.length) return null;
    for (let i = plain.length - 1 - padLength; i < plain.length - 1; i++) if (plain[i] !== padLength) return null;
    const contentEnd = plain.length - 1 - padLength - macLength;
    const content = plain.subarray(0, contentEnd);
    if (!this.encryptThenMac) {
      mac = plain.subarray(contentEnd, contentEnd + macLength);
      const expected = createHmac(p.macHash!, macKey).update(this.pseudoHeader(record.type, record.version, content.length)).update(content).digest();
      if (!expected.equals(mac)) return null;
    }
    return { type: record.type, content, layout: { seq: this.seq, nonce: iv, explicitNonce: null, tag: mac!, ciphertextLength: encrypted.length - 16, padding: padLength + 1 } };
  }

  /** seq_num + type + version + length: what TLS 1.2's MAC and AEAD additional data cover. */
  private pseudoHeader(type: number, version: number, length: number): Buffer {
    const b = Buffer.alloc(13);
    b.writeUInt32BE(Math.floor(this.seq / 2 ** 32), 0);
    b.writeUInt32BE(this.seq >>> 0, 4);
    b[8] = type;
    b.writeUInt16BE(version, 9);
    b.writeUInt16BE(length, 11);
    return b;
  }
}
