import { KeyLog } from './keylog.js';

/** Remembered sessions (for TLS 1.2 resumption) are capped: the oldest are forgotten first. */
const MAX_REMEMBERED = 4096;

function key(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex');
}

function remember(map: Map<string, Buffer>, id: Uint8Array, master: Buffer): void {
  if (id.length === 0) return;
  const k = key(id);
  map.delete(k);
  map.set(k, master);
  if (map.size > MAX_REMEMBERED) map.delete(map.keys().next().value!);
}

/**
 * What the TLS layer knows across the connections of one capture: the key log, and the master
 * secrets of TLS 1.2 sessions decrypted so far by session ID and by ticket, so that a later
 * connection resuming one of them (RFC 5246 §7.3, RFC 5077) is decrypted with no key log line
 * of its own.
 */
export class TlsContext {
  private readonly sessions = new Map<string, Buffer>();
  private readonly tickets = new Map<string, Buffer>();

  constructor(readonly keyLog: KeyLog = new KeyLog()) {}

  rememberSession(sessionId: Uint8Array, master: Buffer): void {
    remember(this.sessions, sessionId, master);
  }

  rememberTicket(ticket: Uint8Array, master: Buffer): void {
    remember(this.tickets, ticket, master);
  }

  sessionMaster(sessionId: Uint8Array): Buffer | undefined {
    return sessionId.length === 0 ? undefined : (this.sessions.get(key(sessionId)) ?? this.keyLog.masterBySessionId(sessionId));
  }

  ticketMaster(ticket: Uint8Array): Buffer | undefined {
    return this.tickets.get(key(ticket));
  }
}
