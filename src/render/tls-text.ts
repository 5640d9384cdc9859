/**
 * How the human views say what the TLS layer found: a connection's headline in the table, its
 * line in --summary, and the two explain blocks (the keys, and the record around a frame).
 * Everything from the traffic (SNI, ALPN, reasons) is escaped; no secret is ever shown, only
 * the names of key log lines.
 */
import type { TlsEvent, TlsRecordEvent } from '../engine/events.js';
import { escapeText, hexPreview, hexString } from './escape.js';
import type { palette } from './table.js';

type Colors = ReturnType<typeof palette>;

/** "TLS 1.3 TLS_AES_128_GCM_SHA256, SNI example.org, ALPN http/1.1" */
export function tlsDescription(e: TlsEvent): string {
  const parts = [[e.version ?? 'TLS', e.cipher].filter(Boolean).join(' ')];
  if (e.sni !== null) parts.push(`SNI ${escapeText(e.sni, 80)}`);
  if (e.alpn !== null) parts.push(`ALPN ${escapeText(e.alpn, 40)}`);
  else if (e.offeredAlpn.length > 0) parts.push(`ALPN offered ${escapeText(e.offeredAlpn.join(', '), 60)}`);
  if (e.resumed) parts.push('resumed');
  if (e.helloRetry) parts.push('after a HelloRetryRequest');
  if (e.earlyData === 'accepted' || e.earlyData === 'rejected') parts.push(`0-RTT ${e.earlyData}`);
  return parts.join(', ');
}

/** The reason is about keys, which --keylog gives. */
export function keylogWouldHelp(e: TlsEvent): boolean {
  return !e.decrypted && e.reason !== null && /key log/.test(e.reason) && !/another session/.test(e.reason);
}

export const KEYLOG_HINT = 'wsdump --keylog FILE with the secrets the client or server logged (SSLKEYLOGFILE, node --tls-keylog) would decrypt it';

/** The table's line for a TLS connection, after which its HTTP handshake (if decrypted) follows. */
export function tlsHeadline(e: TlsEvent, where: string, c: Colors): string {
  const verdict = e.decrypted ? c.ok('✓ decrypted with the key log') : `${c.warning('▲ not decrypted:')} ${escapeText(e.reason ?? '', 200)}`;
  return `${c.heading(`#${e.conn}`)} ${where}  ${c.heading(tlsDescription(e))}\n   ${verdict}\n`;
}

/** What --summary says after the kind: " over TLS 1.3" or "TLS 1.3 …: not decrypted (why)". */
export function tlsSummaryNote(e: TlsEvent): string {
  return e.decrypted ? ` over ${e.version ?? 'TLS'}` : ` ${tlsDescription(e)}: not decrypted (${escapeText(e.reason ?? '', 120)})`;
}

const CONTENT_TYPES: Readonly<Record<number, string>> = { 20: 'change_cipher_spec', 21: 'alert', 22: 'handshake', 23: 'application_data' };

/** Key and hash lengths of a suite, from its IANA name (the explain view shows the derivation). */
function lengths(cipher: string | null): { key: number; hash: number } {
  return { key: cipher !== null && /AES_256|CHACHA20/.test(cipher) ? 32 : 16, hash: cipher !== null && /SHA384$/.test(cipher) ? 48 : 32 };
}

/**
 * The explain view's block for a TLS connection: what was negotiated and which secret opens
 * which direction. `hint`: say that --keylog would help, when it would (the view says it once).
 */
export function explainTls(e: TlsEvent, title: string, c: Colors, hint: boolean): string[] {
  const lines = [title];
  const tls13 = e.version === 'TLS 1.3';
  lines.push(`   This connection is TLS (${tls13 ? 'RFC 8446' : e.version === 'TLS 1.2' ? 'RFC 5246' : 'RFC 8446, RFC 5246'}): its bytes are records, and what`);
  lines.push('   WebSocket sends travels encrypted inside them.');
  if (e.clientRandom !== null) {
    lines.push(`   ${c.client('ClientHello')}: random ${e.clientRandom.slice(0, 16)}… (a key log's name for it)`);
    lines.push(`     SNI ${escapeText(e.sni ?? 'none', 40)}; versions ${e.offeredVersions.join(', ') || '-'}`);
    lines.push(`     ALPN ${escapeText(e.offeredAlpn.join(', ') || 'none', 40)}; ${e.offeredCiphers.length} cipher suites`);
  }
  if (e.version !== null) {
    lines.push(`   ${c.server('ServerHello')}: ${e.version}${tls13 ? ' (supported_versions, §4.2.1)' : ''}, ${e.cipher ?? '?'}`);
    const notes = [e.helloRetry && 'after a HelloRetryRequest (§4.1.4)', e.resumed && 'resuming an earlier session', (e.earlyData === 'accepted' || e.earlyData === 'rejected') && `0-RTT data ${e.earlyData} (§4.2.10)`].filter(Boolean);
    if (notes.length > 0) lines.push(`     ${notes.join('; ')}`);
  }
  if (e.alpn !== null) lines.push(`   ALPN agreed: ${escapeText(e.alpn, 40)}${tls13 ? ' (in EncryptedExtensions: read decrypted)' : ''}`);
  if (!e.decrypted) {
    lines.push(`   ${c.warning('▲')} not decrypted: ${escapeText(e.reason ?? '', 200)}`);
    if (hint && keylogWouldHelp(e)) lines.push(`   ${c.info('ℹ')} ${KEYLOG_HINT}`);
    return lines;
  }
  lines.push('   Keys: from the key log lines for that random (secrets never shown)');
  const direction = (who: string, names: string[]) => {
    if (names.length === 0) return [`     ${who}  no secret in the key log`];
    return names.map((name, i) => (i === 0 ? `     ${who}  ${name}` : `                      then ${name}`));
  };
  lines.push(...direction(c.client('client → server'), e.keys.client));
  lines.push(...direction(c.server('server → client'), e.keys.server));
  const n = lengths(e.cipher);
  if (tls13) {
    lines.push(`     key = HKDF-Expand-Label(secret, "key", "", ${n.key})   (§7.3)`);
    lines.push('     iv  = HKDF-Expand-Label(secret, "iv", "", 12)');
    lines.push(`     after a KeyUpdate: HKDF-Expand-Label(secret, "traffic upd", "", ${n.hash})`);
    lines.push('     The handshake secrets seal EncryptedExtensions to Finished,');
    lines.push('     the application secrets everything after.');
  } else {
    lines.push('     a CLIENT_RANDOM line holds the session\'s 48-byte master secret;');
    lines.push('     key_block = PRF(master, "key expansion",');
    lines.push('                     server_random + client_random)   (RFC 5246 §6.3)');
    lines.push("     cut into each side's MAC key, write key and IV; each side's records");
    lines.push('     use them from its ChangeCipherSpec on.');
  }
  return lines;
}

/** The record that carried a frame, field by field (RFC 8446 §5.2, RFC 5246 §6.2.3). */
export function explainTlsRecord(e: TlsRecordEvent, title: string, c: Colors): string[] {
  const h = e.header;
  const length = (h[3]! << 8) | h[4]!;
  const tls13 = e.version === 'TLS 1.3';
  const cbc = e.protection === 'cbc';
  const lines = [title];
  lines.push(`   [${hexPreview(h, 5)}]  ${CONTENT_TYPES[h[0]!] ?? h[0]} (${h[0]}), version 0x${((h[1]! << 8) | h[2]!).toString(16).padStart(4, '0')}, length ${length}`);
  if (e.explicitNonce !== null) lines.push(`   [${hexPreview(e.explicitNonce, 8)}]  explicit nonce, in clear (RFC 5288 §3)`);
  if (cbc) lines.push(`   16 bytes of IV, then ${e.ciphertextLength} encrypted (content, HMAC, padding)`);
  else if (tls13) lines.push(`   ${e.ciphertextLength} bytes sealed: ${e.plaintextLength} of content, 1 of type, ${e.padding} of padding (§5.4)`);
  else lines.push(`   ${e.ciphertextLength} bytes sealed: the content`);
  lines.push(`   ${e.tag.length} bytes of ${cbc ? 'HMAC' : 'tag'}: ${hexPreview(e.tag, 8)}`);
  lines.push(`     ${cbc ? 'the MAC' : 'the AEAD tag'} proves the record intact and from the peer`);
  lines.push(`   key: ${e.secret}`);
  lines.push(`     ${e.cipher}, record ${e.seq} under it`);
  if (cbc) lines.push(`   IV ${hexString(e.nonce)}, ${e.padding} byte(s) of padding`);
  else lines.push(`   nonce ${hexString(e.nonce)} = ${e.explicitNonce === null ? `IV XOR ${e.seq} (§5.3)` : 'salt + explicit nonce'}`);
  lines.push(`   ${c.dim('└')} inside: ${e.plaintextLength} bytes of WebSocket stream; the frame below ends there`);
  return lines;
}
