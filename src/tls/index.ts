/**
 * The TLS layer (RFC 8446, RFC 5246): loaded on first use, when a capture has a connection
 * that looks like TLS (src/engine/capture-dissector.ts).
 */
export { TlsContext } from './context.js';
export { hkdfExpandLabel, nextTrafficSecret, prf12, RecordDecryptor, tls12Keys, tls13Keys, type DecryptedRecord, type DirectionKeys, type RecordLayout, type WireRecord } from './crypto.js';
export { TlsDissector } from './dissector.js';
export { HELLO_RETRY_RANDOM, HandshakeReader, HandshakeType, parseClientHello, parseEncryptedExtensions, parseServerHello, type ClientHello, type ServerHello } from './handshake.js';
export { KEYLOG_LABELS, KeyLog, type KeyLogLabel, type KeyLogStats } from './keylog.js';
export { ContentType, RecordReader, type ReadRecord } from './records.js';
export { alertName, TlsSession, type TlsOutput, type TlsPlaintext } from './session.js';
export { cipherSuite, versionName, type CipherSuite, type RecordProtection } from './suites.js';
