/**
 * wsdump as a library: the dissection engine and its building blocks. Decoders are pure
 * functions and classes over Uint8Arrays; only openCapture/dissect read input.
 */

// Alerts: every check, with its stable code, severity and RFC section.
export * from './alerts.js';

// RFC 6455 / RFC 7692 protocol core (no I/O).
export * from './websocket/constants.js';
export * from './websocket/types.js';
export { applyMask } from './websocket/mask.js';
export { FrameParser, type FrameParserOptions } from './websocket/frame-parser.js';
export { encodeFrame, type FrameSpec } from './websocket/frame-encoder.js';
export { MessageAssembler, type MessageAssemblerOptions } from './websocket/message-assembler.js';
export { WebSocketSession, type SessionEvent, type WebSocketSessionOptions } from './websocket/session.js';
export { decodeClose } from './websocket/close.js';
export { checkFrameHeader, MaskingKeyTracker } from './websocket/rules.js';
export { permessageDeflate, type DeflateDirectionParams } from './websocket/permessage-deflate.js';
export { RSV1, RSV2, RSV3, type DecodedPayload, type Extension, type ExtensionDecoder } from './websocket/extension.js';
export { isValidUtf8 } from './websocket/utf8.js';

// The HTTP/1.1 upgrade handshake (no I/O).
export { computeAccept, isValidKey } from './http/accept.js';
export { HttpHeadParser, headerValues, tokenList, type HeadResult, type HttpHeader, type HttpRequest, type HttpResponse } from './http/http-parser.js';
export { parseExtensions, validateDeflateOffer, validateDeflateResponse, type DeflateParams, type ExtensionOffer } from './http/extensions.js';
export { checkRequest, checkResponse, type HandshakeVerdict, type RequestCheck } from './http/handshake.js';
export { HttpConnection, type HttpConnectionOptions, type HttpEvent, type HttpExchange, type HeldPiece } from './http/http-connection.js';
export { contentLength, requestBody, responseBody, type BodyFraming, type BodyKind } from './http/body-framing.js';

// Packets and TCP (no I/O).
export { PacketDecoder, decodePacket } from './net/decode.js';
export { TcpReassembler, type FlowEvent } from './net/tcp-reassembler.js';

// Captures.
export * from './capture/index.js';

// TLS with a key log (the engine loads it on first use; importing it here loads it at once).
export { KeyLog, TlsContext, TlsDissector, TlsSession, RecordDecryptor, cipherSuite, hkdfExpandLabel, prf12, type KeyLogStats, type TlsOutput } from './tls/index.js';

// The engine and its event model.
export type * from './engine/events.js';
export { ConnectionDissector, type ConnectionDissectorOptions } from './engine/connection-dissector.js';
export { CaptureDissector, loadTlsLayer, type CaptureDissectorOptions } from './engine/capture-dissector.js';
export { dissect } from './engine/dissect.js';

// Views.
export { eventToJson } from './render/json.js';
export { eventToNdjson, NdjsonEncoder } from './render/ndjson-encoder.js';
export { TableRenderer, type TableOptions } from './render/table.js';
export { escapeText, hexPreview } from './render/escape.js';

// wsproxy: the relay with its passive tap, usable in-process.
export { startProxy, ProxyError, type ProxyOptions, type RunningProxy } from './proxy/proxy.js';
export { parseHostPort, parseTarget, formatHostPort, AddressError, type HostPort, type ProxyTarget } from './proxy/address.js';
export { BoundedOutput, type BoundedOutputOptions } from './proxy/bounded-output.js';
export { ConnectionTap, CaptureRecording, type ConnectionTapOptions, type CaptureRecordingOptions } from './proxy/tap.js';
