import { CIPHER_SUITE_NAMES } from './suite-names.js';

/** A hash as node:crypto names it. */
export type Hash = 'sha1' | 'sha256' | 'sha384';

/** How records of a cipher suite are protected, as far as decrypting them needs to know. */
export interface RecordProtection {
  kind: 'aead' | 'cbc';
  /** The node:crypto cipher: aes-128-gcm, chacha20-poly1305, aes-128-ccm, aes-256-cbc … */
  algorithm: string;
  keyLength: number;
  /**
   * TLS 1.2: bytes of the IV taken from the key block (RFC 5246 §6.3): the 4-byte salt of GCM
   * and CCM (RFC 5288 §3, RFC 6655 §3), the whole 12-byte nonce mask of ChaCha20-Poly1305
   * (RFC 7905 §2), none for CBC. TLS 1.3 always derives a 12-byte IV (RFC 8446 §7.3).
   */
  fixedIvLength: number;
  /** TLS 1.2: bytes at the front of each record: the explicit nonce (GCM, CCM: 8) or the CBC IV (16). */
  recordIvLength: number;
  /** The AEAD tag: 16, or 8 for the CCM_8 suites. */
  tagLength: number;
  /** CBC suites: the HMAC (RFC 5246 §6.2.3.1) and its length. */
  macHash: Hash | null;
  macLength: number;
}

export interface CipherSuite {
  code: number;
  /** The IANA name, or the code in hex when it is not in the registry we know. */
  name: string;
  /** A TLS 1.3 suite (RFC 8446 §B.4): AEAD and hash only, the key exchange is negotiated apart. */
  tls13: boolean;
  /** TLS 1.3: the HKDF hash; TLS 1.2: the PRF hash (RFC 5246 §5: SHA-256 unless the suite names SHA-384). */
  hash: 'sha256' | 'sha384';
  /** null when wsdump cannot decrypt this suite (RC4, 3DES, CAMELLIA, ARIA, unknown codes …). */
  protection: RecordProtection | null;
}

const AEAD: Record<string, Omit<RecordProtection, 'macHash' | 'macLength'>> = {
  AES_128_GCM: { kind: 'aead', algorithm: 'aes-128-gcm', keyLength: 16, fixedIvLength: 4, recordIvLength: 8, tagLength: 16 },
  AES_256_GCM: { kind: 'aead', algorithm: 'aes-256-gcm', keyLength: 32, fixedIvLength: 4, recordIvLength: 8, tagLength: 16 },
  AES_128_CCM: { kind: 'aead', algorithm: 'aes-128-ccm', keyLength: 16, fixedIvLength: 4, recordIvLength: 8, tagLength: 16 },
  AES_256_CCM: { kind: 'aead', algorithm: 'aes-256-ccm', keyLength: 32, fixedIvLength: 4, recordIvLength: 8, tagLength: 16 },
  AES_128_CCM_8: { kind: 'aead', algorithm: 'aes-128-ccm', keyLength: 16, fixedIvLength: 4, recordIvLength: 8, tagLength: 8 },
  AES_256_CCM_8: { kind: 'aead', algorithm: 'aes-256-ccm', keyLength: 32, fixedIvLength: 4, recordIvLength: 8, tagLength: 8 },
  CHACHA20_POLY1305: { kind: 'aead', algorithm: 'chacha20-poly1305', keyLength: 32, fixedIvLength: 12, recordIvLength: 0, tagLength: 16 },
};

const CBC: Record<string, { algorithm: string; keyLength: number }> = {
  AES_128_CBC: { algorithm: 'aes-128-cbc', keyLength: 16 },
  AES_256_CBC: { algorithm: 'aes-256-cbc', keyLength: 32 },
};

const MAC: Record<string, { hash: Hash; length: number }> = {
  SHA: { hash: 'sha1', length: 20 },
  SHA256: { hash: 'sha256', length: 32 },
  SHA384: { hash: 'sha384', length: 48 },
};

/** TLS 1.3 names: TLS_<AEAD>_<HASH> (RFC 8446 §B.4). */
const TLS13_NAME = /^TLS_(AES_128_GCM|AES_256_GCM|CHACHA20_POLY1305|AES_128_CCM|AES_128_CCM_8)_(SHA256|SHA384)$/;
/** TLS 1.2 names: TLS_<key exchange>_WITH_<cipher>[_<MAC or PRF hash>]. */
const TLS12_NAME = /^TLS_.+_WITH_(AES_(?:128|256)_(?:GCM|CCM(?:_8)?|CBC)|CHACHA20_POLY1305)(?:_(SHA|SHA256|SHA384))?$/;

const cache = new Map<number, CipherSuite>();

/** What is known about a cipher suite code; the record protection is derived from its IANA name. */
export function cipherSuite(code: number): CipherSuite {
  let suite = cache.get(code);
  if (suite !== undefined) return suite;
  const known = CIPHER_SUITE_NAMES[code];
  const name = known ?? (isGrease(code) ? 'GREASE' : `0x${code.toString(16).padStart(4, '0')}`);
  suite = { code, name, tls13: false, hash: 'sha256', protection: null };
  const m13 = known !== undefined ? TLS13_NAME.exec(known) : null;
  const m12 = known !== undefined ? TLS12_NAME.exec(known) : null;
  if (m13 !== null) {
    suite.tls13 = true;
    suite.hash = m13[2] === 'SHA384' ? 'sha384' : 'sha256';
    suite.protection = { ...AEAD[m13[1]!]!, fixedIvLength: 12, recordIvLength: 0, macHash: null, macLength: 0 };
  } else if (m12 !== null) {
    const cipher = m12[1]!;
    const suffix = m12[2];
    suite.hash = suffix === 'SHA384' ? 'sha384' : 'sha256';
    const aead = AEAD[cipher];
    const cbc = CBC[cipher];
    if (aead !== undefined) suite.protection = { ...aead, macHash: null, macLength: 0 };
    else if (cbc !== undefined && suffix !== undefined) {
      const mac = MAC[suffix]!;
      suite.protection = { kind: 'cbc', algorithm: cbc.algorithm, keyLength: cbc.keyLength, fixedIvLength: 0, recordIvLength: 16, tagLength: 0, macHash: mac.hash, macLength: mac.length };
    }
  }
  cache.set(code, suite);
  return suite;
}

/** RFC 8701: the reserved GREASE values 0x?A?A, sent to keep peers honest. */
export function isGrease(value: number): boolean {
  return (value & 0x0f0f) === 0x0a0a && value >> 8 === (value & 0xff);
}

/** A protocol version as people say it: "TLS 1.3", "SSL 3.0", "TLS 1.3 (draft 28)". */
export function versionName(version: number): string {
  switch (version) {
    case 0x0300:
      return 'SSL 3.0';
    case 0x0301:
      return 'TLS 1.0';
    case 0x0302:
      return 'TLS 1.1';
    case 0x0303:
      return 'TLS 1.2';
    case 0x0304:
      return 'TLS 1.3';
  }
  if (version >> 8 === 0x7f) return `TLS 1.3 (draft ${version & 0xff})`;
  if (isGrease(version)) return 'GREASE';
  return `0x${version.toString(16).padStart(4, '0')}`;
}
