/**
 * The SSLKEYLOGFILE format (RFC 9850, first NSS's): one secret per line,
 * `LABEL <client random, 64 hex digits> <secret in hex>`, lines starting with `#` are comments.
 * The client random names the connection (it is in the ClientHello, in clear).
 *
 * Key logs hold secrets: nothing here prints them, and the secrets never leave this object
 * except to derive the keys of the connection they belong to.
 */

/** The labels wsdump uses (RFC 9850 §3). Others (exporter secrets, ECH) are counted and ignored. */
export const KEYLOG_LABELS = [
  'CLIENT_RANDOM', // TLS 1.0-1.2: the 48-byte master secret
  'CLIENT_EARLY_TRAFFIC_SECRET', // TLS 1.3 0-RTT
  'CLIENT_HANDSHAKE_TRAFFIC_SECRET',
  'SERVER_HANDSHAKE_TRAFFIC_SECRET',
  'CLIENT_TRAFFIC_SECRET_0',
  'SERVER_TRAFFIC_SECRET_0',
] as const;

export type KeyLogLabel = (typeof KEYLOG_LABELS)[number];

/** Labels of RFC 9850 that carry nothing a decryption needs. */
const KNOWN_UNUSED = new Set(['EARLY_EXPORTER_SECRET', 'EXPORTER_SECRET', 'ECH_SECRET', 'ECH_CONFIG', 'RSA']);

/** What one `add` found, for a message to the user (never the secrets). */
export interface KeyLogStats {
  /** Lines that give a secret wsdump can use. */
  used: number;
  /** Lines with a label wsdump does not use (exporter secrets, ECH, RSA pre-master secrets). */
  unused: number;
  /** Lines that are neither a comment nor `LABEL hex hex`. */
  malformed: number;
}

const HEX = /^[0-9a-fA-F]+$/;
/** NSS's older form for TLS 1.2 sessions named by their session ID. */
const SESSION_LINE = /^RSA Session-ID:([0-9a-fA-F]+) Master-Key:([0-9a-fA-F]{96})$/;
const LABELS: ReadonlySet<string> = new Set(KEYLOG_LABELS);

/** The secrets of the connections a key log names, by client random. */
export class KeyLog {
  private readonly byRandom = new Map<string, Map<KeyLogLabel, Buffer>>();
  private readonly bySessionId = new Map<string, Buffer>();
  /** Texts added (files, Decryption Secrets Blocks), whatever they held. */
  private texts = 0;

  /** How many key log texts were given: none means no key log at all. */
  get sources(): number {
    return this.texts;
  }

  /** Sessions (client randoms and session IDs) with at least one secret. */
  get size(): number {
    return this.byRandom.size + this.bySessionId.size;
  }

  /** Reads key log text (a file, or a pcapng Decryption Secrets Block). Later lines win. */
  add(text: string | Uint8Array): KeyLogStats {
    const stats: KeyLogStats = { used: 0, unused: 0, malformed: 0 };
    this.texts++;
    const content = typeof text === 'string' ? text : Buffer.from(text.buffer, text.byteOffset, text.length).toString('latin1');
    for (const raw of content.split('\n')) {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) continue;
      const session = SESSION_LINE.exec(line);
      if (session !== null) {
        this.bySessionId.set(session[1]!.toLowerCase(), Buffer.from(session[2]!, 'hex'));
        stats.used++;
        continue;
      }
      const [label, random, secret, extra] = line.split(/\s+/);
      if (label === undefined || random === undefined || secret === undefined || extra !== undefined || !HEX.test(random) || !HEX.test(secret) || secret.length % 2 !== 0) {
        stats.malformed++;
        continue;
      }
      if (!LABELS.has(label)) {
        if (KNOWN_UNUSED.has(label) || /^[A-Z0-9_]+$/.test(label)) stats.unused++;
        else stats.malformed++;
        continue;
      }
      // The client random is 32 bytes; a TLS 1.2 master secret is 48 (RFC 5246 §8.1).
      if (random.length !== 64 || (label === 'CLIENT_RANDOM' && secret.length !== 96)) {
        stats.malformed++;
        continue;
      }
      const key = random.toLowerCase();
      let secrets = this.byRandom.get(key);
      if (secrets === undefined) {
        secrets = new Map();
        this.byRandom.set(key, secrets);
      }
      secrets.set(label as KeyLogLabel, Buffer.from(secret, 'hex'));
      stats.used++;
    }
    return stats;
  }

  /**
   * Called when a connection's client random is not in the key log, before giving up: a live
   * capture's key log grows as sessions start (a browser appends to SSLKEYLOGFILE), and the
   * caller may add what was appended since. (The CLI sets it for input read from stdin.)
   */
  onMiss: (() => void) | null = null;

  /** The secrets logged for the connection with this client random. */
  secrets(clientRandom: Uint8Array): ReadonlyMap<KeyLogLabel, Buffer> | undefined {
    const key = Buffer.from(clientRandom.buffer, clientRandom.byteOffset, clientRandom.length).toString('hex');
    let found = this.byRandom.get(key);
    if (found === undefined && this.onMiss !== null) {
      this.onMiss();
      found = this.byRandom.get(key);
    }
    return found;
  }

  /** A TLS 1.2 master secret logged by session ID (`RSA Session-ID:… Master-Key:…`). */
  masterBySessionId(sessionId: Uint8Array): Buffer | undefined {
    if (sessionId.length === 0) return undefined;
    return this.bySessionId.get(Buffer.from(sessionId.buffer, sessionId.byteOffset, sessionId.length).toString('hex'));
  }
}
