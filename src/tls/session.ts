/**
 * One TLS connection seen from the wire, with a key log: records in, plaintext out.
 *
 * Both directions' TCP streams are fed in capture order. The handshake in clear names the
 * connection (ClientHello, ServerHello); the key log's secrets for its client random give the
 * record keys; each record is decrypted and its application data handed on, positioned at the
 * packet where the record ends. Pure and synchronous: no I/O, never throws on traffic.
 *
 * Keys per direction (RFC 8446 §7, RFC 5246 §6.3):
 * - TLS 1.3: [early,] handshake, then application traffic secrets, each record under the first
 *   candidate that authenticates; Finished moves a side to its application secret,
 *   EndOfEarlyData off the early one, KeyUpdate to the next generation (§7.2).
 * - TLS 1.2: the master secret's key block, in force for a side from its ChangeCipherSpec.
 */
import { makeAlert, sideOf, type Alert, type AlertCode, type AlertExtra, type Direction } from '../alerts.js';
import type { DissectEvent, TlsEvent } from '../engine/events.js';
import type { StreamPosition } from '../websocket/types.js';
import type { TlsContext } from './context.js';
import { nextTrafficSecret, RecordDecryptor, tls12Keys, tls13Keys, type DecryptedRecord, type RecordLayout } from './crypto.js';
import { HandshakeReader, HandshakeType, parseClientHello, parseEncryptedExtensions, parseKeyUpdate, parseServerHello, parseSessionTicket, type ClientHello, type ServerHello } from './handshake.js';
import type { KeyLogLabel } from './keylog.js';
import { ContentType, RecordReader, type ReadRecord } from './records.js';
import { cipherSuite, isGrease, versionName, type CipherSuite } from './suites.js';

/** Application data decrypted from one record, with what the explain view shows of the record. */
export interface TlsPlaintext {
  kind: 'data';
  direction: Direction;
  bytes: Buffer;
  /** Where the record ended: the packet its plaintext is shown at. */
  at: StreamPosition;
  /** The record around it (copies), while TlsSession.recordsWanted says so. */
  record: { header: Uint8Array; layout: RecordLayout; secret: string; plaintextLength: number } | null;
}

/** What the session hands on: plaintext, bytes of plaintext that are lost, or events. */
export type TlsOutput = TlsPlaintext | { kind: 'gap'; direction: Direction; size: number; at: StreamPosition } | { kind: 'event'; event: DissectEvent };

/** One key a direction's records may be under, named after its key log line. */
interface Key {
  name: string;
  decryptor: RecordDecryptor;
  /** TLS 1.3: the traffic secret, for the next KeyUpdate. */
  secret: Buffer | null;
  stage: 'early' | 'handshake' | 'application';
}

interface Side {
  direction: Direction;
  reader: RecordReader;
  handshake: HandshakeReader;
  /** Candidate keys, the one in use first. */
  keys: Key[];
  /** TLS 1.2: the keys its next ChangeCipherSpec puts in force. */
  pending: Key | null;
  /** TLS 1.2: a ChangeCipherSpec was sent; its records are encrypted from there on. */
  changedCipher: boolean;
  /** The side's records are no longer decrypted (keys wrong, framing lost). */
  stopped: boolean;
  /** Bytes lost since the last record that authenticated (TCP gaps), for resynchronising. */
  lostBytes: number;
  records: number;
  decrypted: number;
  failedInARow: number;
  plaintextBytes: number;
  /** It sent close_notify. */
  closed: boolean;
  dataAfterCloseSaid: boolean;
  keyUpdates: number;
  /** Set by handshake messages, applied once their record is done (keys change only between records, §5.1). */
  switchTo: Key['stage'] | 'update' | null;
}

/**
 * Client records that wait for the ServerHello (0-RTT data comes before it) or, in TLS 1.3, for
 * the server's first encrypted record: at most this much per connection (servers accept 16 KiB
 * of 0-RTT data or so; the HTTP layer keeps as much of a client's early data, 1 MiB).
 */
const MAX_HELD_BYTES = 1024 * 1024;

/** TLS alert descriptions (RFC 8446 §6, RFC 5246 §7.2). */
const ALERT_NAMES: Readonly<Record<number, string>> = {
  0: 'close_notify', 10: 'unexpected_message', 20: 'bad_record_mac', 21: 'decryption_failed', 22: 'record_overflow', 30: 'decompression_failure',
  40: 'handshake_failure', 41: 'no_certificate', 42: 'bad_certificate', 43: 'unsupported_certificate', 44: 'certificate_revoked', 45: 'certificate_expired',
  46: 'certificate_unknown', 47: 'illegal_parameter', 48: 'unknown_ca', 49: 'access_denied', 50: 'decode_error', 51: 'decrypt_error', 60: 'export_restriction',
  70: 'protocol_version', 71: 'insufficient_security', 80: 'internal_error', 86: 'inappropriate_fallback', 90: 'user_canceled', 100: 'no_renegotiation',
  109: 'missing_extension', 110: 'unsupported_extension', 111: 'certificate_unobtainable', 112: 'unrecognized_name', 113: 'bad_certificate_status_response',
  114: 'bad_certificate_hash_value', 115: 'unknown_psk_identity', 116: 'certificate_required', 120: 'no_application_protocol', 121: 'ech_required',
};

export function alertName(description: number): string {
  return ALERT_NAMES[description] ?? `alert ${description}`;
}

function newSide(direction: Direction): Side {
  return {
    direction,
    reader: new RecordReader(),
    handshake: new HandshakeReader(),
    keys: [],
    pending: null,
    changedCipher: false,
    stopped: false,
    lostBytes: 0,
    records: 0,
    decrypted: 0,
    failedInARow: 0,
    plaintextBytes: 0,
    closed: false,
    dataAfterCloseSaid: false,
    keyUpdates: 0,
    switchTo: null,
  };
}

const packetOf = (at: StreamPosition): AlertExtra => (at.packet !== undefined ? { packet: at.packet } : {});

export class TlsSession {
  private readonly client = newSide('client');
  private readonly server = newSide('server');
  private clientHello: ClientHello | null = null;
  private serverHello: ServerHello | null = null;
  private helloRetry = false;
  private version: number | null = null;
  private suite: CipherSuite | null = null;
  private alpn: string | null = null;
  private earlyData: TlsEvent['earlyData'] = 'none';
  private resumed = false;
  /** The TLS 1.2 master secret in use, remembered for resumption once it has decrypted a record. */
  private master: Buffer | null = null;
  /** Why the connection cannot be decrypted, once known. */
  private reason: string | null = null;
  private keyNames: { client: string[]; server: string[] } = { client: [], server: [] };
  /** The tls event was emitted; alerts before it go inside it. */
  private announced = false;
  private readonly early: Alert[] = [];
  /** The first record was not a ClientHello: the capture began inside the connection. */
  private midstream = false;
  private sawRecord = false;
  private held: { record: ReadRecord }[] | null = [];
  private heldBytes = 0;
  private earlySkippedSaid = false;

  constructor(
    private readonly conn: number,
    private readonly context: TlsContext,
    /** Seen from the middle: named at the first bytes, its records not read (they may start anywhere). */
    private readonly fromTheMiddle = false,
  ) {}

  /** Plaintext was (or will be) handed on: the streams above are the decrypted ones. */
  get decrypting(): boolean {
    return this.client.decrypted + this.server.decrypted > 0;
  }

  /**
   * Whether the data outputs of a direction carry their record's details (header, nonce, tag):
   * copied out of buffers the record layer reuses, so only while someone wants them (the
   * dissector, until it has shown a direction's first record).
   */
  readonly recordsWanted = { client: true, server: true };

  /** The negotiated suite's name, once a ServerHello was seen. */
  get cipher(): string | null {
    return this.suite?.name ?? null;
  }

  get versionName(): string | null {
    return this.version === null ? null : versionName(this.version);
  }

  /** Bytes of application data handed on for a direction. */
  delivered(direction: Direction): number {
    return this.side(direction).plaintextBytes;
  }

  /** Records and plaintext per direction; records are unknown (null) when they were not read (seen from the middle). */
  stats(): Record<Direction, { records: number | null; plaintextBytes: number }> {
    const records = (side: Side) => (this.fromTheMiddle ? null : side.records);
    return { client: { records: records(this.client), plaintextBytes: this.client.plaintextBytes }, server: { records: records(this.server), plaintextBytes: this.server.plaintextBytes } };
  }

  push(direction: Direction, bytes: Uint8Array, pos: StreamPosition, out: TlsOutput[]): void {
    if (this.fromTheMiddle) {
      if (!this.sawRecord) this.beginsInTheMiddle(pos, out);
      return;
    }
    const side = this.side(direction);
    if (side.reader.failed) return;
    const error = side.reader.push(bytes, pos, (record) => this.onRecord(side, record, out));
    if (error !== null) {
      side.stopped = true;
      this.alert(out, 'tls.record-malformed', `The ${direction}'s stream stops being TLS records at offset ${error.offset}: ${error.reason}; the rest of it is not read.`, { direction, ...packetOf(error.at), offset: error.offset });
    }
  }

  /** Bytes of a direction missing from the capture: the records they held are lost. */
  gap(direction: Direction, size: number, pos: StreamPosition, out: TlsOutput[]): void {
    const side = this.side(direction);
    side.lostBytes += size;
    side.reader.resync();
    if (side.plaintextBytes > 0) out.push({ kind: 'gap', direction, size, at: pos });
  }

  finish(pos: StreamPosition, out: TlsOutput[]): void {
    this.release(out);
    if (!this.announced && this.sawRecord) {
      if (this.reason === null && !this.decrypting) {
        this.reason = this.clientHello === null ? 'the handshake is not in the capture' : this.serverHello === null ? (this.helloRetry ? 'no ServerHello after the HelloRetryRequest in the capture' : 'no ServerHello in the capture') : 'no encrypted record in the capture';
      }
      this.announce(pos, out);
    }
  }

  private side(direction: Direction): Side {
    return sideOf({ client: this.client, server: this.server }, direction);
  }

  private get tls13(): boolean {
    return this.version === 0x0304;
  }

  // --- records --------------------------------------------------------------------------------

  private onRecord(side: Side, record: ReadRecord, out: TlsOutput[]): void {
    side.records++;
    if (!this.sawRecord) {
      this.sawRecord = true;
      // A connection seen from its start opens with the ClientHello (§4.1.2).
      if (!(side.direction === 'client' && record.type === ContentType.Handshake && record.fragment[0] === HandshakeType.ClientHello)) this.beginsInTheMiddle(record.end, out);
    }
    if (this.midstream || side.stopped) return;
    if (record.type === ContentType.ChangeCipherSpec) {
      // TLS 1.3 sends it only for middleboxes and it changes nothing (§5); in TLS 1.2 the
      // sender's next records are under the negotiated keys (RFC 5246 §7.1).
      if (this.version !== null && !this.tls13) {
        side.changedCipher = true;
        side.keys = side.pending !== null ? [side.pending] : [];
        side.pending = null;
      }
      return;
    }
    const encrypted = this.version === null || this.tls13 ? record.type === ContentType.ApplicationData : side.changedCipher;
    if (!encrypted) {
      if (record.type === ContentType.Handshake) this.onHandshake(side, record.fragment, record, out);
      else if (record.type === ContentType.Alert) this.onAlert(side, record.fragment, record, out);
      return;
    }
    if (side.direction === 'client' && this.held !== null) {
      this.hold(record, out);
      return;
    }
    this.decryptRecord(side, record, out);
  }

  private beginsInTheMiddle(at: StreamPosition, out: TlsOutput[]): void {
    this.sawRecord = true;
    this.midstream = true;
    this.reason = 'the handshake is not in the capture (the connection began before it)';
    this.announce(at, out);
  }

  /** A client record kept until the keys it needs are known (see MAX_HELD_BYTES). */
  private hold(record: ReadRecord, out: TlsOutput[]): void {
    this.heldBytes += record.fragment.length;
    if (this.heldBytes > MAX_HELD_BYTES) {
      this.release(out);
      this.decryptRecord(this.client, record, out);
      return;
    }
    // Copies: the record may be a view of a packet that is not kept.
    this.held!.push({ record: { ...record, header: Uint8Array.from(record.header), fragment: Uint8Array.from(record.fragment) } });
  }

  private release(out: TlsOutput[]): void {
    const held = this.held;
    if (held === null) return;
    this.held = null;
    for (const { record } of held) {
      if (this.version === null) return;
      this.decryptRecord(this.client, record, out);
    }
  }

  private decryptRecord(side: Side, record: ReadRecord, out: TlsOutput[]): void {
    if (side.stopped || side.keys.length === 0) {
      this.afterFirstEncrypted(side, record, out);
      return;
    }
    let result: DecryptedRecord | null = null;
    let key: Key | null = null;
    for (let i = 0; i < side.keys.length && result === null; i++) {
      result = side.keys[i]!.decryptor.decrypt(record);
      if (result !== null) {
        key = side.keys[i]!;
        // A later candidate authenticated: the earlier ones are over (a missing handshake secret, rejected 0-RTT).
        if (i > 0) side.keys.splice(0, i);
      }
    }
    if (result === null && side.lostBytes > 0) {
      ({ result, key } = this.resynchronise(side, record, out));
      // Not a record after all (or one too far on): look for the next header.
      if (result === null) {
        side.reader.resync();
        return;
      }
    }
    if (result === null || key === null) {
      this.onFailure(side, record, out);
      this.afterFirstEncrypted(side, record, out);
      return;
    }
    side.decrypted++;
    side.failedInARow = 0;
    if (side.decrypted === 1 && this.master !== null && this.serverHello !== null) this.context.rememberSession(this.serverHello.sessionId, this.master);
    switch (result.type) {
      case ContentType.Handshake:
        this.onHandshake(side, result.content, record, out);
        break;
      case ContentType.Alert:
        this.onAlert(side, result.content, record, out);
        break;
      case ContentType.ApplicationData:
        if (side.closed && !side.dataAfterCloseSaid) {
          side.dataAfterCloseSaid = true;
          this.alert(out, 'tls.data-after-close', `The ${side.direction} sent application data after its own close_notify (RFC 8446 §6.1; RFC 5246 §7.2.1): a receiver ignores it.`, { direction: side.direction, ...packetOf(record.end) });
        }
        side.plaintextBytes += result.content.length;
        out.push({ kind: 'data', direction: side.direction, bytes: result.content, at: record.end, record: sideOf(this.recordsWanted, side.direction) ? this.keep(record, result, key) : null });
        break;
    }
    this.applySwitch(side);
    this.afterFirstEncrypted(side, record, out);
  }

  private keep(record: ReadRecord, result: DecryptedRecord, key: Key): TlsPlaintext['record'] {
    const l = result.layout;
    const layout: RecordLayout = { ...l, nonce: Uint8Array.from(l.nonce), explicitNonce: l.explicitNonce === null ? null : Uint8Array.from(l.explicitNonce), tag: Uint8Array.from(l.tag) };
    return { header: Uint8Array.from(record.header), layout, secret: key.name, plaintextLength: result.content.length };
  }

  /**
   * After a gap: the records lost moved the sequence numbers on by an unknown count, at most one
   * per 22 bytes lost (the smallest TLS 1.3 record: header, one byte and its type, a 16-byte tag).
   */
  private resynchronise(side: Side, record: ReadRecord, out: TlsOutput[]): { result: DecryptedRecord | null; key: Key | null } {
    const key = side.keys[0]!;
    const from = key.decryptor.seq;
    const tries = Math.min(1024, Math.ceil(side.lostBytes / 22) + 1);
    for (let skip = 1; skip <= tries; skip++) {
      key.decryptor.seq = from + skip;
      const result = key.decryptor.decrypt(record);
      if (result !== null) {
        side.lostBytes = 0;
        this.alert(out, 'tls.resync', `${skip} record(s) of the ${side.direction} were lost with the bytes missing from the capture; decrypting again from the record ending at packet ${record.end.packet ?? '?'}.`, { direction: side.direction, ...packetOf(record.end), detail: { recordsLost: skip } });
        return { result, key };
      }
    }
    key.decryptor.seq = from;
    return { result: null, key: null };
  }

  private onFailure(side: Side, record: ReadRecord, out: TlsOutput[]): void {
    const where = `packet ${record.end.packet ?? '?'}`;
    // 0-RTT data the server rejected or the key log cannot read: the client sends its
    // handshake-protected records next (§4.2.10), so this is skipped, not a failure.
    if (side.direction === 'client' && this.clientHello?.earlyData && this.client.decrypted === 0 && side.keys[0]?.stage !== 'early') {
      if (!this.earlySkippedSaid) {
        this.earlySkippedSaid = true;
        const why = this.earlyData === 'rejected' ? 'the server rejected it' : 'the key log has no CLIENT_EARLY_TRAFFIC_SECRET for it';
        this.alert(out, 'tls.early-data-skipped', `The client's 0-RTT data (from ${where}) is not shown: ${why}.`, { direction: side.direction, ...packetOf(record.end) });
      }
      return;
    }
    side.failedInARow++;
    const first = side.decrypted === 0;
    if (first || side.failedInARow >= 8) {
      side.stopped = true;
      const names = side.keys.map((k) => k.name).join(', ');
      const message = first
        ? `The ${side.direction}'s first encrypted record (${where}) does not decrypt with the key log's ${names}: the key log is for another session, or the capture is damaged; this direction is not decrypted.`
        : `${side.failedInARow} records of the ${side.direction} in a row do not authenticate (the last at ${where}); this direction is no longer decrypted.`;
      this.alert(out, 'tls.decrypt-failed', message, { direction: side.direction, ...packetOf(record.end) });
      if (first && this.reason === null && !this.decrypting) this.reason = 'its records do not decrypt with the key log (a key log for another session?)';
      return;
    }
    // A damaged record: its sequence number is used up all the same.
    side.keys[0]!.decryptor.skip();
    this.alert(out, 'tls.decrypt-failed', `The ${side.direction}'s record ending at ${where} does not authenticate (bytes damaged in the capture?); its content is lost.`, { direction: side.direction, ...packetOf(record.end) });
    if (side.plaintextBytes > 0) out.push({ kind: 'gap', direction: side.direction, size: record.fragment.length, at: record.end });
  }

  /** The connection is announced once the first record that tests the keys has been tried. */
  private afterFirstEncrypted(side: Side, record: ReadRecord, out: TlsOutput[]): void {
    if (this.announced) return;
    // TLS 1.3: the server's EncryptedExtensions carry the negotiated ALPN: announce after it.
    if (this.tls13 && side.direction !== 'server') return;
    this.announce(record.end, out);
    if (this.tls13) this.release(out);
  }

  // --- handshake ------------------------------------------------------------------------------

  private onHandshake(side: Side, bytes: Uint8Array, record: ReadRecord, out: TlsOutput[]): void {
    for (const message of side.handshake.push(bytes)) {
      if (message.body === null) {
        if (side.handshake.oversized) {
          side.handshake.oversized = false;
          this.alert(out, 'tls.handshake-malformed', `A handshake message of type ${message.type} from the ${side.direction} declares more than 64 KiB; it is skipped.`, { direction: side.direction, ...packetOf(record.end) });
        }
        continue;
      }
      this.onMessage(side, message.type, message.body, record, out);
    }
  }

  private onMessage(side: Side, type: number, body: Uint8Array, record: ReadRecord, out: TlsOutput[]): void {
    const malformed = (what: string) => this.alert(out, 'tls.handshake-malformed', `The ${side.direction}'s ${what} does not parse.`, { direction: side.direction, ...packetOf(record.end) });
    switch (type) {
      case HandshakeType.ClientHello: {
        if (side.direction !== 'client') return;
        const hello = parseClientHello(body);
        if (hello === null) return malformed('ClientHello');
        // The ClientHello after a HelloRetryRequest keeps the random (§4.1.2); a new one in TLS 1.2 is a renegotiation.
        this.clientHello = hello;
        return;
      }
      case HandshakeType.ServerHello: {
        if (side.direction !== 'server') return;
        const hello = parseServerHello(body);
        if (hello === null) return malformed('ServerHello');
        this.onServerHello(hello, record, out);
        return;
      }
      case HandshakeType.EncryptedExtensions: {
        const ee = parseEncryptedExtensions(body);
        if (ee === null) return malformed('EncryptedExtensions');
        this.alpn = ee.alpn;
        if (this.clientHello?.earlyData) {
          this.earlyData = ee.earlyData ? 'accepted' : 'rejected';
          // Rejected 0-RTT data is never read by the server: not shown either.
          if (!ee.earlyData) this.client.keys = this.client.keys.filter((k) => k.stage !== 'early');
        }
        return;
      }
      case HandshakeType.NewSessionTicket: {
        if (this.tls13 || this.master === null) return;
        const ticket = parseSessionTicket(body);
        if (ticket !== null) this.context.rememberTicket(ticket, this.master);
        return;
      }
      case HandshakeType.EndOfEarlyData:
        side.switchTo = 'handshake';
        return;
      case HandshakeType.Finished:
        if (this.tls13 && side.keys[0]?.stage === 'handshake') side.switchTo = 'application';
        return;
      case HandshakeType.KeyUpdate:
        if (parseKeyUpdate(body) === null) return malformed('KeyUpdate');
        if (this.tls13) side.switchTo = 'update';
        return;
    }
  }

  /** Keys change between records only (RFC 8446 §5.1). */
  private applySwitch(side: Side): void {
    const to = side.switchTo;
    if (to === null) return;
    side.switchTo = null;
    if (to === 'update') {
      const current = side.keys[0];
      if (current === undefined || current.secret === null || this.suite === null) return;
      side.keyUpdates++;
      const secret = nextTrafficSecret(this.suite, current.secret);
      const base = current.name.replace(/ after .*$/, '');
      side.keys = [{ name: `${base} after ${side.keyUpdates} KeyUpdate${side.keyUpdates === 1 ? '' : 's'}`, secret, stage: 'application', decryptor: new RecordDecryptor(this.suite, tls13Keys(this.suite, secret), true) }];
      return;
    }
    const at = side.keys.findIndex((k) => k.stage === to);
    if (at > 0) side.keys.splice(0, at);
  }

  private onServerHello(hello: ServerHello, record: ReadRecord, out: TlsOutput[]): void {
    if (hello.helloRetry) {
      // A HelloRetryRequest: the real ServerHello follows the client's second ClientHello (§4.1.4).
      this.helloRetry = true;
      return;
    }
    const renegotiation = this.serverHello !== null;
    this.serverHello = hello;
    this.version = hello.selectedVersion ?? hello.version;
    this.suite = cipherSuite(hello.cipherSuite);
    // TLS 1.3 sends the ALPN answer encrypted, in EncryptedExtensions.
    if (this.version !== 0x0304) this.alpn = hello.alpn;
    if (this.clientHello === null) {
      this.reason = 'the ClientHello is not in the capture';
    } else if (this.version === 0x0304) {
      this.setUp13(this.clientHello, hello);
    } else if (this.version === 0x0303) {
      this.setUp12(this.clientHello, hello);
    } else {
      this.reason = `${versionName(this.version)} is not decrypted (only TLS 1.2 and 1.3)`;
    }
    if (renegotiation) return;
    if (this.reason !== null) {
      this.announce(record.end, out);
      this.release(out);
    } else if (!this.tls13) {
      this.release(out);
    }
  }

  private keysOf(hello: ClientHello): ReadonlyMap<KeyLogLabel, Buffer> | undefined {
    return this.context.keyLog.secrets(hello.random);
  }

  private noKeyReason(hello: ClientHello): string {
    const random = hello.random.toString('hex');
    const keyLog = this.context.keyLog;
    if (keyLog.sources === 0) return 'no key log (--keylog FILE)';
    return keyLog.size === 0 ? 'the key log holds no secret' : `no key for this session in the key log (client random ${random.slice(0, 16)}…)`;
  }

  private setUp13(ch: ClientHello, sh: ServerHello): void {
    const suite = this.suite!;
    this.resumed = sh.psk;
    if (ch.earlyData && this.earlyData === 'none') this.earlyData = 'unknown';
    if (suite.protection === null || !suite.tls13) {
      this.reason = `${suite.name} is not decrypted by wsdump`;
      return;
    }
    const secrets = this.keysOf(ch);
    const key = (label: KeyLogLabel, stage: Key['stage']): Key[] => {
      const secret = secrets?.get(label);
      return secret === undefined ? [] : [{ name: label, secret, stage, decryptor: new RecordDecryptor(suite, tls13Keys(suite, secret), true) }];
    };
    // 0-RTT data is sealed with the client's early secret (§7.1); its suite is the resumed session's, which the server must keep to accept it (§4.2.10).
    this.client.keys = [...(ch.earlyData ? key('CLIENT_EARLY_TRAFFIC_SECRET', 'early') : []), ...key('CLIENT_HANDSHAKE_TRAFFIC_SECRET', 'handshake'), ...key('CLIENT_TRAFFIC_SECRET_0', 'application')];
    this.server.keys = [...key('SERVER_HANDSHAKE_TRAFFIC_SECRET', 'handshake'), ...key('SERVER_TRAFFIC_SECRET_0', 'application')];
    this.keyNames = { client: this.client.keys.map((k) => k.name), server: this.server.keys.map((k) => k.name) };
    if (this.client.keys.length + this.server.keys.length === 0) this.reason = this.noKeyReason(ch);
  }

  private setUp12(ch: ClientHello, sh: ServerHello): void {
    const suite = this.suite!;
    this.resumed = sh.sessionId.length > 0 && sh.sessionId.equals(ch.sessionId);
    if (suite.protection === null || suite.tls13) {
      this.reason = `${suite.name} is not decrypted by wsdump`;
      return;
    }
    // The key log names the connection by its client random; a resumed session may instead be
    // one decrypted earlier in the capture, found by session ID or ticket (RFC 5077 §3.4).
    let master = this.keysOf(ch)?.get('CLIENT_RANDOM');
    let source = 'CLIENT_RANDOM';
    if (master === undefined && this.resumed) {
      master = this.context.sessionMaster(sh.sessionId) ?? (ch.ticket !== null ? this.context.ticketMaster(ch.ticket) : undefined);
      source = 'CLIENT_RANDOM of the session resumed';
    }
    if (master === undefined) {
      this.reason = this.noKeyReason(ch);
      return;
    }
    this.master = master;
    const keys = tls12Keys(suite, master, ch.random, sh.random);
    // RFC 7366: encrypt-then-MAC applies to CBC suites when both hellos carry the extension.
    const etm = sh.encryptThenMac && suite.protection.kind === 'cbc';
    this.client.pending = { name: source, secret: null, stage: 'application', decryptor: new RecordDecryptor(suite, keys.client, false, etm) };
    this.server.pending = { name: source, secret: null, stage: 'application', decryptor: new RecordDecryptor(suite, keys.server, false, etm) };
    this.keyNames = { client: [source], server: [source] };
  }

  // --- alerts ---------------------------------------------------------------------------------

  private onAlert(side: Side, bytes: Uint8Array, record: ReadRecord, out: TlsOutput[]): void {
    for (let at = 0; at + 1 < bytes.length; at += 2) {
      const level = bytes[at]!;
      const description = bytes[at + 1]!;
      const name = alertName(description);
      const extra: AlertExtra = { direction: side.direction, ...packetOf(record.end), detail: { level, description, name } };
      if (description === 0) {
        side.closed = true;
        this.alert(out, 'tls.close-notify', `The ${side.direction} sent close_notify: it will send nothing more on this connection.`, extra);
      } else {
        const kind = level === 2 ? 'a fatal' : level === 1 ? 'a warning' : `a level-${level}`;
        this.alert(out, 'tls.alert', `The ${side.direction} sent ${kind} alert ${name} (${description}).`, extra);
        if (level === 2 && !this.announced) {
          this.reason ??= `the handshake failed (${name} from the ${side.direction})`;
          this.announce(record.end, out);
        }
      }
    }
  }

  private alert(out: TlsOutput[], code: AlertCode, message: string, extra: AlertExtra): void {
    const alert = makeAlert(code, message, extra);
    if (this.announced) out.push({ kind: 'event', event: { type: 'alert', conn: this.conn, alert } });
    else this.early.push(alert);
  }

  private announce(at: StreamPosition, out: TlsOutput[]): void {
    if (this.announced) return;
    this.announced = true;
    const ch = this.clientHello;
    const decrypted = this.decrypting;
    const event: TlsEvent = {
      type: 'tls',
      conn: this.conn,
      at,
      version: this.version !== null ? versionName(this.version) : null,
      cipher: this.suite?.name ?? null,
      sni: ch?.sni ?? null,
      alpn: this.alpn,
      offeredAlpn: ch?.alpn ?? [],
      offeredVersions: ch === null ? [] : (ch.versions.length > 0 ? ch.versions : [ch.version]).filter((v) => !isGrease(v)).map(versionName),
      offeredCiphers: ch === null ? [] : ch.cipherSuites.filter((c) => !isGrease(c)).map((c) => cipherSuite(c).name),
      clientRandom: ch?.random.toString('hex') ?? null,
      resumed: this.resumed,
      helloRetry: this.helloRetry,
      earlyData: this.earlyData,
      decrypted,
      reason: decrypted ? null : (this.reason ?? 'no record was decrypted'),
      keys: this.keyNames,
      alerts: this.early.splice(0),
    };
    out.push({ kind: 'event', event });
  }
}
