/**
 * The handshake messages wsdump reads (RFC 8446 §4, RFC 5246 §7.4): enough of ClientHello,
 * ServerHello, EncryptedExtensions, NewSessionTicket and KeyUpdate to name a connection and to
 * know which keys protect which records. Pure: bytes in, facts out; a message that does not
 * parse gives null, never an exception.
 */
import { createHash } from 'node:crypto';

/** Handshake message types (RFC 8446 §4, RFC 5246 §7.4). */
export const HandshakeType = {
  HelloRequest: 0,
  ClientHello: 1,
  ServerHello: 2,
  NewSessionTicket: 4,
  EndOfEarlyData: 5,
  EncryptedExtensions: 8,
  Certificate: 11,
  Finished: 20,
  KeyUpdate: 24,
} as const;

/** Extension types (IANA "TLS ExtensionType Values"). */
const Ext = {
  ServerName: 0,
  Alpn: 16,
  EncryptThenMac: 22,
  ExtendedMasterSecret: 23,
  SessionTicket: 35,
  PreSharedKey: 41,
  EarlyData: 42,
  SupportedVersions: 43,
  EncryptedClientHello: 0xfe0d,
} as const;

/** RFC 8446 §4.1.3: a ServerHello with this random is a HelloRetryRequest. */
export const HELLO_RETRY_RANDOM: Buffer = createHash('sha256').update('HelloRetryRequest').digest();

export interface ClientHello {
  /** legacy_version (0x0303 in TLS 1.3 hellos, §4.1.2). */
  version: number;
  random: Buffer;
  sessionId: Buffer;
  cipherSuites: number[];
  /** The host_name of server_name (RFC 6066 §3), as sent (latin1), or null. */
  sni: string | null;
  alpn: string[];
  /** supported_versions (§4.2.1); empty when the extension is absent. */
  versions: number[];
  /** early_data (§4.2.10): the client sends 0-RTT data after this hello. */
  earlyData: boolean;
  /** SessionTicket (RFC 5077 §3.2) with a ticket: the client asks to resume a TLS 1.2 session. */
  ticket: Buffer | null;
  /** pre_shared_key (§4.2.11): a TLS 1.3 resumption or external PSK. */
  psk: boolean;
  /** encrypt_then_mac (RFC 7366), extended_master_secret (RFC 7627). */
  encryptThenMac: boolean;
  extendedMasterSecret: boolean;
  /** encrypted_client_hello: the real hello (and its random) is encrypted. */
  ech: boolean;
}

export interface ServerHello {
  version: number;
  random: Buffer;
  sessionId: Buffer;
  cipherSuite: number;
  /** The version supported_versions selected (§4.2.1), or null (TLS 1.2 and older). */
  selectedVersion: number | null;
  helloRetry: boolean;
  /** ALPN as selected in a TLS 1.2 ServerHello. */
  alpn: string | null;
  encryptThenMac: boolean;
  extendedMasterSecret: boolean;
  psk: boolean;
}

export interface EncryptedExtensions {
  alpn: string | null;
  /** The server accepted 0-RTT data (§4.2.10). */
  earlyData: boolean;
}

/** A message whose vectors overrun their container. */
class Truncated extends Error {}

/** Reads big-endian fields and length-prefixed vectors from a message body. */
class Cursor {
  private at = 0;

  constructor(private readonly bytes: Uint8Array) {}

  get done(): boolean {
    return this.at >= this.bytes.length;
  }

  u8(): number {
    if (this.at + 1 > this.bytes.length) throw new Truncated();
    return this.bytes[this.at++]!;
  }

  u16(): number {
    return (this.u8() << 8) | this.u8();
  }

  take(n: number): Uint8Array {
    if (this.at + n > this.bytes.length) throw new Truncated();
    const out = this.bytes.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }

  /** The rest as big-endian 16-bit values (cipher suites, versions). */
  u16s(): number[] {
    const out: number[] = [];
    while (!this.done) out.push(this.u16());
    return out;
  }

  vector8(): Cursor {
    return new Cursor(this.take(this.u8()));
  }

  vector16(): Cursor {
    return new Cursor(this.take(this.u16()));
  }

  rest(): Uint8Array {
    return this.take(this.bytes.length - this.at);
  }
}

/** Each extension's type and body; none when the (optional, pre-TLS 1.2) block is absent. */
function extensions(c: Cursor): Map<number, Cursor> {
  const out = new Map<number, Cursor>();
  if (c.done) return out;
  const list = c.vector16();
  while (!list.done) {
    const type = list.u16();
    const body = list.vector16();
    // A repeated extension is an error for the peer (§4.2); the first one is what is shown.
    if (!out.has(type)) out.set(type, body);
  }
  return out;
}

function protocolNames(c: Cursor): string[] {
  const names: string[] = [];
  const list = c.vector16();
  while (!list.done) names.push(Buffer.from(list.vector8().rest()).toString('latin1'));
  return names;
}

function serverName(c: Cursor): string | null {
  const list = c.vector16();
  while (!list.done) {
    const type = list.u8();
    const name = list.vector16().rest();
    if (type === 0) return Buffer.from(name).toString('latin1');
  }
  return null;
}

function parse<T>(body: Uint8Array, read: (c: Cursor) => T): T | null {
  try {
    return read(new Cursor(body));
  } catch (error) {
    if (error instanceof Truncated) return null;
    throw error;
  }
}

export function parseClientHello(body: Uint8Array): ClientHello | null {
  return parse(body, (c) => {
    const version = c.u16();
    const random = Buffer.from(c.take(32));
    const sessionId = Buffer.from(c.vector8().rest());
    const cipherSuites = c.vector16().u16s();
    c.vector8(); // compression methods
    const ext = extensions(c);
    const versions = ext.get(Ext.SupportedVersions)?.vector8().u16s() ?? [];
    const ticket = ext.get(Ext.SessionTicket)?.rest();
    const sni = ext.get(Ext.ServerName);
    const alpn = ext.get(Ext.Alpn);
    return {
      version,
      random,
      sessionId,
      cipherSuites,
      sni: sni !== undefined ? serverName(sni) : null,
      alpn: alpn !== undefined ? protocolNames(alpn) : [],
      versions,
      earlyData: ext.has(Ext.EarlyData),
      ticket: ticket !== undefined && ticket.length > 0 ? Buffer.from(ticket) : null,
      psk: ext.has(Ext.PreSharedKey),
      encryptThenMac: ext.has(Ext.EncryptThenMac),
      extendedMasterSecret: ext.has(Ext.ExtendedMasterSecret),
      ech: ext.has(Ext.EncryptedClientHello),
    };
  });
}

export function parseServerHello(body: Uint8Array): ServerHello | null {
  return parse(body, (c) => {
    const version = c.u16();
    const random = Buffer.from(c.take(32));
    const sessionId = Buffer.from(c.vector8().rest());
    const cipherSuite = c.u16();
    c.u8(); // compression method
    const ext = extensions(c);
    const sv = ext.get(Ext.SupportedVersions);
    const alpn = ext.get(Ext.Alpn);
    return {
      version,
      random,
      sessionId,
      cipherSuite,
      selectedVersion: sv !== undefined ? sv.u16() : null,
      helloRetry: random.equals(HELLO_RETRY_RANDOM),
      alpn: alpn !== undefined ? (protocolNames(alpn)[0] ?? null) : null,
      encryptThenMac: ext.has(Ext.EncryptThenMac),
      extendedMasterSecret: ext.has(Ext.ExtendedMasterSecret),
      psk: ext.has(Ext.PreSharedKey),
    };
  });
}

export function parseEncryptedExtensions(body: Uint8Array): EncryptedExtensions | null {
  return parse(body, (c) => {
    const ext = extensions(c);
    const alpn = ext.get(Ext.Alpn);
    return { alpn: alpn !== undefined ? (protocolNames(alpn)[0] ?? null) : null, earlyData: ext.has(Ext.EarlyData) };
  });
}

/** TLS 1.2 NewSessionTicket (RFC 5077 §3.3): the ticket a later ClientHello may offer. */
export function parseSessionTicket(body: Uint8Array): Buffer | null {
  return parse(body, (c) => {
    c.take(4); // ticket_lifetime_hint
    return Buffer.from(c.vector16().rest());
  });
}

/** KeyUpdate (§4.6.3): whether the sender asks the peer to update its keys too. */
export function parseKeyUpdate(body: Uint8Array): { updateRequested: boolean } | null {
  return parse(body, (c) => ({ updateRequested: c.u8() === 1 }));
}

/** One handshake message off the stream: its type and, for the types wsdump reads, its body. */
export interface HandshakeMessage {
  type: number;
  /** null for messages that are only skipped (certificates and the like). */
  body: Uint8Array | null;
}

/** The types whose bodies are kept; other messages (certificates …) are skipped without buffering. */
const READ = new Set<number>([HandshakeType.ClientHello, HandshakeType.ServerHello, HandshakeType.NewSessionTicket, HandshakeType.EndOfEarlyData, HandshakeType.EncryptedExtensions, HandshakeType.Finished, HandshakeType.KeyUpdate, HandshakeType.HelloRequest]);
/** A ClientHello with post-quantum key shares is a few KB; nothing read here comes near this. */
const MAX_READ_BODY = 64 * 1024;

/**
 * Handshake messages reassembled from the records of one direction: a message may span records
 * and a record may hold several (RFC 8446 §5.1).
 */
export class HandshakeReader {
  private header = new Uint8Array(4);
  private headerHave = 0;
  private body: Uint8Array | null = null;
  private bodyHave = 0;
  private remaining = 0;
  private type = -1;
  /** A message's body declared beyond MAX_READ_BODY: it is skipped, and said so. */
  oversized = false;

  /** Bytes of handshake content, in order; returns the messages completed by them. */
  push(bytes: Uint8Array): HandshakeMessage[] {
    const out: HandshakeMessage[] = [];
    let at = 0;
    while (at < bytes.length) {
      if (this.type < 0) {
        const n = Math.min(4 - this.headerHave, bytes.length - at);
        this.header.set(bytes.subarray(at, at + n), this.headerHave);
        this.headerHave += n;
        at += n;
        if (this.headerHave < 4) break;
        this.type = this.header[0]!;
        this.remaining = (this.header[1]! << 16) | (this.header[2]! << 8) | this.header[3]!;
        this.headerHave = 0;
        const keep = READ.has(this.type);
        if (keep && this.remaining > MAX_READ_BODY) this.oversized = true;
        this.body = keep && this.remaining <= MAX_READ_BODY ? new Uint8Array(this.remaining) : null;
        this.bodyHave = 0;
      }
      const n = Math.min(this.remaining, bytes.length - at);
      if (this.body !== null) this.body.set(bytes.subarray(at, at + n), this.bodyHave);
      this.bodyHave += n;
      this.remaining -= n;
      at += n;
      if (this.remaining === 0) {
        out.push({ type: this.type, body: this.body });
        this.type = -1;
        this.body = null;
      }
    }
    return out;
  }
}
