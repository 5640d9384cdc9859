/**
 * Alerts: problems in the traffic are data, not exceptions.
 *
 * Every check the dissector makes has a stable code listed here with its severity and the
 * RFC section it implements. Decoders create alerts with `makeAlert(code, message, extra)`;
 * severity and section always come from this catalogue so they cannot drift apart.
 * The catalogue is rendered into docs/alerts.md (see test/alerts.test.ts).
 */

/** error: the peer broke a MUST; warning: legal but suspicious or unfinished; info: worth knowing. */
export type Severity = 'error' | 'warning' | 'info';

/** Which peer sent the bytes an alert is about. */
export type Direction = 'client' | 'server';

/**
 * `pair[direction]` as two named loads: V8 makes a keyed load that sees both names a
 * megamorphic lookup, and the decoder made several per packet.
 */
export function sideOf<T>(pair: Readonly<Record<Direction, T>>, direction: Direction): T {
  return direction === 'client' ? pair.client : pair.server;
}

interface CatalogueEntry {
  readonly severity: Severity;
  /** e.g. "RFC 6455 §5.1" */
  readonly section: string;
  /** One line: what the rule is, for docs and the explain view. */
  readonly rule: string;
}

const RFC6455 = 'RFC 6455';
const RFC7692 = 'RFC 7692';
const EIO4 = 'Engine.IO v4';
const SIO5 = 'Socket.IO v5';
const JSONRPC = 'JSON-RPC 2.0';
const SIGNALR = 'SignalR HubProtocol';
const GQLWS = 'GraphQL over WebSocket';
const MQTT = 'MQTT 3.1.1 and 5.0';
const STOMP = 'STOMP 1.2';

export const ALERT_CATALOGUE = {
  // --- Opening handshake: request (RFC 6455 §4.1, §4.2.1) -------------------------------
  'handshake.malformed': { severity: 'error', section: 'RFC 9112 §2-§5', rule: 'The HTTP request or response is not valid HTTP/1.1 syntax.' },
  'handshake.obs-fold': { severity: 'error', section: 'RFC 9112 §5.2', rule: 'A header value is continued on the next line (obsolete line folding); it must be rejected.' },
  'handshake.header-too-large': { severity: 'error', section: 'RFC 9112 §2.3', rule: 'The header block exceeds the configured limit; the rest of the stream is not parsed as HTTP.' },
  'handshake.method': { severity: 'error', section: `${RFC6455} §4.1`, rule: 'The opening handshake must be a GET request.' },
  'handshake.http-version': { severity: 'error', section: `${RFC6455} §4.1`, rule: 'The opening handshake must use HTTP/1.1 or later.' },
  'handshake.host-missing': { severity: 'error', section: `${RFC6455} §4.1`, rule: 'The request must carry exactly one Host header.' },
  'handshake.upgrade-missing': { severity: 'error', section: `${RFC6455} §4.1`, rule: 'The Upgrade header must contain the token "websocket" (case-insensitive).' },
  'handshake.connection-missing': { severity: 'error', section: `${RFC6455} §4.1`, rule: 'The Connection header must contain the token "Upgrade" (case-insensitive, comma list).' },
  'handshake.key-missing': { severity: 'error', section: `${RFC6455} §4.1`, rule: 'The request must carry a Sec-WebSocket-Key header.' },
  'handshake.key-repeated': { severity: 'error', section: `${RFC6455} §11.3.1`, rule: 'Sec-WebSocket-Key must not appear more than once.' },
  'handshake.key-invalid': { severity: 'error', section: `${RFC6455} §4.1`, rule: 'Sec-WebSocket-Key must be the base64 encoding of exactly 16 bytes.' },
  'handshake.version-missing': { severity: 'error', section: `${RFC6455} §4.1`, rule: 'The request must carry Sec-WebSocket-Version.' },
  'handshake.version-unsupported': { severity: 'error', section: `${RFC6455} §4.1`, rule: 'Sec-WebSocket-Version must be 13.' },
  // --- Opening handshake: response (RFC 6455 §4.1 client checks, §4.2.2) ---------------
  'handshake.refused': { severity: 'warning', section: `${RFC6455} §4.1`, rule: 'The server answered with a status other than 101: the connection is not upgraded.' },
  'handshake.response-upgrade-missing': { severity: 'error', section: `${RFC6455} §4.1`, rule: 'The 101 response must carry Upgrade: websocket.' },
  'handshake.response-connection-missing': { severity: 'error', section: `${RFC6455} §4.1`, rule: 'The 101 response must carry Connection: Upgrade.' },
  'handshake.accept-missing': { severity: 'error', section: `${RFC6455} §4.1`, rule: 'The 101 response must carry Sec-WebSocket-Accept.' },
  'handshake.accept-repeated': { severity: 'error', section: `${RFC6455} §11.3.3`, rule: 'Sec-WebSocket-Accept must not appear more than once.' },
  'handshake.accept-mismatch': { severity: 'error', section: `${RFC6455} §4.2.2`, rule: 'Sec-WebSocket-Accept must be base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")).' },
  'handshake.protocol-not-offered': { severity: 'error', section: `${RFC6455} §4.1`, rule: 'The server may only select a subprotocol the client offered.' },
  'handshake.protocol-multiple': { severity: 'error', section: `${RFC6455} §4.2.2`, rule: 'The server must select at most one subprotocol.' },
  'handshake.extension-not-offered': { severity: 'error', section: `${RFC6455} §9.1`, rule: 'The server may only accept extensions the client offered.' },
  'handshake.extension-invalid': { severity: 'error', section: `${RFC7692} §7`, rule: 'An extension offer or answer carries parameters its specification forbids.' },
  'handshake.extension-legacy': { severity: 'info', section: `${RFC7692} §1`, rule: 'The pre-standard x-webkit-deflate-frame extension was offered.' },
  'handshake.early-data': { severity: 'error', section: `${RFC6455} §4.1`, rule: 'A peer sent data before the opening handshake completed.' },
  'handshake.early-data-dropped': { severity: 'warning', section: `${RFC6455} §4.1`, rule: 'More client data arrived before the 101 than is held (1 MiB); the rest was not kept and is decoded as bytes missing.' },
  'handshake.not-seen': { severity: 'info', section: `${RFC6455} §4`, rule: 'The handshake is not in the capture: decoding mid-stream, negotiated extensions are unknown.' },
  // --- HTTP/1.1 messages on the connection (RFC 9112 §6-§9) -------------------------------
  'http.content-length-invalid': { severity: 'error', section: 'RFC 9112 §6.3', rule: 'Content-Length must be one decimal number (repeated values must agree); otherwise where the body ends cannot be known.' },
  'http.length-and-chunked': { severity: 'error', section: 'RFC 9112 §6.1', rule: 'A message must not carry both Transfer-Encoding and Content-Length; Transfer-Encoding decides (a request smuggling risk).' },
  'http.transfer-coding-invalid': { severity: 'error', section: 'RFC 9112 §6.3', rule: 'A request with Transfer-Encoding must end it with chunked; otherwise its body length cannot be determined.' },
  'http.chunk-invalid': { severity: 'error', section: 'RFC 9112 §7.1', rule: 'A chunk size line, chunk terminator or trailer section is malformed: the body framing is lost.' },
  'http.body-incomplete': { severity: 'warning', section: 'RFC 9112 §8', rule: 'The stream ended, or bytes were missing, before the end of a message body.' },
  'http.response-without-request': { severity: 'warning', section: 'RFC 9112 §9.3', rule: 'A response arrived when no request was waiting for one.' },
  'sse.utf8-invalid': { severity: 'warning', section: 'HTML §9.2.5', rule: 'An event stream must be UTF-8; invalid bytes are read as U+FFFD.' },
  // --- Framing (RFC 6455 §5) -------------------------------------------------------------
  'frame.rsv-unnegotiated': { severity: 'error', section: `${RFC6455} §5.2`, rule: 'RSV1-3 must be 0 unless a negotiated extension defines them.' },
  'frame.opcode-reserved': { severity: 'error', section: `${RFC6455} §5.2`, rule: 'Opcodes 0x3-0x7 and 0xB-0xF are reserved.' },
  'frame.client-unmasked': { severity: 'error', section: `${RFC6455} §5.1`, rule: 'A client must mask every frame it sends.' },
  'frame.server-masked': { severity: 'error', section: `${RFC6455} §5.1`, rule: 'A server must not mask the frames it sends.' },
  'frame.control-too-long': { severity: 'error', section: `${RFC6455} §5.5`, rule: 'Control frames carry at most 125 bytes of payload.' },
  'frame.control-fragmented': { severity: 'error', section: `${RFC6455} §5.5`, rule: 'Control frames must not be fragmented (FIN must be set).' },
  'frame.length-not-minimal': { severity: 'error', section: `${RFC6455} §5.2`, rule: 'The payload length must use the minimal encoding (7-bit up to 125, 16-bit up to 65535).' },
  'frame.length-msb-set': { severity: 'error', section: `${RFC6455} §5.2`, rule: 'The most significant bit of a 64-bit payload length must be 0.' },
  'frame.length-too-large': { severity: 'error', section: `${RFC6455} §5.2`, rule: 'The declared payload length is beyond what can be followed; framing of this direction is lost.' },
  'frame.payload-truncated': { severity: 'info', section: `${RFC6455} §10.4`, rule: 'Only the first bytes of the payload are kept: it is larger than the configured limit, or the rest was not captured.' },
  'frame.incomplete': { severity: 'warning', section: `${RFC6455} §5.2`, rule: 'The stream ended inside a frame.' },
  'frame.continuation-unexpected': { severity: 'error', section: `${RFC6455} §5.4`, rule: 'A continuation frame arrived with no fragmented message open.' },
  'frame.message-interleaved': { severity: 'error', section: `${RFC6455} §5.4`, rule: 'A new text or binary frame arrived while a fragmented message was still open.' },
  'frame.resync': { severity: 'warning', section: `${RFC6455} §5.2`, rule: 'Framing was lost and picked up again at the next plausible frame header.' },
  'frame.after-close': { severity: 'error', section: `${RFC6455} §5.5.1`, rule: 'An endpoint must not send data frames after its Close frame.' },
  'message.utf8-invalid': { severity: 'error', section: `${RFC6455} §8.1`, rule: 'A text message must be valid UTF-8 (checked on the whole reassembled message).' },
  'message.too-large': { severity: 'info', section: `${RFC6455} §10.4`, rule: 'The message is larger than the configured reassembly limit: its content is truncated.' },
  'close.payload-one-byte': { severity: 'error', section: `${RFC6455} §5.5.1`, rule: 'A Close payload is empty or starts with a 2-byte code; 1 byte is invalid.' },
  'close.code-invalid': { severity: 'error', section: `${RFC6455} §7.4`, rule: 'Close codes below 1000, 1004-1006, 1015, 1016-2999 and 5000+ must not appear on the wire.' },
  'close.reason-utf8-invalid': { severity: 'error', section: `${RFC6455} §5.5.1`, rule: 'A close reason must be valid UTF-8.' },
  'close.unanswered': { severity: 'warning', section: `${RFC6455} §5.5.1`, rule: 'A Close was never answered by a Close from the other side.' },
  'close.missing': { severity: 'warning', section: `${RFC6455} §7.1.5`, rule: 'TCP ended with no Close frame either way: the applications see 1006 Abnormal Closure.' },
  'close.client-tcp-first': { severity: 'info', section: `${RFC6455} §7.1.1`, rule: 'After the closing handshake began, the client closed TCP first; the server should, so that it holds TIME_WAIT.' },
  'heartbeat.late': { severity: 'warning', section: 'the protocol\'s heartbeat: Engine.IO v4 "Heartbeat", STOMP 1.2 "Heart-beating", MQTT 3.1.1 §3.1.2.10', rule: 'A protocol heartbeat, or its answer, came later than its protocol negotiated (or never, while the connection lived on): the peer may already have given up on the connection.' },
  'ping.unanswered': { severity: 'warning', section: `${RFC6455} §5.5.2`, rule: 'A Ping was never answered by a Pong.' },
  'pong.mismatch': { severity: 'warning', section: `${RFC6455} §5.5.3`, rule: 'A Pong answering a Ping must echo its payload.' },
  'mask.key-zero': { severity: 'warning', section: `${RFC6455} §10.3`, rule: 'A masking key of 00000000 masks nothing: keys must be unpredictable.' },
  'mask.key-repeated': { severity: 'warning', section: `${RFC6455} §5.3`, rule: 'A masking key was reused: each frame needs a fresh unpredictable key.' },
  // --- permessage-deflate (RFC 7692) -------------------------------------------------------
  'deflate.rsv1-control': { severity: 'error', section: `${RFC7692} §6.1`, rule: 'RSV1 must not be set on control frames.' },
  'deflate.rsv1-continuation': { severity: 'error', section: `${RFC7692} §6.1`, rule: 'RSV1 is set only on the first frame of a compressed message.' },
  'deflate.inflate-failed': { severity: 'error', section: `${RFC7692} §7.2.2`, rule: 'The compressed message could not be inflated.' },
  'deflate.too-large': { severity: 'warning', section: `${RFC7692} §8.1`, rule: 'The inflated message exceeds the configured limit (possible decompression bomb).' },
  'deflate.context-unknown': { severity: 'warning', section: `${RFC7692} §7.2.3.2`, rule: 'The compression context from before the capture is unknown: messages may not inflate.' },
  'deflate.bombs': { severity: 'warning', section: `${RFC7692} §8.1`, rule: 'Several messages of one direction inflated beyond the limit: its later compressed messages are not inflated.' },
  // --- TLS (RFC 8446, RFC 5246), read with a key log -----------------------------------------------
  'tls.alert': { severity: 'warning', section: 'RFC 8446 §6', rule: 'A TLS alert other than close_notify: the sender reports an error, and a fatal one ends the connection.' },
  'tls.close-notify': { severity: 'info', section: 'RFC 8446 §6.1', rule: 'A close_notify alert: the sender will send nothing more on this connection.' },
  'tls.data-after-close': { severity: 'error', section: 'RFC 8446 §6.1', rule: 'A peer must not send data after its own close_notify; the receiver must ignore it.' },
  'tls.decrypt-failed': { severity: 'warning', section: 'RFC 8446 §5.2', rule: "A record does not authenticate with the key log's secrets: a key log of another session, or bytes damaged in the capture." },
  'tls.record-malformed': { severity: 'error', section: 'RFC 8446 §5.1', rule: 'Bytes where a TLS record header must be are not one (content type, version or length impossible); the rest of that stream is not read.' },
  'tls.handshake-malformed': { severity: 'error', section: 'RFC 8446 §4', rule: 'A handshake message does not parse (a vector overruns its message).' },
  'tls.early-data-skipped': { severity: 'info', section: 'RFC 8446 §4.2.10', rule: '0-RTT data the server rejected, or that the key log has no early secret for, is not shown.' },
  'tls.resync': { severity: 'warning', section: 'RFC 8446 §5.3', rule: 'Records were lost with bytes missing from the capture; decryption picked up again at the next record that authenticates.' },
  // --- Below WebSocket ------------------------------------------------------------------------
  'tcp.gap': { severity: 'warning', section: 'RFC 9293 §3.4', rule: 'Bytes are missing from the TCP stream (not captured).' },
  'tcp.retransmission-conflict': { severity: 'warning', section: 'RFC 9293 §3.4', rule: 'A retransmitted segment carries different bytes than the first copy (first copy kept).' },
  'tcp.out-of-order-overflow': { severity: 'warning', section: 'RFC 9293 §3.4', rule: 'Too many out-of-order bytes were queued; the queue was flushed as a gap.' },
  'capture.snaplen-truncated': { severity: 'warning', section: 'pcap §4', rule: 'A packet was cut by the capture snap length: its missing bytes are a gap.' },
  'capture.link-unsupported': { severity: 'info', section: 'pcap LINKTYPE', rule: 'Packets of an unsupported link type are skipped.' },
  'capture.malformed-packet': { severity: 'warning', section: 'pcap', rule: 'A packet could not be decoded down to TCP and was skipped.' },
  // --- Application layer (src/app; docs/json.md "app") --------------------------------------
  'app.decoder-stopped': { severity: 'warning', section: `${RFC6455} §1.9`, rule: 'The application decoder chosen for the connection could not follow it and stopped: the rest is shown as plain messages.' },
  'engineio.packet-invalid': { severity: 'error', section: `${EIO4} "Protocol"`, rule: 'An Engine.IO packet starts with its type, a digit 0-6 (open, close, ping, pong, message, upgrade, noop).' },
  'engineio.payload-invalid': { severity: 'error', section: `${EIO4} "Packet encoding"`, rule: 'A long-polling body is Engine.IO packets separated by 0x1E (v4), or each led by its length and a colon (v3).' },
  'engineio.payload-skipped': { severity: 'warning', section: `${EIO4} "Packet encoding"`, rule: 'A long-polling body cut by a limit or the capture, not decodable, or in the binary v3 encoding: its packets are not shown.' },
  'engineio.open-invalid': { severity: 'error', section: `${EIO4} "Handshake"`, rule: 'The open packet carries a JSON object with sid, upgrades, pingInterval and pingTimeout.' },
  'socketio.packet-invalid': { severity: 'error', section: `${SIO5} "Packet encoding"`, rule: 'A Socket.IO packet is a type 0-6, an attachment count for binary types, an optional namespace and ack id, then JSON.' },
  'socketio.payload-invalid': { severity: 'error', section: `${SIO5} "Sending and receiving data"`, rule: 'An EVENT carries a non-empty array led by the event name, an ACK an array, a CONNECT an object if anything.' },
  'socketio.attachments-missing': { severity: 'warning', section: `${SIO5} "Packet encoding"`, rule: 'A binary event or ack is followed by as many binary packets as it announces, before any other packet.' },
  'socketio.binary-unexpected': { severity: 'error', section: `${SIO5} "Packet encoding"`, rule: 'A binary packet arrived while no binary event or ack was waiting for attachments.' },
  'socketio.ack-unknown': { severity: 'warning', section: `${SIO5} "Acknowledgement"`, rule: 'An ACK answers an id the other side did not ask to be acknowledged (in this capture).' },
  'socketio.ack-reused': { severity: 'warning', section: `${SIO5} "Acknowledgement"`, rule: 'An ack id was used again while the acknowledgement of its first use was still awaited.' },
  'jsonrpc.json-invalid': { severity: 'error', section: `${JSONRPC} §4`, rule: 'A message on a JSON-RPC connection is JSON text.' },
  'jsonrpc.invalid': { severity: 'error', section: `${JSONRPC} §4, §5`, rule: 'A JSON-RPC message is a Request or Response object with "jsonrpc": "2.0", or a non-empty array of them (§6).' },
  'jsonrpc.response-unknown': { severity: 'warning', section: `${JSONRPC} §5`, rule: 'A response carries an id that no request asked for (in this capture).' },
  'jsonrpc.id-reused': { severity: 'warning', section: `${JSONRPC} §4`, rule: 'A request id was used again while the request first sent with it was still unanswered.' },
  'signalr.handshake-invalid': { severity: 'error', section: `${SIGNALR} "Overview"`, rule: 'Each side\'s first message is its handshake: a JSON object ended by 0x1E, the request with "protocol" and "version".' },
  'signalr.handshake-error': { severity: 'warning', section: `${SIGNALR} "Overview"`, rule: 'The server refused the handshake (its response carries an error) and closes the connection.' },
  'signalr.separator-missing': { severity: 'error', section: `${SIGNALR} "JSON Encoding"`, rule: 'Every JSON message is terminated by the record separator 0x1E.' },
  'signalr.json-invalid': { severity: 'error', section: `${SIGNALR} "JSON Encoding"`, rule: 'Each record of the JSON protocol is a JSON object.' },
  'signalr.msgpack-invalid': { severity: 'error', section: `${SIGNALR} "Binary encoding"`, rule: 'Each record of the MessagePack protocol is a VarInt length and exactly that many bytes of one MessagePack array.' },
  'signalr.message-invalid': { severity: 'error', section: `${SIGNALR} "Errors"`, rule: 'A hub message has a type 1-9 and the fields of its type, and a completion carries a result or an error, not both.' },
  'signalr.invocation-reused': { severity: 'error', section: `${SIGNALR} "Errors"`, rule: 'An invocation id is not used again by the same endpoint while its invocation is open.' },
  'signalr.invocation-unknown': { severity: 'warning', section: `${SIGNALR} "Errors"`, rule: 'A stream item or completion belongs to an open invocation of the other side, or to an upload stream of the sender (in this capture).' },
  'graphqlws.json-invalid': { severity: 'error', section: `${GQLWS} "Communication"`, rule: 'Every message is JSON text.' },
  'graphqlws.message-invalid': { severity: 'error', section: `${GQLWS} "Invalid message"`, rule: 'A message is an object with a known "type", sent by the side that may send it, with the "id" and payload its type needs (else the socket closes with 4400).' },
  'graphqlws.init-repeated': { severity: 'error', section: `${GQLWS} "ConnectionInit"`, rule: 'The client sends connection_init once (a second one closes the socket with 4429).' },
  'graphqlws.before-ack': { severity: 'error', section: `${GQLWS} "Subscribe"`, rule: 'Operations are sent only after the server\'s connection_ack (else the socket closes with 4401).' },
  'graphqlws.id-reused': { severity: 'error', section: `${GQLWS} "Subscribe"`, rule: 'A subscribe uses an id no active operation has (else the socket closes with 4409).' },
  'graphqlws.id-unknown': { severity: 'warning', section: `${GQLWS} "Next"`, rule: 'A next, error or complete from the server answers an operation the client started (in this capture).' },
  // --- MQTT over WebSocket (src/app/mqtt.ts) ---------------------------------------------------
  'mqtt.text-frame': { severity: 'error', section: `${MQTT} §6 [MQTT-6.0.0-1]`, rule: 'MQTT control packets travel in binary WebSocket messages; a text message is a protocol violation.' },
  'mqtt.remaining-length-invalid': { severity: 'error', section: `${MQTT} §2.2.3`, rule: 'The remaining length is one to four bytes of seven bits; a fifth byte makes the packets after it impossible to find.' },
  'mqtt.packet-invalid': { severity: 'error', section: `${MQTT} §2, §3`, rule: 'A control packet is of a defined type, sent by the side that may send it, with its fields within its remaining length and its strings valid UTF-8.' },
  'mqtt.flags-invalid': { severity: 'error', section: `${MQTT} §2.2.2 [MQTT-2.2.2-2]`, rule: 'The fixed header flags are those of the packet type (0010 for PUBREL, SUBSCRIBE, UNSUBSCRIBE); a PUBLISH never has QoS 3.' },
  'mqtt.connect-first': { severity: 'error', section: `${MQTT} §3.1 [MQTT-3.1.0-1]`, rule: 'The first packet a client sends is CONNECT.' },
  'mqtt.packet-id-unknown': { severity: 'warning', section: `${MQTT} §2.3.1, §4.3`, rule: 'An acknowledgement carries a packet identifier no request from the other side is waiting on (in this capture).' },
  'mqtt.packet-id-reused': { severity: 'warning', section: `${MQTT} §2.3.1 [MQTT-2.3.1-2]`, rule: 'A packet identifier is used again while its first use is still unacknowledged (a PUBLISH resent with DUP excepted).' },
  'mqtt.packet-incomplete': { severity: 'warning', section: `${MQTT} §2.2.3`, rule: 'The connection ended inside a control packet.' },
  // --- STOMP over WebSocket (src/app/stomp.ts) --------------------------------------------------
  'stomp.frame-invalid': { severity: 'error', section: `${STOMP} "STOMP Frames"`, rule: 'A frame is a command, header lines name:value, a blank line, and a body followed by NUL (after content-length octets when given).' },
  'stomp.command-unknown': { severity: 'error', section: `${STOMP} "Client Frames", "Server Frames"`, rule: 'A frame\'s command is one its sender may send.' },
  'stomp.header-missing': { severity: 'error', section: `${STOMP} "Frames and Headers"`, rule: 'Each frame carries the headers its command requires (SEND a destination, SUBSCRIBE a destination and an id, MESSAGE a subscription …).' },
  'stomp.header-invalid': { severity: 'error', section: `${STOMP} "Standard Headers", "Heart-beating"`, rule: 'content-length is a number of octets; heart-beat is two numbers of milliseconds.' },
  'stomp.header-escape-invalid': { severity: 'error', section: `${STOMP} "Value Encoding"`, rule: 'A header escapes only \\r, \\n, \\c and \\\\; any other escape is a fatal protocol error.' },
  'stomp.receipt-unknown': { severity: 'warning', section: `${STOMP} "RECEIPT"`, rule: 'A RECEIPT answers a receipt header the client sent (in this capture).' },
  'stomp.subscription-unknown': { severity: 'warning', section: `${STOMP} "MESSAGE"`, rule: 'A MESSAGE names a subscription the client opened with SUBSCRIBE (in this capture).' },
  'stomp.frame-incomplete': { severity: 'warning', section: `${STOMP} "STOMP Frames"`, rule: 'The connection ended inside a frame.' },
} as const satisfies Record<string, CatalogueEntry>;

export type AlertCode = keyof typeof ALERT_CATALOGUE;

export interface Alert {
  readonly code: AlertCode;
  readonly severity: Severity;
  readonly section: string;
  /** Specific, human-readable: says what was seen and, where it helps, what was expected. */
  readonly message: string;
  /** Who sent the offending bytes, when known. */
  direction?: Direction;
  /** Stream offset of the frame (or byte) concerned, in the sender's stream. */
  offset?: number;
  /** Capture packet number where the offending bytes start, when known. */
  packet?: number;
  /** Extra machine-readable facts (expected/received Accept, close code …). */
  detail?: Readonly<Record<string, string | number | boolean | null>>;
}

export interface AlertExtra {
  direction?: Direction;
  offset?: number;
  packet?: number;
  detail?: Record<string, string | number | boolean | null>;
}

export function makeAlert(code: AlertCode, message: string, extra: AlertExtra = {}): Alert {
  const entry = ALERT_CATALOGUE[code];
  const alert: Alert = { code, severity: entry.severity, section: entry.section, message };
  if (extra.direction !== undefined) alert.direction = extra.direction;
  if (extra.offset !== undefined) alert.offset = extra.offset;
  if (extra.packet !== undefined) alert.packet = extra.packet;
  if (extra.detail !== undefined) alert.detail = extra.detail;
  return alert;
}

/** The catalogue as a Markdown table (docs/alerts.md is this output; a test keeps them equal). */
export function renderAlertCatalogue(): string {
  const lines = [
    '# Alert codes',
    '',
    'Every check wsdump and wsproxy make, with its stable code, severity and the section it implements.',
    'Codes never change meaning; new checks get new codes. `error`: a MUST was broken.',
    '`warning`: legal but suspicious, or unfinished (captures end). `info`: worth knowing.',
    '',
    '<!-- generated from src/alerts.ts: UPDATE_DOCS=1 npx vitest run test/alerts.test.ts -->',
    '',
    '| code | severity | section | rule |',
    '|---|---|---|---|',
  ];
  for (const [code, entry] of Object.entries(ALERT_CATALOGUE)) {
    lines.push(`| \`${code}\` | ${entry.severity} | ${entry.section} | ${entry.rule} |`);
  }
  return lines.join('\n') + '\n';
}
